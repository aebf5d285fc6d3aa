"""Where the commands find the sender's resources: explicit options, `--stack`, `--local`."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bulkmail import target
from bulkmail.cli import app
from bulkmail.errors import CliError


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "local.json"
    monkeypatch.setenv(target.STATE_ENV, str(path))
    saved = dict(os.environ)
    yield path
    os.environ.clear()
    os.environ.update(saved)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [
        ["dlq", "show"],
        ["dlq", "redrive", "--yes"],
        ["doctor"],
        ["template", "render", "welcome", "DATA"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_local_without_a_session_is_one_line_naming_the_command_to_start(
    state: Path, command: list[str]
) -> None:
    # Given no `python -m bulkmail local` is running (and a data file for `template render`)
    data = state.with_name("data.json")
    data.write_text('{"name": "Ann"}', encoding="utf-8")

    # When a command is given --local
    result = CliRunner().invoke(
        app, [str(data) if arg == "DATA" else arg for arg in command] + ["--local"]
    )

    # Then one line says so and how to start one, exit 2
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: --local: no local emulator is running: start one with `python -m bulkmail "
        f"local` (looked for {state})\n"
    )


def test_a_stale_state_file_is_refused_when_its_emulator_does_not_answer(state: Path) -> None:
    # Given a state file left by a session whose emulator is gone
    endpoint = f"http://127.0.0.1:{closed_port()}"
    state.write_text(
        json.dumps({"endpoint_url": endpoint, "region": "eu-west-1", "outputs": {}, "pid": 1})
    )

    # When it is used, then one error names the endpoint that does not answer
    with pytest.raises(CliError, match=f"the emulator at {endpoint} does not answer"):
        target.use_local()


def test_stack_and_local_together_are_refused(state: Path) -> None:
    with pytest.raises(CliError, match="give --stack or --local, not both"):
        target.resolve({target.QUEUE_URL: None}, stack="Bulk", local=True)


def test_an_explicit_url_wins_and_nothing_is_looked_up(state: Path) -> None:
    # When every output is given outright, then neither a stack nor a session is needed
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/send"
    assert target.resolve({target.QUEUE_URL: url}) == {target.QUEUE_URL: url}


def test_the_state_file_is_removed_only_by_the_session_that_wrote_it(state: Path) -> None:
    # Given a state file another session (another pid) wrote
    state.write_text(json.dumps({"pid": os.getpid() + 1, "outputs": {}}))

    # When this process removes its state, then the other's stays
    target.remove_local_state(state)
    assert state.exists()

    # And its own is removed
    target.write_local_state("http://127.0.0.1:1", "eu-west-1", {"QueueUrl": "x"})
    target.remove_local_state(state)
    assert not state.exists()


@pytest.fixture
def emulator_stand_in() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 standing in for the emulator: it records the paths asked
    and answers only a small request (the state dump would be 130 MB at 11,000 sends)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            small = self.path == target.LIVENESS_PATH
            self.send_response(200 if small else 404)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def test_liveness_is_a_small_request_never_the_state_dump(
    state: Path, emulator_stand_in: tuple[str, list[str]]
) -> None:
    # Given a running session's state file
    endpoint, asked = emulator_stand_in
    outputs = {"QueueUrl": f"{endpoint}/123456789012/q"}
    state.write_text(json.dumps({"endpoint_url": endpoint, "region": "eu-west-1",
                                 "outputs": outputs, "pid": 1}))  # fmt: skip

    # When a --local command finds it
    found = target.use_local()

    # Then it asked one small thing, not moto's state dump
    assert found == outputs
    assert asked == [target.LIVENESS_PATH]
    assert not any("data.json" in path for path in asked)


def test_a_second_local_is_refused_while_the_first_runs(
    state: Path, emulator_stand_in: tuple[str, list[str]]
) -> None:
    # Given a session already running under this state file
    endpoint, _asked = emulator_stand_in
    state.write_text(json.dumps({"endpoint_url": endpoint, "region": "eu-west-1",
                                 "outputs": {}, "pid": 4242}))  # fmt: skip

    # When another `local` starts
    result = CliRunner().invoke(app, ["local"])

    # Then one line says one is running and how to run another; the first's file is kept
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "a local run is already running (pid 4242" in result.stderr
    assert target.STATE_ENV in result.stderr
    assert json.loads(state.read_text())["pid"] == 4242
