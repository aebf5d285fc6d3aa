"""`python bench/run.py [--quick]`: every benchmark of issues 7, 14 and 23, a table, and
BENCHMARKS.md.

0. the headline (issue 23): the handler at the stack's defaults (its environment read from
   the synthesized template) beside every feature off and the floor (botocore serializing
   and signing the same requests), CPU per message, DynamoDB requests per message; the cold
   start as Lambda runs it; the capacity model at R = 2,700/s with every default feature;
1. the handler on a 10,000-message SQS event against a fake SES at 40 ms a call, with its
   baselines (SendEmail per message; SendBulkEmail chunks in sequence) in the same run;
2. pacing at MAX_SEND_RATE = 200 recipients/s from an empty bucket, over 10 s;
3. cold start: `import handler` against `import boto3`, in fresh processes;
4. the CLI's enqueue against the moto server, against one SendMessage per message;
5. the idempotency ledger: CPU and DynamoDB requests per message, on and off, both claim
   routes (TransactWriteItems, the core's; PartiQL BatchExecuteStatement, a what-if);
6. sizing and the capacity model: recipients per second per invocation by memory, and a
   simulated 100,000-message campaign at the stack's defaults (bench/capacity.py).

Targets are printed with a verdict each; nothing here asserts. `--quick` shortens every
part (about 40 s) and does not write BENCHMARKS.md unless `--out` is given.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `lambda_src` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (
    baselines,
    capacity,
    cold_start,
    defaults_bench,
    enqueue_bench,
    handler_bench,
    import_bench,
    local_bench,
    pacing_bench,
)
from bench.fake_aws import GUARD_ENDPOINT
from bench.harness import ROOT, setup_process
from bench.workload import make_event

# Targets (issue 7).
CPU_US_TARGET = 50.0
WALL_TARGET_S = 2.0
IMPORT_RATIO_TARGET = 1.5
MEMORY_TARGET_MB = 200.0
# Targets (issue 14).
LEDGER_CPU_RATIO_TARGET = 2.5
LEDGER_MESSAGES_PER_REQUEST_TARGET = 15
CAMPAIGN_DEFAULTS_TARGET = 0.95  # of R = 900/s
CAMPAIGN_SIZED_TARGET = 0.95  # of R = 2,700/s and 10,000/s, with docs/sizing.md's settings
# Targets (issue 23).
FLOOR_RATIO_TARGET = 6.0
DYNAMODB_PER_MESSAGE_TARGET = 0.075
COLD_START_RATIO_TARGET = 1.3


@dataclass(frozen=True)
class Plan:
    messages: int = 10_000
    repeats: int = 3
    send_email_sample: int = 200
    bulk_sample: int | None = None  # all messages
    pacing_seconds: float = 10.0
    import_repeats: int = 7
    enqueue_rows: int = 1500
    enqueue_sample: int = 200
    what_ifs: bool = True
    ledger_messages: int = 10_000
    ledger_repeats: int = 3
    profile_messages: int = 2000
    defaults_messages: int = 10_000
    defaults_repeats: int = 3
    cold_repeats: int = 7


FULL = Plan()
QUICK = Plan(
    repeats=1,
    send_email_sample=50,
    bulk_sample=2000,
    pacing_seconds=2.0,
    import_repeats=3,
    enqueue_rows=500,
    enqueue_sample=100,
    what_ifs=False,
    ledger_messages=2000,
    ledger_repeats=1,
    defaults_messages=2000,
    defaults_repeats=1,
    cold_repeats=3,
)


@dataclass
class Row:
    part: str
    measure: str
    figure: str
    target: str = ""
    verdict: str = ""


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# -- the parts ----------------------------------------------------------------------------


def part_defaults(plan: Plan, say: Any) -> dict[str, Any]:
    say(
        f"0. defaults / off / floor: {plan.defaults_messages:,} messages in the mapping's"
        f" batches, zero-latency fakes, {plan.defaults_repeats} run(s)"
    )
    return defaults_bench.run_all(plan.defaults_messages, plan.defaults_repeats)


def part_cold_start(plan: Plan, say: Any) -> dict[str, Any]:
    say(f"3b. cold start as Lambda runs it: read-only assets, {plan.cold_repeats} repetitions")
    return cold_start.run_cold_start(plan.cold_repeats)


def part_handler(plan: Plan, say: Any) -> dict[str, Any]:
    say(f"1. handler: {plan.messages:,} messages, fake SES at 40 ms, {plan.repeats} run(s)")
    main = handler_bench.measure_in_subprocess(messages=plan.messages, repeats=plan.repeats)
    found: dict[str, Any] = {"main": main}
    records = make_event(plan.messages)[0]["Records"]
    say(f"   baseline: SendEmail per message, on {plan.send_email_sample} messages")
    found["send_email"] = baselines.run_baseline(
        "send_email_loop",
        records,
        latency=handler_bench.SES_LATENCY,
        sample=plan.send_email_sample,
    )
    say("   baseline: SendBulkEmail chunks of 50 in sequence")
    found["bulk_sequence"] = baselines.run_baseline(
        "bulk_chunks_in_sequence",
        records,
        latency=handler_bench.SES_LATENCY,
        sample=plan.bulk_sample,
    )
    del records
    if plan.what_ifs:
        say(f"   profile ({plan.profile_messages:,} messages) and what-ifs")
        found["profile"] = handler_bench.measure_in_subprocess(
            messages=plan.profile_messages, profile=18
        )["profile"]
        found["cached"] = handler_bench.measure_in_subprocess(
            messages=plan.messages, repeats=2, what_if=["cached_addresses"]
        )
    return found


def part_ledger(plan: Plan, say: Any) -> dict[str, Any]:
    """Ledger off, on (the core's TransactWriteItems claims) and on with PartiQL claims, on
    the same event and fake (DynamoDB at 5 ms), one after the other in this run."""
    say(f"5. ledger: {plan.ledger_messages:,} messages, off / on / on with PartiQL claims")
    runs = {
        "off": {},
        "on": {"ledger": True},
        "partiql": {"ledger": True, "what_if": ["partiql_claims"]},
    }
    return {
        name: handler_bench.measure_in_subprocess(
            messages=plan.ledger_messages, repeats=plan.ledger_repeats, **options
        )
        for name, options in runs.items()
    }


def part_capacity(found: dict[str, Any], say: Any) -> dict[str, Any]:
    """The capacity model on this run's CPU figures (the defaults and every feature off,
    part 0) and the cold start's init CPU."""
    say("6. capacity model: R = 900/s, 2,700/s and 10,000/s")
    cpu = {
        True: found["defaults"]["defaults"]["cpu_us_per_message"],
        False: found["defaults"]["off"]["cpu_us_per_message"],
    }
    init_cpu_s = capacity.init_cpu_seconds()
    defaults = capacity.Settings.defaults()
    cases = {
        "defaults_new_account": (defaults, 12.6, True),  # MaxSendRate 14/s
        "defaults_900": (defaults, 900.0, True),
        "defaults_900_off": (defaults, 900.0, False),
        "previous_900": (defaults.but(**capacity.PREVIOUS_DEFAULTS), 900.0, True),
        "defaults_2700": (defaults, 2700.0, True),
    }
    for rate, changes in capacity.SIZED_FOR.items():
        cases[f"sized_{rate:.0f}"] = (defaults.but(**changes), rate, True)
    simulated = {
        name: capacity.simulate(
            settings,
            rate=rate,
            ledger=on,
            cpu_us_per_message=cpu[on],
            init_cpu_s=init_cpu_s,
        )
        for name, (settings, rate, on) in cases.items()
    }
    sustained = {
        name: {mb: capacity.sustained_rate(cpu[on], mb) for mb in capacity.MEMORY_SIZES}
        for name, on in (("on", True), ("off", False))
    }
    # One invocation's ceiling in the model: unpaced, two slots, half of what they send.
    ceiling = {
        mb: capacity.simulate(
            defaults.but(function_memory_mb=mb, max_concurrency=2),
            rate=1e9,
            cpu_us_per_message=cpu[True],
            init_cpu_s=init_cpu_s,
            messages=capacity.CAMPAIGN,
        )["achieved"]
        / 2
        for mb in capacity.MEMORY_SIZES
    }
    return {
        "simulated": simulated,
        "sustained": sustained,
        "ceiling": ceiling,
        "assumed": capacity.Assumed().__dict__,
        "init_cpu_s": init_cpu_s,
    }


