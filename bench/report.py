"""BENCHMARKS.md from one run's figures (bench/run.py)."""

from __future__ import annotations

import textwrap
from typing import Any

from bench import capacity

WIDTH = 92


def para(*parts: str, bullet: str = "") -> str:
    """One paragraph (or list item) from fragments, wrapped."""
    indent = " " * len(bullet)
    text = " ".join(part.strip() for part in parts if part.strip())
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent=bullet,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def render(
    found: dict[str, Any], rows: list[Any], *, command: str, seconds: float, table: str
) -> str:
    plan, machine = found["plan"], found["machine"]
    out = [
        "# Benchmarks",
        "",
        para(
            "Written by `make bench` (`python bench/run.py`): the figures of the last run",
            "(issues 7, 14 and 23, DESIGN.md section 10). Benchmarks are not tests: nothing",
            "here asserts; `tests/bench` runs each benchmark at a tiny size and checks its",
            "structure only.",
        ),
        "",
        *_headline(found),
        "## Machine and command",
        "",
        para(f"CPU: {machine['cpu']}", bullet="- "),
        para(f"Python: {machine['python']}; {machine['packages']}", bullet="- "),
        para(
            f"Speed reference: {machine['reference']} (compare this line before comparing",
            "figures across machines: CPU figures scale with it)",
            bullet="- ",
        ),
        para(
            f"Load average at start / end: {machine['load']} (other work on the machine",
            "lengthens wall times, not CPU times)",
            bullet="- ",
        ),
        para(f"Date: {machine['date']}", bullet="- "),
        para(f"Command: `{command}` ({seconds:.0f} s)", bullet="- "),
        "",
        "## Results",
        "",
        table,
        "",
    ]
    out += _method(found, plan)
    out += _misses(found)
    out += _ledger(found["ledger"])
    out += _capacity(found["capacity"])
    out += _profile(found["handler"])
    imports = found["imports"]
    import_lines = ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports["beyond_boto3"])
    out += [
        "## Cold start detail",
        "",
        para(
            "What `import handler` imports beyond boto3 (`-X importtime`, cumulative):",
            f"{import_lines}.",
        ),
        "",
    ]
    return "\n".join(out).rstrip() + "\n"


def _headline(found: dict[str, Any]) -> list[str]:
    """Issue 23's ratios first: each measured against its baseline in this same run."""
    if "defaults" not in found:
        return []
    from bench.run import headline, markdown_table

    run = found["defaults"]
    defaults = run["defaults"]
    requests = run["floor"]["requests"]
    cold = found["cold_start"]
    return [
        "## The defaults, in ratios",
        "",
        markdown_table(headline(found)),
        "",
        para(
            "**How.** The real handler with the environment `cdk deploy` gives the sender by",
            "default, read from the synthesized template (bench/stack_env.py: the idempotency",
            "ledger, campaign status, signed unsubscribe links and the suppression check all",
            f"on: {', '.join(defaults['features'])}), beside the same environment with none of",
            f"them; {defaults['messages']:,} messages in SQS batches of the mapping's",
            f"{defaults['batch_size']} (five campaigns interleaved in every batch), one warm",
            "container, every AWS service faked in process at zero latency (only",
            "`MAX_SEND_RATE` is lifted: pacing waits, it does not compute). CPU is the",
            "process's CPU time, every thread, less the fakes' own, per message; the least of",
            f"{len(defaults['cpu_us_runs'])} run(s) (other work on the machine only adds to a",
            "CPU time; the floor's figures are the least of five too). The floor is what no",
            "sender avoids:",
            "botocore serializing and SigV4-signing the handler's own requests (captured in",
            "the defaults run; endpoint resolved once), per SendBulkEmail entry, plus per",
            "DynamoDB item times the items per message the defaults needed: "
            + "; ".join(
                f"{key.split('.', 1)[1]} {value['us_per_item']:.1f} us an item"
                for key, value in sorted(requests.items())
            )
            + ". DynamoDB requests are counted by the fake.",
        ),
        "",
        para(
            "**Cold start** (bench/cold_start.py): `import handler` in fresh processes, CPU",
            "time less `python -S -c pass`, with the function's asset built as the stack builds",
            "it (pinned wheels by pip, then lambda_src; no AWS CRT in the default stack) and a",
            "bare asset of boto3 and botocore at the same pins whose handler imports boto3;",
            "both read-only, PYTHONDONTWRITEBYTECODE=1, no site-packages, as Lambda's",
            f"/var/task. Assets: {cold['asset_mb']['function']:.0f} MB and",
            f"{cold['asset_mb']['boto3']:.0f} MB. With bytecode compiled for this Python",
            f"({cold['python']}), the function's import would cost",
            f"{cold['net_s']['function asset, with bytecode'] * 1e3:.0f} ms: the build cannot",
            "ship bytecode for Lambda's Python 3.14 from a machine without 3.14",
            "(docs/sizing.md).",
        ),
        "",
    ]


