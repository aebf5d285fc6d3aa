"""`python -m bulkmail local`: the command (its work is in bulkmail/local/session.py)."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from bulkmail.errors import CliError

HOST = "127.0.0.1"
OUTBOX_KEEPS = 1000  # the latest sent emails the session keeps for its outbox page


def local(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")
    ] = 0,
    log_file: Annotated[
        Path | None,
        typer.Option(help="Where the handler's JSON logs go (default: a file in the temp dir)."),
    ] = None,
) -> None:
    """Run the emulator with what the stack provisions and the sender polling, until Ctrl-C.

    Prints `NAME=value` lines (AWS_ENDPOINT_URL, AWS_REGION and the stack outputs it
    emulates: QueueUrl, DlqUrl, ConfigurationSetName, ...; and OutboxUrl, a page of the
    emails sent, newest first, each with its rendered HTML, text, headers and live unsubscribe
    link) and writes them where `--local` finds them, so every other command can work on it:
    `enqueue FILE --local ...`,
    `dlq show --local`, `dlq redrive --local`, `send-test --local`, `doctor --local`. The real
    handler runs as Lambda's event source mapping would (one invocation at a time, the demo's
    local settings); one line is printed as the queue drains. Nothing is kept after Ctrl-C.

    Example:

        python -m bulkmail local
    """
    from bulkmail.local import LocalSettings
    from bulkmail.local.scheduler import NOTICE
    from bulkmail.local.session import progress_line, running_session, wait_for_interrupt

    _check_port_free(port)
    _check_no_session()
    log_path = log_file or Path(tempfile.gettempdir()) / "bulkmail-local.log"
    settings = LocalSettings(log_file=log_path, sent_limit=OUTBOX_KEEPS)
    last, last_line = 0.0, ""

    def show(progress: Any, depth: Any) -> None:  # Progress, dict (loaded lazily)
        nonlocal last, last_line
        now, line = time.monotonic(), progress_line(progress, depth)
        idle = not any(depth.values())
        # At most a line a second, and one when the queue goes idle.
        if line != last_line and (idle or now - last >= 1.0):
            last, last_line = now, line
            typer.echo(line, err=True)

    with running_session(settings, host=HOST, port=port, on_progress=show) as session:
        for line in session.lines():
            typer.echo(line)
        typer.echo(settings.describe(), err=True)
        typer.echo(NOTICE, err=True)
        typer.echo(
            f"local: the sender is running; other commands take --local (state in "
            f"{session.state_file}); handler logs in {log_path}; Ctrl-C stops",
            err=True,
        )
        wait_for_interrupt(session)
    if session.error is not None:
        typer.echo(f"error: the sender stopped: {session.error!r}", err=True)
        raise typer.Exit(1)
    typer.echo("local: stopped (nothing is kept)", err=True)


def _check_no_session() -> None:
    """One `local` per state file: a second one would take the first one's file over, and
    whichever stopped first would leave the other's `--local` commands without it."""
    from bulkmail import target

    running = target.running_session()
    if running is not None:
        raise CliError(
            f"a local run is already running (pid {running.get('pid')}, "
            f"{running.get('endpoint_url')}): use it, stop it first (Ctrl-C), or start another "
            f"with {target.STATE_ENV}=/path/to/another.json and the same variable for its "
            "--local commands"
        )


def _check_port_free(port: int) -> None:
    """A port in use is one line (the emulator's server would otherwise wait for it forever)."""
    if port == 0:
        return
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise CliError(
                f"--port {port}: {error.strerror} on {HOST} (a `local` may already be running "
                "there); give another port, or 0 for a free one"
            ) from None