def part_pacing(plan: Plan, say: Any) -> dict[str, Any]:
    say(f"2. pacing: R = {pacing_bench.RATE:.0f} recipients/s for {plan.pacing_seconds:g} s")
    return pacing_bench.run_pacing(seconds=plan.pacing_seconds)


def part_imports(plan: Plan, say: Any) -> dict[str, Any]:
    say(f"3. cold start: fresh processes, {plan.import_repeats} repetitions each")
    return import_bench.run_imports(plan.import_repeats)


def part_enqueue(plan: Plan, say: Any) -> dict[str, Any]:
    if not enqueue_bench.cli_available():
        say(enqueue_bench.NOT_BUILT)
        return {"skipped": enqueue_bench.NOT_BUILT}
    say(f"4. enqueue: {plan.enqueue_rows:,} rows through the CLI, moto server")
    return enqueue_bench.run_enqueue(plan.enqueue_rows, sample=plan.enqueue_sample)


# -- the table ------------------------------------------------------------------------------


def headline(found: dict[str, Any]) -> list[Row]:
    """Issue 23's four figures, each a ratio or a count measured in this run."""
    run = found["defaults"]
    defaults, off, low = run["defaults"], run["off"], run["floor"]
    sized = found["capacity"]["simulated"]["sized_2700"]
    alone = found["capacity"]["simulated"]["defaults_2700"]["share_of_rate"]
    cold = found["cold_start"]
    per_message = defaults["dynamodb_per_message"]
    return [
        Row(
            "0 headline",
            "CPU per message: defaults / floor",
            f"{run['defaults_over_floor']:.2f} ({defaults['cpu_us_per_message']:.0f} us /"
            f" {low['us_per_message']:.0f} us: SES {low['ses_us_per_message']:.0f} +"
            f" DynamoDB {low['dynamodb_us_per_message']:.0f})",
            f"<= {FLOOR_RATIO_TARGET:g}",
            verdict(run["defaults_over_floor"] <= FLOOR_RATIO_TARGET),
        ),
        Row(
            "0 headline",
            "CPU per message: defaults / every feature off",
            f"{run['defaults_over_off']:.2f} ({defaults['cpu_us_per_message']:.0f} us /"
            f" {off['cpu_us_per_message']:.0f} us); defaults / SES floor alone"
            f" {defaults['cpu_us_per_message'] / low['ses_us_per_message']:.1f}",
        ),
        Row(
            "0 headline",
            "DynamoDB requests per message at the defaults",
            f"{per_message:.4f} ("
            + ", ".join(f"{op} {n}" for op, n in sorted(defaults["dynamodb_requests"].items()))
            + f" for {defaults['messages']:,}); units per message:"
            f" {defaults['write_units_per_message']:.2f} write, "
            f"{defaults['read_units_per_message']:.2f} read",
            f"<= {DYNAMODB_PER_MESSAGE_TARGET:g}",
            verdict(per_message <= DYNAMODB_PER_MESSAGE_TARGET),
        ),
        Row(
            "0 headline",
            "modelled share of R = 2,700/s, every default feature, sizing's settings",
            f"{sized['share_of_rate']:.3f} R ("
            + ", ".join(f"{k} {v}" for k, v in capacity.SIZED_FOR[2700.0].items())
            + f"); the defaults alone {alone:.3f} R",
            f">= {CAMPAIGN_SIZED_TARGET:g} R",
            verdict(sized["share_of_rate"] >= CAMPAIGN_SIZED_TARGET),
        ),
        Row(
            "0 headline",
            "cold start, CPU: function asset / bare boto3 asset (read-only, no .pyc)",
            f"{cold['ratio']:.2f} ({cold['net_s']['function asset'] * 1e3:.0f} ms /"
            f" {cold['net_s']['boto3 asset'] * 1e3:.0f} ms); with bytecode"
            f" {cold['ratio_with_bytecode']:.2f}",
            f"<= {COLD_START_RATIO_TARGET:g}",
            verdict(cold["ratio"] <= COLD_START_RATIO_TARGET),
        ),
    ]