def _method(found: dict[str, Any], plan: Any) -> list[str]:
    main = found["handler"]["main"]
    pacing, imports = found["pacing"], found["imports"]
    n = main["records"]
    return [
        "## How each part is measured",
        "",
        para(
            f"**1. Handler.** A synthetic SQS event of {n:,} records",
            f"({main['event_bytes'] / n / 1e3:.2f} KB each with Lambda's envelope,",
            f"{main['event_bytes'] / 1e6:.1f} MB in all). Lambda's 6 MB invocation payload",
            f"holds about {main['records_per_6mb']:,} such records, so no invocation gets",
            "10,000 at once: the event is synthetic, the figures per message hold all the same.",
            "Bodies as the CLI enqueues them: a recipient (one in three with a display name,",
            "some non-ASCII), a sender with a display name, a stored template, five data",
            "fields, two tags, an id, List-Unsubscribe and List-Unsubscribe-Post headers; five",
            "(from, template) groups of",
            f"{', '.join(f'{g:,}' for g in main['groups'])} messages, interleaved.",
        ),
        "",
        para(
            "The real `handler.lambda_handler` runs with Powertools on (logs to /dev/null, so",
            "their cost counts but not a terminal's; the EMF metrics are captured and read",
            "back), with the sender `handler.sender()` builds from the environment:",
            f"`MAX_CALLS_IN_FLIGHT={main['in_flight']}`, `MAX_SEND_RATE=1e9` (a token bucket",
            "that never waits: no rate limit), `DEFAULT_TAGS`, `CONFIGURATION_SET_NAME`, and no",
            "`IDEMPOTENCY_TABLE` (the ledger's cost is measured apart). SES and SQS are the",
            "core's own boto3 clients, answered at the HTTP layer by a botocore `before-send`",
            f"hook after {main['latency_s'] * 1e3:.0f} ms (no socket; the endpoints point at a",
            "closed loopback port), so botocore's validation, serialisation, signing and parsing",
            "are measured. The container is warm (one small invocation first, like a",
            f"container's first invocation); the median of {plan.repeats} run(s) is shown. CPU",
            "is the process's CPU time (every thread) less the fake's own CPU (measured per",
            "thread); sleeping is not CPU. Peak memory is the peak RSS of a fresh process that",
            "built the event and ran the invocations: what Lambda reports as Max Memory Used.",
            "The SendBulkEmailLatency metric (p50 in the table) is timed around the client",
            "call, so it includes botocore's work and the wait for the GIL, not just SES.",
        ),
        "",
        para(
            "Baselines, same event and fake: one SES v2 `SendEmail` (stored template, same",
            "headers and tags) per message in sequence, on the first",
            f"{plan.send_email_sample} messages and scaled; SendBulkEmail in chunks of 50 per",
            "(from, template), one call after the other. Both are bare loops (no validation,",
            "no logging, no DLQ): the cheapest form of each approach.",
        ),
        "",
        para(
            f"**2. Pacing.** `MAX_SEND_RATE` = R = {pacing['rate']:.0f} recipients/s, one",
            "recipient a message, with the token bucket `handler.sender()` builds, created",
            "empty at the invocation's first call; fake SES at",
            f"{pacing['latency_s'] * 1e3:.0f} ms; real clock; {pacing['messages']:,} messages",
            f"({pacing['seconds']:g} s at R, plus one call). Achieved = recipients sent before",
            "the last call / (last send - first send): each call's recipients spread over the",
            "interval to the next; the verdict allows 10 ms for the precision of the stamps.",
            "The count in the first T seconds is shown too: the first call goes at once (an",
            "empty bucket, no wait) and its debt delays the next, so a window that starts with",
            "a call holds up to one call more than R x T (section 4: a call is never refused",
            "for being larger than the bucket).",
        ),
        "",
        para(
            "**3. Cold start.** `python -c 'import handler'` (lambda_src on PYTHONPATH, the",
            "handler's environment set) against `python -c 'import boto3'`, in fresh",
            f"processes, {imports['repeats']} repetitions each, interleaved; medians, less the",
            "median of `python -c pass`. An untimed first run writes the bytecode caches (ship",
            ".pyc files: /var/task is read-only). `import handler + sender()` adds building the",
            "sender and its clients, which the first invocation does before its first call.",
        ),
        "",
        para(
            "**4. Enqueue.** The CLI (`python -m bulkmail enqueue` of a CSV campaign, start-up",
            "included) against one `SendMessage` per message in sequence (on a sample, scaled),",
            "both to moto's server (the project's emulator) in a process of its own on",
            "127.0.0.1, while a drainer receives and deletes (moto's SQS slows down as a queue",
            "grows). moto bounds both figures: real SQS answers faster.",
        ),
        "",
    ]


