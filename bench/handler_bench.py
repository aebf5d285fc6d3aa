"""Part 1: the handler on a synthetic SQS event, against the fake SES (40 ms a call).

`run_handler` measures in the calling process. `measure_in_subprocess` runs it in a fresh
interpreter (this file as a script), so the peak resident set is that of one warm Lambda
container: interpreter, boto3, Powertools, the event and the invocation.
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import gc
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make `bench` and `lambda_src` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.harness import Invocation, WarmHandler, peak_rss_mb, rss_mb, setup_process
from bench.workload import LAMBDA_PAYLOAD_LIMIT, event_bytes, expected_calls, make_event

MESSAGES = 10_000
SES_LATENCY = 0.040
IN_FLIGHT = 10
UNLIMITED_RATE = 1e9  # MAX_SEND_RATE: a token bucket that never makes a call wait
WARMUP_MESSAGES = 100


def run_handler(
    messages: int = MESSAGES,
    *,
    latency: float = SES_LATENCY,
    in_flight: int = IN_FLIGHT,
    repeats: int = 1,
    invalid: int = 0,
    ledger: bool = False,
    profile: int = 0,
    what_if: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Invoke the warm handler `repeats` times on one event; figures of the median run.

    A first, small invocation warms the container (botocore loads its models and parsers
    on first use), as a real container's first invocation would; it is not measured.
    `what_if` names changes to the core to measure before proposing them (WHAT_IFS).
    """
    event, sizes = make_event(messages, invalid=invalid)
    size = event_bytes(event)
    with (
        WarmHandler(
            ses_latency=latency, in_flight=in_flight, rate=UNLIMITED_RATE, ledger=ledger
        ) as warm,
        contextlib.ExitStack() as changes,
    ):
        for name in what_if:
            changes.enter_context(WHAT_IFS[name](warm))
        warm.invoke(make_event(WARMUP_MESSAGES, seed=1)[0])
        rss_before = rss_mb()
        runs: list[Invocation] = []
        for _ in range(repeats):
            gc.collect()
            _forget_addresses()  # each run as a fresh event would be: nothing memoised
            runs.append(warm.invoke(event))
        result = summarise(runs, sizes=sizes, invalid=invalid, event_size=size)
        result.update(
            latency_s=latency,
            in_flight=in_flight,
            ledger=ledger,
            what_if=list(what_if),
            rss_before_mb=rss_before,
        )
        if profile:
            result["profile"] = profile_invocation(warm, event, top=profile)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def _forget_addresses() -> None:
    """Empty the schema's address memo (message._normalised): repeated runs of one event
    would otherwise find every address already validated, which real traffic does not."""
    from bulk_sender import message

    memo = getattr(message, "_normalised", None)
    if memo is not None:
        memo.cache_clear()


