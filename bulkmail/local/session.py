"""`python -m bulkmail local`: the emulator, provisioned, with the sender running, until Ctrl-C.

The same `LocalRun` as the demo (emulator, what the stack provisions, the handler's
environment, a fresh sender), with its `Poller` in a background thread that never stops on a
drained queue: other commands (`enqueue --local`, `dlq show --local`, ...) put messages on the
queue and watch them go. The outputs are printed as `NAME=value` lines and written to the
state file that `--local` reads (`bulkmail.target`); the file is removed on the way out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulk_sender.names import Output
from bulkmail import queues, target
from bulkmail.local import emulator as emu
from bulkmail.local.outbox import Outbox, serve_outbox, suppression_lookup
from bulkmail.local.poller import Poller
from bulkmail.local.run import LocalRun
from bulkmail.local.scheduler import LocalScheduler
from bulkmail.local.settings import LocalSettings
from bulkmail.local.summary import Progress
from bulkmail.templates import TemplateStore

OUTBOX_URL = "OutboxUrl"  # printed and kept in the state file beside the stack's outputs


@dataclass
class Session:
    """A running local session: its endpoint, outputs, state file, and the sender's thread."""

    endpoint_url: str
    region: str
    outputs: dict[str, str]
    state_file: Path
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    error: BaseException | None = None

    def lines(self) -> list[str]:
        """`NAME=value`: the endpoint and region, then the stack outputs it emulates."""
        names = {target.ENDPOINT_URL: self.endpoint_url, "AWS_REGION": self.region}
        return [f"{name}={value}" for name, value in {**names, **self.outputs}.items()]


@contextmanager
def running_session(
    settings: LocalSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_progress: Callable[[Progress, dict[str, int]], None] | None = None,
) -> Iterator[Session]:
    """Start everything; yield once the sender is polling; stop it all on the way out."""
    emulator = emu.start_server(host, port)
    try:
        with LocalRun(settings, emulator=emulator) as local_run, ExitStack() as exit_stack:
            session = Session(
                endpoint_url=local_run.endpoint_url,
                region=settings.region,
                outputs=dict(local_run.urls),
                state_file=target.local_state_path(),
            )
            outbox_url = exit_stack.enter_context(
                serve_outbox(_outbox(settings, local_run.urls), host=host)
            )
            session.outputs[OUTBOX_URL] = outbox_url
            poller = Poller([], local_run.urls, settings, sqs=local_run.sqs)

            def report(progress: Progress) -> None:
                if on_progress:
                    on_progress(
                        progress,
                        queues.queue_depth(local_run.sqs, local_run.urls[Output.QUEUE_URL]),
                    )

            def serve() -> None:
                try:
                    poller.run(report, until=session.stop)
                except BaseException as error:  # reported by the main thread, which then stops
                    session.error = error
                    session.stop.set()

            session.thread = threading.Thread(target=serve, name="bulkmail-poller", daemon=True)
            session.thread.start()
            # moto's Scheduler never fires: the session fires due schedules itself.
            scheduler = threading.Thread(
                target=LocalScheduler(local_run.urls).run,
                args=(session.stop,),
                name="bulkmail-scheduler",
                daemon=True,
            )
            scheduler.start()
            target.write_local_state(session.endpoint_url, session.region, session.outputs)
            try:
                yield session
            finally:
                target.remove_local_state(session.state_file)
                session.stop.set()
                session.thread.join(timeout=settings.function_timeout_seconds)
    finally:
        emulator.stop()


def _outbox(settings: LocalSettings, urls: dict[str, str]) -> Outbox:
    """The outbox page over this session's record, templates, status and suppression tables."""
    return Outbox(
        sent=lambda: list(emu.sent_emails(settings.region)),
        templates=TemplateStore(settings.templates, prefix=settings.template_prefix),
        status_table=urls.get(Output.STATUS_TABLE_NAME),
        suppressed_lists=suppression_lookup(
            urls[Output.SUPPRESSION_TABLE_NAME], urls[Output.UNSUBSCRIBE_SECRET_ARN]
        ),
    )


def wait_for_interrupt(session: Session) -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM, or the sender's thread failing. SIGINT is
    handled even when the shell started this in the background with it ignored."""
    previous = {
        signum: signal.signal(signum, _raise_interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not session.stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def progress_line(progress: Progress, depth: dict[str, int]) -> str:
    """One line after an invocation (and when the queue goes idle)."""
    waiting = depth["visible"] + depth["in_flight"] + depth["delayed"]
    state = f"{waiting} on the queue" if waiting else "queue empty"
    return (
        f"sent {progress.sent}, retried {progress.retried}, dead-lettered "
        f"{progress.dead_lettered}, invocations {progress.invocations}: {state}"
    )