def _misses(found: dict[str, Any]) -> list[str]:
    handler = found["handler"]
    main, bulk = handler["main"], handler["bulk_sequence"]
    out = ["## Targets missed, and why", ""]
    if main["cpu_us_per_message"] > 50 or main["wall_s"] > 2.0:
        out += [
            para(
                f"**CPU per message ({main['cpu_us_per_message']:.0f} us, target 50) and wall",
                f"time ({main['wall_s']:.2f} s, target 2 s).** The wall time follows from the",
                "CPU: the handler is CPU-bound under the GIL (the 40 ms waits overlap, with 10",
                f"calls in flight, but CPU does not): {main['cpu_s']:.2f} s of CPU in",
                f"{main['wall_s']:.2f} s{_load_note(main)}",
                "50 us a message is less than botocore alone spends on",
                "a SendBulkEmail entry here: the bare SendBulkEmail loop of the baselines, which",
                f"validates and logs nothing, takes {bulk['cpu_us_per_message']:.0f} us a",
                "message. In the profile below botocore (its rest-json serialiser and response",
                "parser; the SES client's parameter validation is off) has the largest share,",
                "then the core's parsing",
                "(`parse_message`: JSON, addresses with IDNA and RFC 2047, a frozen dataclass",
                "of 14 fields).",
            ),
            "",
        ]
        if "cached" in handler:
            cached = handler["cached"]
            out += [
                para(
                    "Measured on the same event, with memoised address normalisation swapped",
                    "in by the benchmark (`message._address`; a batch repeats its senders and",
                    f"domains): {cached['cpu_us_per_message']:.0f} us a message,",
                    f"{cached['wall_s']:.2f} s.",
                ),
                "",
                para(
                    "What remains is mostly botocore's serialiser and response parser, per",
                    "entry, and the validation the design requires. On this machine 50 us a",
                    "message is out of reach for a sender built on a Python SDK; the 2 s wall",
                    f"time needs at most about {2e6 / main['records']:.0f} us of CPU a message,",
                    "since the wall time is bound by the CPU time. Both scale with the CPU:",
                    "Lambda gives one full vCPU at 1,769 MB, a fraction below.",
                ),
                "",
            ]
    return out if len(out) > 2 else []


def _load_note(run: dict[str, Any]) -> str:
    if run["wall_s"] > 1.1 * run["cpu_s"]:
        return " (the difference: other work on the machine, see the load average)."
    return "."


def _ddb(run: dict[str, Any]) -> int:
    return sum(v for k, v in run["other_calls"].items() if k.startswith("dynamodb"))