def rows_for(found: dict[str, Any]) -> list[Row]:
    rows: list[Row] = headline(found) if "defaults" in found else []
    handler = found["handler"]
    main, email, bulk = handler["main"], handler["send_email"], handler["bulk_sequence"]
    n = main["records"]
    rows += [
        Row("1 handler", "messages (groups)", f"{n:,} ({', '.join(map(str, main['groups']))})"),
        Row(
            "1 handler",
            "SendBulkEmail calls",
            f"{main['calls']}",
            f"= sum ceil(group/50) = {main['expected_calls']}",
            verdict(main["calls"] == main["expected_calls"]),
        ),
        Row(
            "1 handler",
            "accounted: sent + DLQ + retried",
            f"{main['sent']:,} + {main['dead_lettered']} + {main['retried']}"
            f" = {main['accounted']:,}",
            f"= {n:,}",
            verdict(main["accounted"] == n),
        ),
        Row(
            "1 handler",
            "wall time (median)",
            f"{main['wall_s']:.2f} s (CPU {main['cpu_s']:.2f} s)",
            f"<= {WALL_TARGET_S:g} s",
            verdict(main["wall_s"] <= WALL_TARGET_S),
        ),
        Row(
            "1 handler",
            "CPU per message",
            f"{main['cpu_us_per_message']:.0f} us",
            f"<= {CPU_US_TARGET:g} us",
            verdict(main["cpu_us_per_message"] <= CPU_US_TARGET),
        ),
        Row(
            "1 handler",
            "peak memory (process RSS)",
            f"{main['peak_rss_mb']:.0f} MB (before: {main['rss_before_mb']:.0f})",
            f"<= {MEMORY_TARGET_MB:g} MB",
            verdict(main["peak_rss_mb"] <= MEMORY_TARGET_MB),
        ),
        Row("1 handler", "SendBulkEmail latency p50", f"{main['latency_p50_ms']:.0f} ms"),
    ]
    for base, label in ((email, "SendEmail per message"), (bulk, "SendBulkEmail/50 in sequence")):
        sampled = f", x{base['scale']:g} from {base['measured_messages']}"
        if base["scale"] == 1:
            sampled = ""
        rows += [
            Row(f"1 {label}", "calls", f"{base['calls']:,} (for all {base['messages']:,})"),
            Row(f"1 {label}", "wall time", f"{base['wall_s']:.1f} s{sampled}"),
            Row(f"1 {label}", "CPU per message", f"{base['cpu_us_per_message']:.0f} us"),
            Row(
                "1 ratio",
                f"ours / {label}",
                f"wall {main['wall_s'] / base['wall_s']:.4f}"
                f" (x{base['wall_s'] / main['wall_s']:.1f} faster),"
                f" calls {main['calls'] / base['calls']:.4f}",
            ),
        ]
    if "cached" in handler:
        run = handler["cached"]
        rows.append(
            Row(
                "1 handler",
                "what if: addresses cached",
                f"{run['records']:,} msgs: {run['wall_s']:.2f} s, "
                f"{run['cpu_us_per_message']:.0f} us/msg",
            )
        )
    pacing = found["pacing"]
    rows += [
        Row(
            "2 pacing",
            f"achieved over {pacing['span_s']:.2f} s",
            f"{pacing['achieved']:.1f}/s = {pacing['achieved_ratio']:.4f} R",
            "0.95 R .. R",
            verdict(pacing_bench.within_target(pacing)),
        ),
        Row(
            "2 pacing",
            f"sent in the first {pacing['seconds']:g} s",
            f"{pacing['in_window']:,} = {pacing['in_window_ratio']:.3f} x R x T",
        ),
    ]
    imports = found["imports"]
    net = imports["net_s"]
    rows += [
        Row("3 cold start", "python -c pass", f"{imports['interpreter_s'] * 1e3:.0f} ms"),
        Row("3 cold start", "import boto3 (net)", f"{net['boto3'] * 1e3:.0f} ms"),
        Row("3 cold start", "import handler (net)", f"{net['handler'] * 1e3:.0f} ms"),
        Row(
            "3 cold start",
            "handler / boto3",
            f"{imports['ratio']:.2f}",
            f"<= {IMPORT_RATIO_TARGET:g}",
            verdict(imports["ratio"] <= IMPORT_RATIO_TARGET),
        ),
        Row(
            "3 cold start",
            "import handler + sender()",
            f"{net['handler + clients'] * 1e3:.0f} ms",
        ),
    ]
    enqueue = found["enqueue"]
    if "skipped" in enqueue:
        rows.append(Row("4 enqueue", "-", enqueue["skipped"]))
    else:
        rows += [
            Row(
                "4 enqueue",
                f"CLI, {enqueue['rows']:,} rows",
                f"{enqueue['cli_wall_s']:.1f} s (start-up {enqueue['cli_startup_s']:.1f} s), "
                f"~{enqueue['cli_calls']} calls, drained {enqueue['cli_drained']:,}",
            ),
            Row(
                "4 enqueue",
                "SendMessage per message",
                f"{enqueue['loop_wall_s']:.1f} s (x{enqueue['rows'] / enqueue['loop_sample']:.1f}"
                f" from {enqueue['loop_sample']}), {enqueue['loop_calls']:,} calls",
            ),
            Row(
                "4 ratio",
                "CLI / loop",
                f"wall {enqueue['cli_wall_s'] / enqueue['loop_wall_s']:.3f}"
                f" (x{enqueue['loop_wall_s'] / enqueue['cli_wall_s']:.1f} faster), "
                f"calls {enqueue['cli_calls'] / enqueue['loop_calls']:.2f}",
            ),
        ]
    rows += ledger_rows(found["ledger"]) + capacity_rows(found["capacity"])
    if "local" in found:
        rows += local_rows(found["local"])
    return rows


