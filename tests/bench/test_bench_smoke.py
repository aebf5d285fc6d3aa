"""Each benchmark at a tiny size: structure only (calls, accounting, figures present).

No timed assertion: benchmarks are not tests (issue 7). The fakes answer in-process; the
only sockets are the cold-start and enqueue parts' subprocesses, on loopback.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import (
    baselines,
    capacity,
    cold_start,
    defaults_bench,
    enqueue_bench,
    handler_bench,
    import_bench,
    pacing_bench,
    run,
)
from bench.harness import ROOT
from bench.workload import expected_calls, group_sizes, make_event

SMALL = 120
INVALID = 3


def positive(*figures: float) -> bool:
    return all(isinstance(f, int | float) and math.isfinite(f) and f > 0 for f in figures)


@pytest.fixture(scope="module")
def found():
    """A tiny run of every part, shaped as bench/run.py collects them. The parts that wait
    on subprocesses (cold start, enqueue) run alongside the in-process ones."""
    with ThreadPoolExecutor(2) as pool:
        imports = pool.submit(import_bench.run_imports, 1, warm=False)
        enqueue = pool.submit(enqueue_bench.run_enqueue, 30, sample=6, startup=False)
        cold = pool.submit(cold_start.run_cold_start, 1)
        defaults = pool.submit(defaults_bench.run_all, 400, 1)
        found = in_process_parts()
        found["imports"] = imports.result()
        found["enqueue"] = enqueue.result()
        found["cold_start"] = cold.result()
        found["defaults"] = defaults.result()
    found["capacity"] = run.part_capacity(found, lambda _: None)
    return found


def in_process_parts():
    records = make_event(SMALL)[0]["Records"]
    return {
        "plan": run.QUICK,
        "machine": dict.fromkeys(("cpu", "python", "packages", "reference", "date", "load"), "x"),
        "handler": {
            "main": handler_bench.run_handler(SMALL, latency=0.001, in_flight=4, invalid=INVALID),
            "send_email": baselines.run_baseline(
                "send_email_loop", records, latency=0.0, sample=SMALL // 2
            ),
            "bulk_sequence": baselines.run_baseline(
                "bulk_chunks_in_sequence", records, latency=0.0
            ),
            "profile": handler_bench.run_handler(60, latency=0.0, profile=5)["profile"],
            "cached": handler_bench.run_handler(60, latency=0.0, what_if=("cached_addresses",)),
        },
        "ledger": {
            "off": handler_bench.run_handler(60, latency=0.0),
            "on": handler_bench.run_handler(60, latency=0.0, ledger=True),
            "partiql": handler_bench.run_handler(
                60, latency=0.0, ledger=True, what_if=("partiql_claims",)
            ),
        },
        "pacing": pacing_bench.run_pacing(200.0, 0.5, latency=0.001),
    }


def test_the_workload_has_the_groups_it_says():
    event, sizes = make_event(SMALL, invalid=INVALID)
    assert sum(sizes) == SMALL
    assert len(sizes) == 5
    assert len(event["Records"]) == SMALL + INVALID
    assert sizes == group_sizes(SMALL)
    assert expected_calls(sizes) == sum(math.ceil(s / 50) for s in sizes)


def test_the_handler_makes_the_expected_calls_and_accounts_for_every_record(found):
    main = found["handler"]["main"]
    assert main["calls"] == main["expected_calls"] == expected_calls(group_sizes(SMALL))
    assert main["sent"] == SMALL
    assert main["dead_lettered"] == INVALID
    assert main["accounted"] == main["records"] == SMALL + INVALID
    assert main["metrics"]["EmailsSent"] == SMALL
    assert main["metrics"]["InvalidMessages"] == INVALID
    assert main["metrics"]["SendBulkEmailCalls"] == main["calls"]
    assert main["latency_values"] == main["calls"]
    assert positive(
        main["wall_s"], main["cpu_us_per_message"], main["peak_rss_mb"], main["event_bytes"]
    )


@pytest.mark.parametrize(
    ("part", "key", "requests"),
    [
        ("handler", "cached", {}),
        ("ledger", "off", {}),
        # the batch's 60 claims in one transaction (up to 100 each), its completions pooled
        # across its 5 calls, 25 a request
        ("ledger", "on", {"dynamodb.TransactWriteItems": 1, "dynamodb.BatchWriteItem": 3}),
        # PartiQL: one claim request per 25 statements, the same completions
        ("ledger", "partiql", {"dynamodb.BatchExecuteStatement": 3, "dynamodb.BatchWriteItem": 3}),
    ],
)
def test_the_what_ifs_send_the_same_and_say_what_they_called(found, part, key, requests):
    result = found[part][key]
    assert result["calls"] == result["expected_calls"]
    assert result["sent"] == result["accounted"] == 60
    assert result["other_calls"] == requests
    assert positive(result["wall_s"], result["cpu_us_per_message"])


def test_the_profile_covers_the_worker_threads(found):
    profile = found["handler"]["profile"]
    assert positive(profile["total_cpu_s"])
    assert "botocore (validate, serialise, sign, parse)" in profile["areas_s"]
    assert "ncalls" in profile["top"]


def test_the_baselines_make_their_calls(found):
    email, bulk = found["handler"]["send_email"], found["handler"]["bulk_sequence"]
    assert email["measured_calls"] == email["measured_sent"] == SMALL // 2
    assert email["calls"] == SMALL
    assert bulk["calls"] == expected_calls(group_sizes(SMALL))
    assert bulk["measured_sent"] == SMALL
    assert positive(email["wall_s"], email["cpu_us_per_message"], bulk["wall_s"])


def test_the_capacity_model_sends_the_whole_campaign_in_each_case(found):
    simulated = found["capacity"]["simulated"]
    assert {"defaults_900", "defaults_2700", "sized_2700"} <= set(simulated)
    for case in simulated.values():
        assert case["sent"] == case["messages"] == capacity.campaign_for(case["rate"])
        assert sum(case["phases"].values()) == pytest.approx(1.0)
        # never above R by more than the first calls, which go at once (the buckets start
        # empty and a call takes its tokens as debt)
        first_calls = case["settings"]["max_concurrency"] * 50
        assert 0 < case["share_of_rate"] <= 1 + first_calls / (case["rate"] * case["duration_s"])
    # More concurrent invocations at the same R never make the model slower to send
    assert simulated["defaults_900"]["share_of_rate"] >= simulated["previous_900"]["share_of_rate"]
    sustained = found["capacity"]["sustained"]["on"]
    assert list(sustained) == [512, 1024, 1769]
    assert sustained[512] < sustained[1024] < sustained[1769]


def test_the_sizing_page_names_the_modelled_settings():
    # Given the settings the capacity model checks for each account rate
    page = (ROOT / "docs" / "sizing.md").read_text(encoding="utf-8")
    section = page[page.index("\n## Sizing for") + 1 :]
    section = section[: section.index("\n## ", 1)]
    # Then the sizing page's section names each of them
    for rate, changes in capacity.SIZED_FOR.items():
        assert f"{rate:,.0f}" in section
        for key, value in changes.items():
            assert f"`{key}` {value}" in section or f"{key}={value}" in section


def test_the_defaults_run_reads_the_stack_and_counts_every_request(found):
    run = found["defaults"]
    defaults, off = run["defaults"], run["off"]
    # The defaults are the synthesized stack's: every feature on; "off" has none of them
    assert {"IDEMPOTENCY_TABLE", "STATUS_TABLE", "SUPPRESSION_TABLE"} <= set(defaults["features"])
    assert off["features"] == []
    for config in (defaults, off):
        assert config["sent"] == config["accounted"] == 400
        assert config["batch_size"] == 200
    # The defaults talk to DynamoDB (claims, completions, suppression, status); off does not
    assert set(defaults["dynamodb_requests"]) >= {"TransactWriteItems", "BatchWriteItem"}
    assert "BatchGetItem" in defaults["dynamodb_requests"]
    assert off["dynamodb_requests"] == {}
    assert defaults["dynamodb_per_message"] == sum(defaults["dynamodb_requests"].values()) / 400
    floor = run["floor"]
    assert floor["us_per_message"] == pytest.approx(
        floor["ses_us_per_message"] + floor["dynamodb_us_per_message"]
    )
    assert positive(run["defaults_over_floor"], run["defaults_over_off"])


def test_the_cold_start_runs_read_only_assets_without_the_crt(found):
    cold = found["cold_start"]
    assert cold["crt_in_asset"] is False
    assert set(cold["net_s"]) >= {"boto3 asset", "function asset"}
    assert all(isinstance(v, float) for v in cold["net_s"].values())
    assert not list((cold_start.BUILD / "function").rglob("__pycache__"))


def test_the_headline_names_its_four_figures(found):
    rows = run.headline(found)
    measures = " ".join(row.measure for row in rows)
    for words in ("defaults / floor", "DynamoDB requests", "2,700/s", "cold start"):
        assert words in measures
    assert all(row.verdict in {"", "met", "MISSED"} for row in rows)


def test_pacing_sends_everything_and_measures_a_rate(found):
    pacing = found["pacing"]
    assert pacing["accounted"] == pacing["sent"] == pacing["messages"]
    assert pacing["calls"] == math.ceil(pacing["messages"] / 50)
    assert positive(pacing["achieved"], pacing["span_s"], pacing["in_window"])


def test_cold_start_figures_come_from_fresh_processes(found):
    imports = found["imports"]
    assert set(imports["net_s"]) == {"boto3", "handler", "handler + clients"}
    # A process's wall time is positive; a net time (a difference of two medians) may be
    # anything on a loaded machine: only its presence is checked, never its sign
    assert positive(imports["interpreter_s"])
    assert all(isinstance(f, float) for f in (imports["ratio"], *imports["net_s"].values()))
    assert imports["beyond_boto3"]


def test_enqueue_runs_or_says_the_cli_is_not_built(found):
    enqueue = found["enqueue"]
    if not enqueue_bench.cli_available():
        assert enqueue == {"skipped": enqueue_bench.NOT_BUILT}
        return
    assert enqueue["cli_drained"] == enqueue["rows"] == 30
    assert enqueue["loop_drained"] == 6
    assert positive(enqueue["cli_wall_s"], enqueue["loop_wall_s"])


def test_the_report_renders_every_part(found):
    rows = run.rows_for(found)
    text = run.text_table(rows)
    assert "SendBulkEmail calls" in text
    assert {row.verdict for row in rows} <= {"", "met", "MISSED"}
    markdown = run.report(found, rows, "python bench/run.py --quick", 1.0)
    assert markdown.startswith("# Benchmarks")
    assert "| 2 pacing |" in markdown


def test_a_fresh_process_measures_the_same_way():
    result = handler_bench.measure_in_subprocess(messages=20, latency=0.0, in_flight=2)
    assert result["calls"] == result["expected_calls"]
    assert result["accounted"] == 20
    assert positive(result["peak_rss_mb"])
