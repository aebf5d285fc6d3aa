"""Part 6: the capacity model, a discrete-event simulation of the whole sending path.

A campaign of N messages (one recipient each) is on the queue at t = 0. The SQS event source
starts five concurrent batches at once and adds up to 300 a minute, never more than
`max_concurrency` (Lambda developer guide, "Configuring scaling behavior for SQS event source
mappings"). Each of its slots gathers a batch (ReceiveMessage takes up to 10 messages; a batch
short of `batch_size` waits out the batching window), invokes the function (a cold start on a
container's first invocation) and, once it returns, gathers the next.

Inside an invocation the model follows the core: the records are parsed, then the calls of
50 go out `max_calls_in_flight` at a time, each claiming its ids (one DynamoDB transaction),
taking its tokens from the container's token bucket (the real `TokenBucket`, on the model's
clock, at R / `max_concurrency`: the stack's MAX_SEND_RATE = 0), waiting for SES, then
completing its ids. The handler's CPU is one per invocation (the GIL), scaled by Lambda's
CPU share (memory / 1,769 MB); its cost per message is what part 5 measured on this machine.

What it does not model (assumptions, printed with the results): SES and DynamoDB latencies
are fixed (ASSUMED below), the event source's deletes overlap the next batch, nothing fails,
and a Lambda vCPU is as fast as this machine's core.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import subprocess
import sys
from collections.abc import Generator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.harness import ROOT

FULL_CPU_MB = 1769
CAMPAIGN = 100_000
ENTRIES_PER_CALL = 50
COMPLETIONS_PER_WRITE = 25
RECEIVE_MAX = 10
ESM_START = 5  # concurrent batches when messages appear
ESM_RAMP_PER_SECOND = 300 / 60  # more batches per second while messages remain
MEMORY_SIZES = (512, 1024, 1769)
# The settings docs/sizing.md names for an account rate R (= 0.9 x the account's
# MaxSendRate, what the stack paces for), beyond the defaults (which reach 900/s).
SIZED_FOR = {
    2700.0: {"max_concurrency": 10, "max_calls_in_flight": 8, "function_memory_mb": 1024},
    10000.0: {"max_concurrency": 40, "max_calls_in_flight": 8, "function_memory_mb": 1024},
}
# A campaign long enough to be sent at R for three minutes (at least CAMPAIGN messages):
# the event source's ramp and the cold starts are a part of it, not all of it.
CAMPAIGN_SECONDS = 180


def campaign_for(rate: float) -> int:
    return int(max(CAMPAIGN, min(rate, 1e6) * CAMPAIGN_SECONDS))


# cdk.json's defaults before issue 14 (the model showed them reaching about half of R).
PREVIOUS_DEFAULTS = {"max_concurrency": 2}


@dataclass(frozen=True)
class Assumed:
    """The path's latencies: not measured here (no AWS), stated with each result."""

    ses_call_s: float = 0.200  # SendBulkEmail of 50 entries, request to answer
    transaction_s: float = 0.020  # TransactWriteItems of 50 claims
    batch_write_s: float = 0.010  # BatchWriteItem of 25 completions
    batch_get_s: float = 0.010  # BatchGetItem of 100 suppression keys
    receive_s: float = 0.015  # one ReceiveMessage of up to 10 messages
    invoke_s: float = 0.010  # the event source's invoke, warm
    sandbox_s: float = 0.250  # a new container before the init code runs
    parse_share: float = 0.5  # of a message's CPU spent before its call (parse, plan)


@dataclass(frozen=True)
class Work:
    """What a batch does besides its SendBulkEmail calls, as the handler does it at the
    stack's defaults (bench/defaults_bench.py counts these requests; the core does them in
    this order, each phase after the one before):

    - the suppression check: one BatchGetItem per 100 recipients, before anything is grouped;
    - the claims of the whole batch: one TransactWriteItems per 100 ids, before the calls;
    - the calls, `max_calls_in_flight` at a time, each followed by its completions (pooled 25
      a BatchWriteItem across the batch's calls);
    - the rest of the completions, then the campaigns' counts: one TransactWriteItems.

    Campaigns share batches: a batch of several campaigns is cut into calls per campaign,
    so it makes more, smaller calls (`campaigns`, in the workload's uneven shares)."""

    suppression: bool = True
    claims_up_front: bool = True
    status: bool = True
    campaigns: int = 5

    @classmethod
    def none(cls) -> Work:
        return cls(suppression=False, claims_up_front=False, status=False, campaigns=1)