def _ledger(ledger: dict[str, Any]) -> list[str]:
    off, on, partiql = ledger["off"], ledger["on"], ledger["partiql"]
    n = on["records"]
    cpu_gap = partiql["cpu_us_per_message"] / on["cpu_us_per_message"] - 1
    return [
        "## The idempotency ledger: claims per call, and which route",
        "",
        para(
            f"**5. Ledger.** The same {n:,}-message event as part 1, three fresh processes in",
            "a row: `IDEMPOTENCY_TABLE` unset; set (the stack's default), with the core's",
            "claims; set, with the claims swapped for PartiQL (bench/partiql_ledger.py). The",
            "ledger's DynamoDB client is the core's own (`ledger_client()`: parameter",
            "validation off, like SES's), answered by the fake at 5 ms, every claim granted.",
            f"CPU per message: {off['cpu_us_per_message']:.0f} us off,",
            f"{on['cpu_us_per_message']:.0f} us on",
            f"({on['cpu_us_per_message'] / off['cpu_us_per_message']:.2f}x),",
            f"{partiql['cpu_us_per_message']:.0f} us with PartiQL claims",
            f"({partiql['cpu_us_per_message'] / off['cpu_us_per_message']:.2f}x). DynamoDB",
            f"requests: {_ddb(on):,} (1 per {n / _ddb(on):.1f} messages) against",
            f"{_ddb(partiql):,} (1 per {n / _ddb(partiql):.1f}). Before this issue the",
            "ledger claimed each id with its own conditional PutItem: about 1,800 us of CPU",
            "and 2,082 requests per 2,000 messages (1.04 a message).",
        ),
        "",
        para(
            "**Why TransactWriteItems.** A call's claims are one TransactWriteItems (up to 100",
            "actions, all or nothing); completions stay 25 to a BatchWriteItem. CPU does not",
            "decide between the routes: PartiQL claims cost",
            f"{cpu_gap:+.0%} against the transaction's CPU a message here (a transaction's",
            "action carries its condition, a PartiQL statement is a string and its",
            "parameters): tens of microseconds a message either way, while what bounds an",
            "invocation is not its CPU (part 6). Requests: a call of",
            "50 is 1 transaction and 2 completion writes, 3 requests",
            "(1 per 16.7 messages), where PartiQL needs 2 claim requests (25 statements each):",
            "4 per call, 1 per 12.5, over the target. A redelivery or a re-enqueued campaign:",
            "a transaction cancelled by taken ids names each of them with its old item",
            "(completed: skip; claimed: retry) and claims the rest in a second round; PartiQL's",
            "INSERT answers DuplicateItem without the item, so every id seen before costs a",
            "second, conditional UPDATE round to learn which. Failure: a transaction leaves",
            "nothing half-claimed (a call's claims cannot leak), and its client token makes",
            "the SDK's retry of a lost answer harmless; 25 separate statements can half",
            "succeed, and each taken claim must then be released. The price: a transactional",
            "write costs two write units, so a message costs 3 write units (claim 2, completion",
            "1) instead of 2: on demand at $0.625 a million write units (us-east-1), 0.19 US",
            "cents per 1,000 messages instead of 0.13, next to SES's 10 cents.",
        ),
        "",
    ]