def summarise(
    runs: list[Invocation], *, sizes: list[int], invalid: int, event_size: int
) -> dict[str, Any]:
    median = sorted(runs, key=lambda run: run.wall_s)[len(runs) // 2]
    records = median.records
    return {
        "messages": sum(sizes),
        "invalid": invalid,
        "records": records,
        "groups": sizes,
        "expected_calls": expected_calls(sizes),
        "calls": median.calls[("sesv2", "SendBulkEmail")],
        "other_calls": {
            f"{service}.{operation}": count
            for (service, operation), count in sorted(median.calls.items())
            if operation != "SendBulkEmail"
        },
        "sent": median.sent,
        "dead_lettered": median.dead_lettered,
        "retried": median.retried,
        "accounted": median.sent + median.dead_lettered + median.retried,
        "metrics": median.metrics,
        "latency_values": len(median.latencies_ms),
        "latency_p50_ms": statistics.median(median.latencies_ms) if median.latencies_ms else 0.0,
        "wall_s": median.wall_s,
        "walls_s": [run.wall_s for run in runs],
        "cpu_s": median.cpu_s,
        "fake_cpu_s": median.fake_cpu_s,
        "cpu_us_per_message": median.handler_cpu_s / records * 1e6,
        "event_bytes": event_size,
        "records_per_6mb": int(LAMBDA_PAYLOAD_LIMIT / (event_size / records)),
    }


# -- what if: changes to the core, measured here before they are proposed ------------------


@contextlib.contextmanager
def _cached_addresses(warm: WarmHandler) -> Iterator[None]:
    """message._address memoised: a batch repeats its senders (and domains) many times."""
    from bulk_sender import message

    original = message._address
    message._address = functools.lru_cache(maxsize=4096)(original)
    try:
        yield
    finally:
        message._address = original


@contextlib.contextmanager
def _partiql_claims(warm: WarmHandler) -> Iterator[None]:
    """A call's claims as PartiQL BatchExecuteStatement (25 a request), not a transaction."""
    from bench.partiql_ledger import PartiqlLedger

    sender = warm.sender
    original = sender.ledger
    sender.ledger = PartiqlLedger(
        original._db, original._table, ttl_seconds=original._ttl, claim_seconds=900
    )
    try:
        yield
    finally:
        sender.ledger = original


WHAT_IFS = {
    "cached_addresses": _cached_addresses,
    "partiql_claims": _partiql_claims,
}


# -- profile ------------------------------------------------------------------------------

AREAS = (  # (where in the file path, what it is), first match wins
    ("/bench/", "fake AWS (bench, excluded from CPU per message)"),
    ("/bulk_sender/", "sending core (lambda_src/bulk_sender)"),
    ("/botocore/", "botocore (validate, serialise, sign, parse)"),
    ("/urllib3/", "botocore (validate, serialise, sign, parse)"),
    ("/aws_lambda_powertools/", "Powertools (logging, metrics)"),
    ("/logging/", "stdlib logging (under Powertools)"),
    ("/json/", "json"),
    ("/email/", "email.utils (addresses)"),
    ("/encodings/", "idna / codecs"),
    ("/concurrent/", "thread pool"),
    ("/threading.py", "thread pool"),
)


def _area(filename: str) -> str:
    return next((name for key, name in AREAS if key in filename), "other (stdlib, builtins)")


def profile_invocation(warm: WarmHandler, event: dict[str, Any], *, top: int) -> dict[str, Any]:
    """CPU profile of one invocation across its threads: one cProfile per thread, timed by
    that thread's CPU clock (so waits and the fake's sleeps cost nothing), merged."""
    profiles: list[cProfile.Profile] = []
    local = threading.local()
    sender = warm.sender
    original = sender._send_call

    def profiled_send_call(*args: Any, **kwargs: Any) -> Any:
        profiler = getattr(local, "profiler", None)
        if profiler is None:
            profiler = local.profiler = cProfile.Profile(time.thread_time)
            profiles.append(profiler)
        profiler.enable()
        try:
            return original(*args, **kwargs)
        finally:
            profiler.disable()

    main = cProfile.Profile(time.thread_time)
    sender._send_call = profiled_send_call  # the worker threads' share (pool.map's calls)
    try:
        main.enable()
        warm.invoke(event)
        main.disable()
    finally:
        del sender._send_call
    stats = pstats.Stats(main)
    for profiler in profiles:
        stats.add(profiler)
    areas: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~" and callers:
            # A builtin (dict.get, isinstance, ...): its time goes to its callers' areas.
            for (caller_file, _, _), (_, _, caller_tottime, _) in callers.items():
                area = _area(caller_file)
                areas[area] = areas.get(area, 0.0) + caller_tottime
        else:
            areas[_area(filename)] = areas.get(_area(filename), 0.0) + tottime
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    return {
        "total_cpu_s": sum(areas.values()),
        "areas_s": dict(sorted(areas.items(), key=lambda item: -item[1])),
        "top": _trim(text.getvalue()),
    }


def _trim(text: str) -> str:
    """pstats' table without its header chatter, paths cut to the package."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(_PATH.sub("", line.rstrip()) for line in lines[start:] if line.strip())


_PATH = re.compile(r"/\S*/(?:site-packages|lambda_src|lib/python3\.\d+)/")


# -- fresh process ------------------------------------------------------------------------


def measure_in_subprocess(timeout: float = 300, **options: Any) -> dict[str, Any]:
    """`run_handler(**options)` in a fresh interpreter; its JSON answer."""
    command = [sys.executable, str(Path(__file__).resolve()), "--json", json.dumps(options)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=os.environ.copy(), check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"handler benchmark failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    setup_process()
    options = json.loads(argv[argv.index("--json") + 1]) if "--json" in argv else {}
    result = run_handler(**options)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
