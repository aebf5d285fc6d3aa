"""The local run's printed summary says what happened to every invocation."""

from bulkmail.local.summary import Summary


def _invocations_line(summary: Summary) -> str:
    (line,) = [line for line in summary.lines() if line.startswith("invocations")]
    return line


def test_invocations_that_raised_are_printed_with_what_lambda_does_about_them():
    # Given a run in which 2 of 12 invocations raised
    summary = Summary(invocations=12, invocation_errors=2)
    # Then the summary says so, and that their batches are retried whole
    assert _invocations_line(summary).split() == [
        "invocations",
        "12",
        "(2",
        "raised:",
        "Lambda",
        "retries",
        "their",
        "whole",
        "batch)",
    ]


def test_a_run_without_failed_invocations_prints_the_count_alone():
    # Given a run whose invocations all answered
    # Then the line holds the count alone
    assert _invocations_line(Summary(invocations=10)).split() == ["invocations", "10"]


def test_a_crash_on_purpose_and_an_invocation_that_raised_are_both_named():
    # Given a run with one crash injected and one invocation that raised
    crashed = Summary(invocations=10, crashes=1, invocation_errors=1)
    # Then both are named
    assert "(1 crashed on purpose; 1 raised" in _invocations_line(crashed)