def _capacity(found: dict[str, Any]) -> list[str]:
    simulated, assumed = found["simulated"], found["assumed"]
    defaults = simulated["defaults_900"]["settings"]
    lines = [
        "## Sizing and the capacity model",
        "",
        para(
            "**6. Sizing.** Lambda gives CPU in proportion to memory, a full vCPU at 1,769 MB;",
            "the handler runs its CPU work on one core (the GIL), so one invocation sustains",
            "at most share x 1e6 / (CPU us per message) recipients per second (one recipient a",
            "message), from part 5's figures. This assumes a Lambda vCPU as fast as this",
            "machine's core (see the speed reference above).",
        ),
        "",
        para(
            "**The capacity model** (bench/capacity.py) simulates a campaign of three minutes",
            "of sending at R (at least",
            f"{capacity.CAMPAIGN:,} messages), on the queue at t = 0, through the whole path:",
            "the SQS event source (five concurrent batches at once, up to 300 more a minute, at",
            "most `max_concurrency`; ReceiveMessage 10 messages at a time; the batching window",
            "for a short batch), cold starts (sandbox, then the CPU time of `import handler;",
            f"handler.sender()` in a fresh process, {found['init_cpu_s']:.2f} s here, scaled by",
            "the CPU share), each invocation's single CPU at part 0's cost per message at the",
            "defaults, and every round trip of the default features in the handler's order:",
            "the suppression check (a BatchGetItem per 100 recipients), the batch's claims (a",
            "transaction per 100), the calls `max_calls_in_flight` at a time, each pacing",
            "through the real TokenBucket at R / `max_concurrency`, waiting for SES and",
            "writing its completions, then the last completions and the campaigns' counts.",
            "Five campaigns share every batch (more, smaller calls). R is what the stack",
            "paces for: 0.9 x the account's MaxSendRate. The share of R is sent / (time of the",
            "last send) / R. Assumed latencies (not measured: no AWS here):",
            f"SendBulkEmail {assumed['ses_call_s'] * 1e3:.0f} ms,",
            f"TransactWriteItems {assumed['transaction_s'] * 1e3:.0f} ms,",
            f"BatchWriteItem {assumed['batch_write_s'] * 1e3:.0f} ms,",
            f"BatchGetItem {assumed['batch_get_s'] * 1e3:.0f} ms,",
            f"ReceiveMessage {assumed['receive_s'] * 1e3:.0f} ms,",
            f"invoke {assumed['invoke_s'] * 1e3:.0f} ms, sandbox start",
            f"{assumed['sandbox_s'] * 1e3:.0f} ms; half of a message's CPU before its call.",
            "Nothing fails in the model.",
        ),
        "",
        para(
            "Where the time goes (the share of the slots' time in each phase, at R = 2,700/s",
            "with the sizing's settings): "
            + ", ".join(
                f"{name} {share:.0%}" for name, share in simulated["sized_2700"]["phases"].items()
            )
            + ". The event source's receives and the SES round trips of each wave of calls",
            "take most of it; the handler's own serial phases (suppression, claims, the last",
            "writes) a tenth: more calls in flight (fewer waves) and more concurrent",
            "invocations are the levers, not CPU.",
        ),
        "",
        para(
            f"With the defaults (`max_concurrency` {defaults['max_concurrency']},",
            f"{defaults['function_memory_mb']} MB, batches of {defaults['batch_size']},",
            f"{defaults['max_calls_in_flight']} calls in flight) the campaign reaches",
            f"{simulated['defaults_900']['share_of_rate']:.3f} R at R = 900/s (2 concurrent",
            f"invocations, the older default: {simulated['previous_900']['share_of_rate']:.3f}",
            "R). One invocation's own ceiling (unpaced, in the model) is",
            ", ".join(f"{rate:,.0f}/s at {mb:,} MB" for mb, rate in found["ceiling"].items()),
            "(its CPU alone would allow",
            ", ".join(f"{rate:,.0f}/s" for rate in found["sustained"]["on"].values()) + ").",
            "At R = 2,700/s the defaults reach",
            f"{simulated['defaults_2700']['share_of_rate']:.3f} R; docs/sizing.md's",
        ),
    ]
    for rate, changes in capacity.SIZED_FOR.items():
        sim = simulated[f"sized_{rate:.0f}"]
        named = ", ".join(f"`{key}` {value}" for key, value in changes.items())
        lines[-1] += " " + para(
            f"settings for R = {rate:,.0f}/s ({named}) reach {sim['share_of_rate']:.3f} R."
        )
    lines[-1] = para(lines[-1])
    return [*lines, ""]


def _profile(handler: dict[str, Any]) -> list[str]:
    if "profile" not in handler:
        return []
    profile = handler["profile"]
    total = profile["total_cpu_s"]
    out = [
        "## Where the handler's CPU goes",
        "",
        para(
            "cProfile of one warm invocation (2,000 messages of the same shape), every thread,",
            "timed by each thread's CPU clock (waits and sleeps cost nothing); a builtin's time",
            "goes to its callers' area. The profiler inflates functions called often: read the",
            "shares, not the seconds.",
        ),
        "",
        "| area | share |",
        "|---|---|",
    ]
    for area, spent in profile["areas_s"].items():
        out.append(f"| {area} | {spent / total:.0%} |")
    out += ["", "```", profile["top"], "```", ""]
    return out