def local_rows(local: dict[str, Any]) -> list[Row]:
    """The local run at a real list's size (bench/local_bench.py): rates against its targets."""
    once = local["sent"] == local["enqueued"] and not local["sent_twice"]
    return [
        Row(
            "7 local run",
            f"enqueue, {local['rows']:,} rows",
            f"{local['enqueue_rate']:,.0f} rows/s",
            f">= {local_bench.ENQUEUE_TARGET:.0f}",
            verdict(local["enqueue_rate"] >= local_bench.ENQUEUE_TARGET),
        ),
        Row(
            "7 local run",
            "sending vs the announced rate",
            f"{local['send_rate']:,.0f}/s = {local['ratio']:.2f} x {local['announced_rate']:.0f}/s",
            f">= {local_bench.RATE_TARGET:.0f}/s",
            verdict(local["send_rate"] >= local_bench.RATE_TARGET),
        ),
        Row(
            "7 local run",
            "each email once",
            f"sent {local['sent']:,} of {local['enqueued']:,}, twice {local['sent_twice']}",
            "all, once",
            verdict(once),
        ),
    ]


def ledger_calls(run: dict[str, Any]) -> int:
    return sum(count for name, count in run["other_calls"].items() if name.startswith("dynamodb"))


def ledger_rows(ledger: dict[str, Any]) -> list[Row]:
    off, on, partiql = ledger["off"], ledger["on"], ledger["partiql"]
    n = on["records"]
    rows = [
        Row(
            "5 ledger",
            "CPU per message: off / on / on, PartiQL claims",
            f"{off['cpu_us_per_message']:.0f} / {on['cpu_us_per_message']:.0f}"
            f" / {partiql['cpu_us_per_message']:.0f} us ({n:,} msgs)",
        )
    ]
    for run, label, kept in ((on, "TransactWriteItems", True), (partiql, "PartiQL", False)):
        ratio = run["cpu_us_per_message"] / off["cpu_us_per_message"]
        per_request = n / ledger_calls(run)
        calls = ", ".join(
            f"{name.split('.', 1)[1]} {count}" for name, count in run["other_calls"].items()
        )
        suffix = "" if kept else " (what-if)"
        rows += [
            Row(
                "5 ledger",
                f"CPU on / off, {label} claims{suffix}",
                f"{ratio:.2f}",
                f"<= {LEDGER_CPU_RATIO_TARGET:g}" if kept else "",
                verdict(ratio <= LEDGER_CPU_RATIO_TARGET) if kept else "",
            ),
            Row(
                "5 ledger",
                f"DynamoDB requests, {label} claims{suffix}",
                f"{ledger_calls(run):,} ({calls}): 1 per {per_request:.1f} msgs",
                f"<= 1 per {LEDGER_MESSAGES_PER_REQUEST_TARGET}" if kept else "",
                verdict(per_request >= LEDGER_MESSAGES_PER_REQUEST_TARGET) if kept else "",
            ),
        ]
    return rows


