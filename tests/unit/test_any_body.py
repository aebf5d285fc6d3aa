"""No record can sink its batch: whatever the bodies, the real handler answers and every
record ends sent, retried or in the DLQ (DESIGN.md section 5)."""

import json
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handler
from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.preflight import TemplateCheck
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSes, FakeSqs, message, record

TEMPLATES = {"welcome": {"Subject": "Hi {{n}}", "Text": "{{items.[0]}}{{#if x}}{{y}}{{/if}}"}}


@dataclass
class Context:
    function_name: str = "sender"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:sender"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def invoke(bodies, templates=TEMPLATES):
    """The handler over fakes: returns its answer, what reached the DLQ and SES."""
    ses, sqs = FakeSes(templates=templates), FakeSqs()
    sender = BulkSender(
        Settings(dlq_url="https://sqs.example/dlq"),
        ses=ses,
        sqs=sqs,
        limiter=Unpaced(),
        preflight=TemplateCheck(ses),
    )
    previous, handler._sender = handler._sender, sender
    try:
        records = [{**record("", f"m{i}"), "body": body} for i, body in enumerate(bodies)]
        response = handler.lambda_handler({"Records": records}, Context())
    finally:
        handler._sender = previous
    return response, sqs, ses


def assert_every_record_accounted_for(bodies, response, sqs, ses):
    ids = [f"m{i}" for i in range(len(bodies))]
    retried = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    dead = list(sqs.dlq_codes())
    sent = sum(len(request["BulkEmailEntries"]) for request in ses.requests)
    assert set(retried) | set(dead) <= set(ids)
    assert not set(retried) & set(dead)
    assert len(retried) + len(dead) + sent == len(ids)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Bodies shaped like messages, whose every field may hold anything.
fields = st.sampled_from(
    [
        *("to", "cc", "bcc", "from", "template", "content", "data", "headers", "tags"),
        *("reply_to", "feedback_to", "configuration_set", "id", "unknown\x00field"),
    ]
)
near_messages = st.builds(
    lambda base, extra: json.dumps({**base, **extra}),
    st.just(message(1)),
    st.dictionaries(fields, json_values, max_size=3),
)
deep = st.builds(
    lambda depth, key: (
        json.dumps({**message(2), "data": {}})[:-1]
        + f', "{key}": '
        + "[" * depth
        + "]" * depth
        + "}"
    ),
    st.integers(1, 50_000),
    st.sampled_from(["data", "tags", "headers"]),
)
bodies = st.one_of(
    st.text(),
    st.binary().map(lambda raw: raw.decode("latin-1")),  # SQS bodies are text: any bytes
    json_values.map(json.dumps),
    near_messages,
    deep,
    st.just(json.dumps(message(3, data={"n": 3, "items": {"²": 1}}))),
)


@settings(
    max_examples=150,
    deadline=None,  # no test depends on timing
    derandomize=True,  # the same examples on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(bodies, min_size=1, max_size=6))
def test_whatever_the_bodies_the_handler_answers_and_accounts_for_every_record(batch):
    # Given a batch of arbitrary bodies (text, bytes, JSON, near-messages, deep nesting)
    # When the real handler runs over fakes
    response, sqs, ses = invoke(batch)
    # Then it answered, and every record is sent, retried or dead-lettered: exactly one
    assert_every_record_accounted_for(batch, response, sqs, ses)


@pytest.mark.parametrize("field", ["data", "tags", "to"])
def test_a_deeply_nested_body_is_invalid_and_its_neighbours_are_sent(field):
    # Given a 10 KB body nesting 5,000 levels deep between two good messages
    nested = "[" * 5000 + "]" * 5000
    bad = json.dumps({**message(1), field: "NEST"}).replace('"NEST"', nested)
    # When the handler runs
    assert len(bad) > 10_000
    response, sqs, ses = invoke([json.dumps(message(0)), bad, json.dumps(message(2))], {})
    # Then the batch is answered: the nested one is InvalidMessage, the others are sent
    assert response == {"batchItemFailures": []}
    assert sqs.dlq_codes() == {"m1": "InvalidMessage"}
    assert sorted(ses.sent_recipients) == ["user0@example.org", "user2@example.org"]


def test_a_template_path_with_a_non_ascii_digit_does_not_sink_the_batch():
    # Given a template that indexes {{items.[²]}} ('²' is a digit to Python, not an index)
    templates = {"odd": {"Subject": "Hi", "Text": "{{items.[²]}}"}}
    ses, sqs = FakeSes(templates=templates), FakeSqs()
    sender = BulkSender(
        Settings(dlq_url="https://sqs.example/dlq"), ses=ses, sqs=sqs, limiter=Unpaced()
    )
    records = [
        record(message(0, template="odd", data={"items": [1, 2, 3]}), "m0"),
        record(message(1, template="odd", data={"items": {"²": "x"}}), "m1"),
    ]
    # When the batch is processed
    result = sender.process(records)
    # Then the one lacking the key is MissingTemplateData, the other is sent; nothing raised
    assert result.failures == []
    assert sqs.dlq_codes() == {"m0": "MissingTemplateData"}
    assert ses.sent_recipients == ["user1@example.org"]


def test_a_check_that_raises_unexpectedly_costs_only_its_record():
    # Given a pre-flight check that fails on one message with an error nobody foresaw
    def preflight(email):
        if email.to == ("user1@example.org",):
            raise RuntimeError("a bug")
        return None

    ses, sqs = FakeSes(), FakeSqs()
    sender = BulkSender(
        Settings(dlq_url="https://sqs.example/dlq"),
        ses=ses,
        sqs=sqs,
        limiter=Unpaced(),
        preflight=preflight,
    )
    records = [record(message(n), f"m{n}") for n in range(3)]
    # When the batch is processed
    result = sender.process(records)
    # Then that record is InvalidMessage, saying what kind of failure, and the others sent
    assert result.failures == []
    assert sqs.dlq_codes() == {"m1": "InvalidMessage"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason == "body: could not be checked (RuntimeError)"
    assert sorted(ses.sent_recipients) == ["user0@example.org", "user2@example.org"]
