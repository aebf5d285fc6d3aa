"""The scheduled enqueue's handler: a run short of time invokes itself with the same input;
a finished run does not; the rows it put on the queue are its metric."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

import enqueue_handler
from bulk_sender import metric_names
from bulk_sender.schedule_enqueue import CONTINUE, DONE, Result


@dataclass
class Context:
    function_name: str = "enqueue"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:enqueue"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class Core:
    def __init__(self, result: Result) -> None:
        self.result = result
        self.payloads: list[dict[str, Any]] = []

    def run(self, payload: dict[str, Any], remaining_ms: Any) -> Result:
        self.payloads.append(payload)
        assert remaining_ms() == 60_000  # the context's clock, as given
        return self.result


class Lambda:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> None:
        self.calls.append(request)


EVENT = {"campaign": "xmas", "instant": "20261224T080000Z", "rows": 5, "key": "campaigns/x"}


@pytest.mark.parametrize(("state", "continues"), [(CONTINUE, True), (DONE, False)])
def test_a_run_short_of_time_continues_in_a_new_invocation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], state: str, continues: bool
) -> None:
    core, client = Core(Result(state=state, enqueued=1000)), Lambda()
    monkeypatch.setattr(enqueue_handler, "_enqueuer", core)
    monkeypatch.setattr(enqueue_handler, "_lambda", client)

    response = enqueue_handler.lambda_handler(dict(EVENT), Context())

    assert response["state"] == state
    assert core.payloads == [EVENT]
    expected = [
        {
            "FunctionName": Context.invoked_function_arn,
            "InvocationType": "Event",
            "Payload": json.dumps(EVENT),
        }
    ]
    assert client.calls == (expected if continues else [])
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    # (Powertools writes each metric as a list of its values)
    assert [m[metric_names.SCHEDULED_ROWS_ENQUEUED] for m in metrics] == [[1000.0]]