def capacity_rows(found: dict[str, Any]) -> list[Row]:
    sustained, simulated = found["sustained"], found["simulated"]
    rows = [
        Row(
            "6 sizing",
            "recipients/s one invocation's CPU sustains, "
            + ("defaults" if name == "on" else "every feature off"),
            " / ".join(f"{rate:,.0f} at {mb:,} MB" for mb, rate in sustained[name].items()),
        )
        for name in ("on", "off")
    ]
    rows.append(
        Row(
            "6 sizing",
            "one invocation's ceiling in the model (latencies too), defaults",
            " / ".join(f"{rate:,.0f} at {mb:,} MB" for mb, rate in found["ceiling"].items()),
        )
    )

    def case(name: str, label: str, target: float | None = None) -> Row:
        sim = simulated[name]
        settings = sim["settings"]
        return Row(
            "6 capacity",
            f"{label}, R = {sim['rate']:,g}/s" + ("" if sim["ledger"] else ", ledger off"),
            f"{sim['share_of_rate']:.3f} R ({sim['duration_s']:.0f} s; concurrency"
            f" {settings['max_concurrency']}, {settings['function_memory_mb']} MB)",
            f">= {target:g} R" if target else "",
            verdict(sim["share_of_rate"] >= target) if target else "",
        )

    rows += [
        case("defaults_new_account", "defaults"),
        case("defaults_900", "defaults", CAMPAIGN_DEFAULTS_TARGET),
        case("defaults_900_off", "defaults"),
        case("previous_900", "previous defaults"),
        case("defaults_2700", "defaults"),
    ]
    rows += [
        case(f"sized_{rate:.0f}", "docs/sizing.md settings", CAMPAIGN_SIZED_TARGET)
        for rate in capacity.SIZED_FOR
    ]
    return rows


