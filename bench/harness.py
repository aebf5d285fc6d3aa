"""Shared set-up: paths, the environment every benchmark runs in, and the warm handler.

The handler is used as Lambda uses it: `handler.lambda_handler(event, context)` with
Powertools on, the sender built by `handler.sender()` from the environment. Only the AWS
side is fake (fake_aws.py): clients built while the harness is set up answer from in-process
fakes at the HTTP layer. Powertools' logs go to os.devnull (their cost counts, terminal I/O
does not); its EMF metrics, printed to stdout, are captured and read back.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"

# Dummy credentials and region: nothing here may reach AWS (fake_aws also guards endpoints).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": "bulk-email",
    "POWERTOOLS_METRICS_NAMESPACE": "BulkEmail",
}
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/bulk-email-queue"
DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/bulk-email-dlq"
# The handler's own settings that the benchmarks set; every other one is left unset.
HANDLER_VARIABLES = (
    "DLQ_URL",
    "QUEUE_URL",
    "CONFIGURATION_SET_NAME",
    "DEFAULT_FROM",
    "DEFAULT_TEMPLATE",
    "DEFAULT_TAGS",
    "IDEMPOTENCY_TABLE",
    "IDEMPOTENCY_TTL_SECONDS",
    "MAX_SEND_RATE",
    "MAX_CONCURRENCY",
    "MAX_CALLS_IN_FLIGHT",
    "RETRY_BACKOFF_BASE_SECONDS",
    "RETRY_BACKOFF_MAX_SECONDS",
)


def setup_process() -> None:
    """For a benchmark process of its own (run.py, the measuring subprocesses)."""
    for path in (str(LAMBDA_SRC), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    for name, value in AWS_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_PROFILE", None)


def handler_env(
    *, in_flight: int, rate: float, ledger: bool = False, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {
        "DLQ_URL": DLQ_URL,
        "QUEUE_URL": QUEUE_URL,
        "CONFIGURATION_SET_NAME": "bulk-email",
        "DEFAULT_TAGS": json.dumps({"app": "bulk-email"}),
        "MAX_SEND_RATE": repr(float(rate)),
        "MAX_CALLS_IN_FLIGHT": str(in_flight),
    }
    if ledger:
        env["IDEMPOTENCY_TABLE"] = "bulk-email-idempotency"
    env.update(extra or {})
    return env


@contextlib.contextmanager
def patched_env(values: Mapping[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    names = set(values) | set(unset)
    previous = {name: os.environ.get(name) for name in names}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Context:
    """The Lambda context Powertools reads; plenty of time left unless told otherwise."""

    remaining_ms: int = 900_000
    function_name: str = "bulk-email-sender"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:sender"
    aws_request_id: str = "bench-request"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Invocation:
    """One handler invocation, measured."""

    records: int
    wall_s: float
    cpu_s: float  # the whole process, every thread
    fake_cpu_s: float  # the fakes' share of it (parsing requests, writing answers)
    response: dict[str, Any]
    calls: Counter  # per (service, operation)
    sent: int  # SendBulkEmail entries that SES answered (all SUCCESS)
    dead_lettered: int  # SendMessageBatch entries written to the DLQ
    metrics: dict[str, float] = field(default_factory=dict)  # EMF counters, summed
    latencies_ms: list[float] = field(default_factory=list)  # SendBulkEmailLatency values

    @property
    def retried(self) -> int:
        return len(self.response["batchItemFailures"])

    @property
    def handler_cpu_s(self) -> float:
        return self.cpu_s - self.fake_cpu_s


class WarmHandler:
    """The real handler module with a sender built by `handler.sender()` on fake clients."""

    def __init__(
        self,
        *,
        ses_latency: float,
        in_flight: int,
        rate: float,
        ledger: bool = False,
        ledger_latency: float = 0.005,
        env: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`environment`, when given, is the handler's whole environment (the stack's, read
        from its template: bench/stack_env.py), with MAX_SEND_RATE = `rate` and
        MAX_CALLS_IN_FLIGHT = `in_flight` over it; otherwise the benchmarks' own."""
        import handler
        from bench.fake_aws import (
            FakeService,
            dynamodb_answers,
            on_default_session,
            secrets_answers,
            ses_answers,
            sqs_answers,
        )

        self.handler = handler
        self.ses = FakeService(ses_answers(), ses_latency)
        self.sqs = FakeService(sqs_answers())
        self.dynamodb = FakeService(dynamodb_answers(), ledger_latency)
        self.secrets = FakeService(secrets_answers())
        self.fakes = {
            "sesv2": self.ses,
            "sqs": self.sqs,
            "dynamodb": self.dynamodb,
            "secrets-manager": self.secrets,
        }
        self._stack = contextlib.ExitStack()
        unset: tuple[str, ...] = HANDLER_VARIABLES
        if environment is None:
            settings = handler_env(in_flight=in_flight, rate=rate, ledger=ledger, extra=env)
        else:
            from bench.stack_env import FEATURE_VARIABLES

            settings = {
                **environment,
                "MAX_SEND_RATE": repr(float(rate)),
                "MAX_CALLS_IN_FLIGHT": str(in_flight),
                **(env or {}),
            }
            unset = (*HANDLER_VARIABLES, *FEATURE_VARIABLES)
        self._stack.callback(setattr, handler, "_sender", handler._sender)
        try:
            with patched_env(settings, unset=unset), on_default_session(self.fakes):
                handler._sender = None
                self.sender = handler.sender()
                self.sender.unsubscribes.keys()  # its client is built on first use: here
            devnull = self._stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115
            for log_handler in handler.logger.handlers:
                if getattr(log_handler.stream, "closed", False):  # bound under a closed stdout
                    log_handler.stream = sys.stdout
                previous_stream = log_handler.setStream(devnull)
                self._stack.callback(log_handler.setStream, previous_stream)
        except BaseException:
            self._stack.close()
            raise

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> WarmHandler:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def invoke(self, event: dict[str, Any], context: Context | None = None) -> Invocation:
        for fake in self.fakes.values():
            fake.reset()
        emf = io.StringIO()
        wall, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(emf):
            response = self.handler.lambda_handler(event, context or Context())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        metrics, latencies = read_emf(emf.getvalue())
        calls = Counter(
            {
                (service, operation): count
                for service, fake in self.fakes.items()
                for operation, count in fake.calls.items()
            }
        )
        return Invocation(
            records=len(event["Records"]),
            wall_s=wall,
            cpu_s=cpu,
            fake_cpu_s=sum(fake.cpu_seconds for fake in self.fakes.values()),
            response=response,
            calls=calls,
            sent=self.ses.entries("SendBulkEmail"),
            dead_lettered=self.sqs.entries("SendMessageBatch"),
            metrics=metrics,
            latencies_ms=latencies,
        )


def read_emf(text: str) -> tuple[dict[str, float], list[float]]:
    """Sum every EMF blob's counters; collect the latency values (DESIGN.md section 7)."""
    from bulk_sender import metric_names

    counters: Counter = Counter()
    latencies: list[float] = []
    for line in text.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                name = metric["Name"]
                values = blob[name] if isinstance(blob[name], list) else [blob[name]]
                if name in metric_names.LATENCIES:
                    latencies.extend(values)
                else:
                    counters[name] += sum(values)
    return dict(counters), latencies


def rss_mb() -> float:
    """The process's resident set now (Linux /proc), in MB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """The process's peak resident set so far (what Lambda reports as Max Memory Used)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
