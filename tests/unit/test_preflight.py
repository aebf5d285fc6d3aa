"""Issue 8 in the Lambda: a message whose data lacks a variable its template requires goes
to the DLQ as MissingTemplateData instead of being sent (and silently dropped by SES)."""

import json
import logging

from bulk_sender import metric_names as m
from bulk_sender.core import BulkSender
from bulk_sender.message import Defaults, parse_message
from bulk_sender.pacing import Unpaced
from bulk_sender.preflight import TemplateCheck
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSes, FakeSqs, record

WELCOME = {
    "Subject": "Welcome, {{name}}",
    "Text": "Hello {{name}}, your code is {{code}}.{{#if vip}} VIP: {{vip_level}}{{/if}}",
    "Html": "<p>Hello {{name}}</p>",
}


def campaign_row(n, **data):
    return {
        "to": f"user{n}@example.org",
        "from": "news@example.com",
        "template": "welcome",
        "data": data,
    }


def sender(ses, sqs=None, preflight=None):
    settings = Settings(dlq_url="https://sqs.example/dlq")
    return BulkSender(
        settings, ses=ses, sqs=sqs or FakeSqs(), limiter=Unpaced(), preflight=preflight
    )


def test_a_row_missing_a_variable_is_dead_lettered_naming_it_and_the_others_are_sent():
    # Given a campaign where one row lacks `code`, and one lacks only a variable under #if
    ses, sqs = FakeSes(templates={"welcome": WELCOME}), FakeSqs()
    records = [
        record(campaign_row(0, name="Ann", code="A1"), "m0"),
        record(campaign_row(1, name="Bob"), "m1"),
        record(campaign_row(2, name="Cy", code="C3", vip=True), "m2"),
    ]
    # When the batch is processed
    result = sender(ses, sqs).process(records)
    # Then the row without `code` is in the DLQ as MissingTemplateData, naming the variable
    assert sqs.dlq_codes() == {"m1": "MissingTemplateData"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason == "data: lacks code required by welcome"
    # And the others were sent (a variable inside #if is not required)
    assert sorted(ses.sent_recipients) == ["user0@example.org", "user2@example.org"]
    assert result.counts[m.INVALID_MESSAGES] == 1
    assert result.counts[m.EMAILS_DEAD_LETTERED] == 1


def test_the_template_is_fetched_once_per_container_and_again_after_the_cache_expires():
    now = [0.0]
    ses = FakeSes(templates={"welcome": WELCOME})
    check = TemplateCheck(ses, ttl=300, clock=lambda: now[0])
    sending = sender(ses, preflight=check)
    sending.process([record(campaign_row(n, name="A", code="x"), f"m{n}") for n in range(3)])
    sending.process([record(campaign_row(3, name="A", code="x"), "m3")])
    assert ses.template_fetches == ["welcome"]
    now[0] = 301
    sending.process([record(campaign_row(4, name="A", code="x"), "m4")])
    assert ses.template_fetches == ["welcome", "welcome"]


def test_a_template_that_cannot_be_fetched_does_not_block_sending(caplog):
    # Given SES cannot return the template (not found, or no permission)
    ses = FakeSes(templates={})
    records = [record(campaign_row(n), f"m{n}") for n in range(3)]
    # When two batches are processed
    with caplog.at_level(logging.WARNING):
        sending = sender(ses)
        first = sending.process(records)
        sending.process(records)
    # Then everything was sent unchecked, and the skip was logged once
    assert first.counts[m.EMAILS_SENT] == 3
    assert [r.message for r in caplog.records].count("template_check_skipped") == 1


def test_inline_content_is_checked_the_same_way():
    content = {"subject": "Hi {{name}}", "text": "Your code: {{code}}"}
    ses, sqs = FakeSes(), FakeSqs()
    body = {
        "to": "a@example.org",
        "from": "n@example.com",
        "content": content,
        "data": {"name": "A"},
    }
    sender(ses, sqs).process([record(body, "m0")])
    assert sqs.dlq_codes() == {"m0": "MissingTemplateData"}
    assert ses.template_fetches == []


def test_a_template_arn_is_fetched_by_its_name():
    ses = FakeSes(templates={"welcome": WELCOME})
    arn = "arn:aws:ses:eu-west-1:123456789012:template/welcome"
    email = parse_message(
        json.dumps({"to": "a@example.org", "from": "n@example.com", "template": arn}),
        message_id="m",
        defaults=Defaults(),
    )
    assert TemplateCheck(ses)(email) == (
        "MissingTemplateData",
        "data: lacks code, name required by welcome",
    )
    assert ses.template_fetches == ["welcome"]