PHASES = ("receive", "start", "cpu", "suppression", "claims", "calls", "after calls")


@dataclass(frozen=True)
class Settings:
    """The stack's settings the path depends on (cdk.json context keys)."""

    batch_size: int
    max_batching_window_seconds: float
    max_concurrency: int
    max_calls_in_flight: int
    function_memory_mb: int

    @classmethod
    def defaults(cls) -> Settings:
        context = json.loads(Path(ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
        return cls(**{name: context[name] for name in cls.__dataclass_fields__})

    def but(self, **changes: Any) -> Settings:
        return replace(self, **changes)


# -- a small discrete-event engine: processes are generators that yield waits ----------------


class _Engine:
    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Generator[Any, Any, Any]]] = []
        self._order = itertools.count()

    def start(self, process: Generator[Any, Any, Any], delay: float = 0.0) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._order), process))

    def run(self) -> None:
        while self._queue:
            self.now, _, process = heapq.heappop(self._queue)
            try:
                delay = next(process)
            except StopIteration:
                continue
            if delay is not None:  # None: suspended until something starts it again
                self.start(process, delay)


class _Cpu:
    """One invocation's CPU: work queues behind work (the GIL), at the memory's share."""

    def __init__(self, engine: _Engine, share: float) -> None:
        self._engine, self._share, self._free_at = engine, share, 0.0

    def work(self, cpu_seconds: float) -> float:
        """The wait until `cpu_seconds` of work queued now is done."""
        start = max(self._engine.now, self._free_at)
        self._free_at = start + cpu_seconds / self._share
        return self._free_at - self._engine.now


@dataclass
class _Campaign:
    waiting: int
    sent: int = 0
    last_send: float = 0.0
    invocations: int = 0
    cold_starts: int = 0


