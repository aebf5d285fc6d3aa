"""`python -m bulkmail local`'s own arguments (the session: tests/e2e/test_local_session.py)."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from bulkmail.cli import app


def test_a_port_in_use_is_one_line_not_a_hang() -> None:
    # Given a port something already listens on
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        # When `local` is asked for it
        result = CliRunner().invoke(app, ["local", "--port", str(port)])

    # Then one line says so and what to do, exit 2
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert f"error: --port {port}: " in result.stderr
    assert "give another port, or 0 for a free one" in result.stderr