def text_table(rows: list[Row]) -> str:
    header = Row("part", "measure", "figure", "target", "verdict")
    cells = [header, *rows]
    names = ("part", "measure", "figure", "target")
    widths = [max(len(getattr(r, name)) for r in cells) for name in names]
    lines = []
    for row in cells:
        fields = [getattr(row, name).ljust(w) for name, w in zip(names, widths, strict=True)]
        lines.append("  ".join([*fields, row.verdict]))
        if row is header:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 7))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| part | measure | figure | target | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        cells = [c.replace("|", "\\|") for c in (r.part, r.measure, r.figure, r.target, r.verdict)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- the machine and the report -------------------------------------------------------------


def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    reference = min(timeit.repeat("sum(range(10**6))", number=1, repeat=5))
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("boto3", "botocore", "aws-lambda-powertools")
    )
    return {
        "cpu": f"{model}, {os.cpu_count()} cores",
        "python": f"{platform.python_implementation()} {platform.python_version()}"
        f" ({platform.system()} {platform.release()})",
        "packages": versions,
        "reference": f"`sum(range(10**6))` best of 5: {reference * 1e3:.1f} ms",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": _load(),
    }


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def report(found: dict[str, Any], rows: list[Row], command: str, seconds: float) -> str:
    from bench.report import render

    return render(found, rows, command=command, seconds=seconds, table=markdown_table(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 40 s)")
    parser.add_argument("--out", type=Path, help="where to write the report")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    out = args.out or (None if args.quick else ROOT / "BENCHMARKS.md")

    setup_process()
    os.environ["AWS_ENDPOINT_URL"] = GUARD_ENDPOINT  # whatever is not faked fails on loopback
    started = time.perf_counter()

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - started:5.1f} s] {text}", flush=True)

    found: dict[str, Any] = {"plan": plan, "machine": machine()}
    load_at_start = found["machine"]["load"]
    found["defaults"] = part_defaults(plan, say)
    found["handler"] = part_handler(plan, say)
    found["pacing"] = part_pacing(plan, say)
    found["imports"] = part_imports(plan, say)
    found["cold_start"] = part_cold_start(plan, say)
    found["enqueue"] = part_enqueue(plan, say)
    found["ledger"] = part_ledger(plan, say)
    found["capacity"] = part_capacity(found, say)
    found["local"] = local_bench.part_local(say, quick=plan is QUICK)
    seconds = time.perf_counter() - started
    found["machine"]["load"] = f"{load_at_start} / {_load()}"
    rows = rows_for(found)
    print()
    print(text_table(rows))
    print()
    for row in headline(found):
        print(f"{row.measure}: {row.figure}  [{row.target}: {row.verdict}]")
    command = "python bench/run.py" + (" --quick" if args.quick else "")
    if out:
        out.write_text(report(found, rows, command, seconds))
        print(f"\nwritten: {out} ({seconds:.0f} s)")
    else:
        print(f"\n({seconds:.0f} s; BENCHMARKS.md not written for --quick: use --out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