def simulate(
    settings: Settings,
    *,
    rate: float,
    cpu_us_per_message: float,
    init_cpu_s: float,
    ledger: bool = True,
    messages: int | None = None,
    assumed: Assumed = Assumed(),
    work: Work | None = None,
) -> dict[str, Any]:
    """Send `messages` at R = `rate` recipients/s; the achieved share of R, and how. `work`
    is what each batch does besides its calls: the stack's defaults (Work()) unless the
    ledger is off (then none of it)."""
    from bench.workload import group_sizes
    from bulk_sender.pacing import TokenBucket

    if work is None:
        work = Work() if ledger else Work.none()
    if messages is None:
        messages = campaign_for(rate)
    spent = dict.fromkeys(PHASES, 0.0)  # seconds, summed over invocations (and slots)

    engine = _Engine()
    campaign = _Campaign(waiting=messages)
    share = min(1.0, settings.function_memory_mb / FULL_CPU_MB)
    per_message_cpu = cpu_us_per_message / 1e6
    per_invocation_rate = rate / settings.max_concurrency

    def call(cpu: _Cpu, bucket: TokenBucket, entries: int) -> Generator[float, None, None]:
        yield cpu.work(entries * per_message_cpu * (1 - assumed.parse_share))
        if ledger and not work.claims_up_front:
            yield assumed.transaction_s
        wait = bucket.acquire(entries)  # the bucket's clock is the engine's: no real sleep
        if wait:
            yield wait
        yield assumed.ses_call_s
        campaign.sent += entries
        campaign.last_send = engine.now
        if ledger:
            yield assumed.batch_write_s * math.ceil(entries / COMPLETIONS_PER_WRITE)

    def worker(cpu: _Cpu, bucket: TokenBucket, calls: list[int], left: list[int], resume):
        while calls:
            yield from call(cpu, bucket, calls.pop())
        left[0] -= 1
        if not left[0]:
            resume()

    def phase(name: str, seconds: float) -> float:
        spent[name] += seconds
        return seconds

    def invocation(cpu: _Cpu, bucket: TokenBucket, batch: int, resume):
        yield phase("start", assumed.invoke_s)
        yield phase("cpu", cpu.work(batch * per_message_cpu * assumed.parse_share))
        reads = math.ceil(batch / 100)
        if work.suppression:  # BatchGetItems one after the other (suppression.py)
            yield phase("suppression", assumed.batch_get_s * reads)
        if ledger and work.claims_up_front:  # transactions one after the other (ledger.py)
            yield phase("claims", assumed.transaction_s * reads)
        calls = []
        for size in group_sizes(batch, min(work.campaigns, batch)):
            calls += [ENTRIES_PER_CALL] * (size // ENTRIES_PER_CALL)
            if size % ENTRIES_PER_CALL:
                calls.append(size % ENTRIES_PER_CALL)
        left = [min(settings.max_calls_in_flight, len(calls))]
        started = engine.now
        for _ in range(left[0]):
            engine.start(worker(cpu, bucket, calls, left, resume))
        yield None  # suspended until the last worker resumes it (the pool's join)
        spent["calls"] += engine.now - started
        after = 0.0
        if ledger and work.claims_up_front:
            after += assumed.batch_write_s  # the completions still pooled
        if work.status:
            after += assumed.transaction_s  # the campaigns' counts
        if after:
            yield phase("after calls", after)

    def slot(me: list[Any]):
        """One concurrent batch of the event source: a poller and its container."""
        cpu: _Cpu | None = None
        bucket: TokenBucket | None = None
        while campaign.waiting:
            batch = min(settings.batch_size, campaign.waiting)
            campaign.waiting -= batch
            if batch < settings.batch_size:
                yield phase("receive", settings.max_batching_window_seconds)
            else:
                yield phase("receive", assumed.receive_s * math.ceil(batch / RECEIVE_MAX))
            if cpu is None:
                campaign.cold_starts += 1
                cpu = _Cpu(engine, share)
                yield phase("start", assumed.sandbox_s + init_cpu_s / share)
                # Built at the first call, empty (the sender's `limiter`), kept after.
                bucket = TokenBucket(
                    per_invocation_rate, clock=lambda: engine.now, sleep=lambda _seconds: None
                )
            campaign.invocations += 1
            yield from invocation(cpu, bucket, batch, lambda: engine.start(me[0]))

    for n in range(settings.max_concurrency):
        me: list[Any] = []
        me.append(slot(me))
        engine.start(me[0], max(0.0, (n + 1 - ESM_START) / ESM_RAMP_PER_SECOND))
    engine.run()
    duration = campaign.last_send
    return {
        "settings": asdict(settings),
        "rate": rate,
        "ledger": ledger,
        "messages": messages,
        "sent": campaign.sent,
        "duration_s": duration,
        "achieved": campaign.sent / duration,
        "share_of_rate": campaign.sent / duration / rate,
        "invocations": campaign.invocations,
        "cold_starts": campaign.cold_starts,
        "cpu_share": share,
        "per_invocation_rate": per_invocation_rate,
        "work": asdict(work),
        # Where the slots' time went: the phase that takes most of it limits the rate.
        "phases": {name: seconds / sum(spent.values()) for name, seconds in spent.items()},
        "cpu_us_per_message": cpu_us_per_message,
    }


def init_cpu_seconds(repeats: int = 3) -> float:
    """CPU of a cold start's init (`import handler; handler.sender()`) in a fresh process,
    less the interpreter's own: CPU time, so that a loaded machine does not inflate it."""
    from bench.import_bench import _env

    env = _env()
    clock = "import time; print(time.process_time())"

    def cpu(statement: str) -> float:
        done = subprocess.run(
            [sys.executable, "-c", f"{statement}; {clock}"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return float(done.stdout.split()[-1])

    cpu("import handler; handler.sender()")  # untimed: bytecode caches
    return min(cpu("import handler; handler.sender()") for _ in range(repeats)) - min(
        cpu("pass") for _ in range(repeats)
    )


def sustained_rate(cpu_us_per_message: float, memory_mb: int) -> float:
    """Recipients per second one invocation's CPU sustains (one recipient a message)."""
    return min(1.0, memory_mb / FULL_CPU_MB) * 1e6 / cpu_us_per_message
