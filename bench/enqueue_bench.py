"""Part 4: the CLI's `enqueue` against the moto server, against a one-message-per-call loop.

The moto server (bulkmail.local.emulator, as the local run uses it) runs in a process of its own
on 127.0.0.1, so that neither client shares its interpreter. A drainer receives and deletes
as messages arrive, since moto's SQS slows down as a queue grows (DESIGN.md section 10).
The CLI runs as users run it (`python -m bulkmail enqueue FILE ...`, start-up included; the
start-up alone is reported too); the baseline is the loop most samples show,
`sqs.send_message(...)` per message, in sequence, run on a sample and scaled.

Until the CLI exists, `run_enqueue` says so and measures nothing.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from bench.harness import AWS_ENV, ROOT

CLI_FILES = ("bulkmail/cli.py", "bulkmail/__main__.py")
NOT_BUILT = "enqueue benchmark: CLI not built yet"
CAMPAIGN = "bench"
SENDER = "Example News <news@example.com>"
TEMPLATE = "weekly_digest"
UNSUBSCRIBE_URL = "https://example.com/unsubscribe?id={id}"
_SERVER = """
import sys
from bulkmail.local.emulator import start_server
emulator = start_server()
print(emulator.endpoint_url, flush=True)
sys.stdin.read()  # until the benchmark closes it
emulator.stop()
"""


def cli_available(root: Path = ROOT) -> bool:
    return all((root / name).exists() for name in CLI_FILES)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server (with the project's extension) in a subprocess; its endpoint URL."""
    env = {**os.environ, **AWS_ENV, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()  # type: ignore[union-attr]
        if not url.startswith("http://127.0.0.1"):
            raise RuntimeError("the moto server did not start")
        yield url
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


class Drainer(threading.Thread):
    """Receives and deletes until stopped and the queue is empty; counts what it drained."""

    def __init__(self, sqs: Any, url: str) -> None:
        super().__init__(daemon=True)
        self.sqs, self.url = sqs, url
        self.drained = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if messages:
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
                self.drained += len(messages)
            elif self.stopping.is_set():
                return
            else:
                time.sleep(0.02)

    def finish(self) -> int:
        self.stopping.set()
        self.join(timeout=120)
        return self.drained


def _campaign_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "plan", "account_id"])
        for n in range(rows):
            writer.writerow([f"user{n}@example.org", f"Name{n}", "pro", f"AC-{n:08d}"])


def one_per_call(sqs: Any, url: str, bodies: list[str]) -> int:
    """The baseline: SendMessage per message, in sequence. Returns the calls made."""
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return len(bodies)


def enqueue_with_cli(
    endpoint: str, url: str, rows: int, workdir: Path, *, startup: bool = True
) -> dict[str, Any]:
    """`python -m bulkmail enqueue` of a `rows`-row CSV campaign; wall time and its answer."""
    path = workdir / "campaign.csv"
    _campaign_csv(path, rows)
    env = {**os.environ, **AWS_ENV, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bulkmail", "enqueue", str(path), "--campaign", CAMPAIGN]
    command += ["--queue-url", url, "--from", SENDER, "--template", TEMPLATE]
    command += ["--unsubscribe-url", UNSUBSCRIBE_URL]
    command += ["--allow-unchecked-template"]  # the bench's template exists in no SES
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"enqueue failed ({done.returncode}): {done.stderr[-2000:]}")
    started = time.perf_counter()
    if startup:  # the CLI's start-up alone: `--help`
        subprocess.run(
            [sys.executable, "-m", "bulkmail", "--help"], env=env, cwd=ROOT, capture_output=True
        )
    startup_s = time.perf_counter() - started if startup else float("nan")
    return {"wall_s": wall, "startup_s": startup_s, "answer": done.stdout}


def run_enqueue(rows: int = 2000, *, sample: int = 300, startup: bool = True) -> dict[str, Any]:
    """The CLI on `rows` rows, the baseline on `sample` messages (scaled to `rows`)."""
    if not cli_available():
        return {"skipped": NOT_BUILT}
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as workdir:
        # A session of its own: clients of boto3's default session may be faked meanwhile.
        session = boto3.session.Session()
        sqs = session.client("sqs", endpoint_url=endpoint)
        url = sqs.create_queue(QueueName="bench-enqueue")["QueueUrl"]
        drainer = Drainer(sqs, url)
        drainer.start()
        cli = enqueue_with_cli(endpoint, url, rows, Path(workdir), startup=startup)
        cli_drained = drainer.finish()

        drainer = Drainer(sqs, url)
        drainer.start()
        bodies = [f'{{"to": "user{n}@example.org", "template": "x"}}' for n in range(sample)]
        client = session.client("sqs", endpoint_url=endpoint)
        one_per_call(client, url, bodies[:2])  # warm the client
        started = time.perf_counter()
        calls = one_per_call(client, url, bodies[2:])
        loop_wall = (time.perf_counter() - started) * rows / calls
        loop_drained = drainer.finish()
    return {
        "rows": rows,
        "cli_wall_s": cli["wall_s"],
        "cli_startup_s": cli["startup_s"],
        "cli_answer": cli["answer"].strip(),
        "cli_drained": cli_drained,
        "cli_calls": -(-rows // 10),
        "loop_sample": calls,
        "loop_wall_s": loop_wall,
        "loop_calls": rows,
        "loop_drained": loop_drained,
    }
