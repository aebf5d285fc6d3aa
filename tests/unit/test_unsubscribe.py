"""Unsubscribes in the sender: signed links added in RFC 8058 order, suppression before send."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from bulk_sender import metric_names as m
from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.recipient_hash import Keys, recipient_hash, verify
from bulk_sender.settings import Settings, SettingsError
from bulk_sender.suppression import SuppressionTable, SuppressionUnavailable
from bulk_sender.unsubscribe import KEY_CACHE_SECONDS, Unsubscribes
from tests.unit.fakes import FakeSes, FakeSqs, client_error, message, record

DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/unsubscribe"
SECRET = "s3cr3t-" + "x" * 57
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:unsubscribe-AbCdEf"
KEYS = Keys.from_secret(SECRET)
_DYNAMODB = botocore.session.get_session().get_service_model("dynamodb")


def h(address: str) -> str:
    return recipient_hash(KEYS.hash_key, [address])


class FakeDynamo:
    """DynamoDB's BatchGetItem over a set of (h, list) keys; requests checked against the
    botocore model; `unprocessed` keys are left out of the first N answers."""

    def __init__(self, suppressed: set[tuple[str, str]] = frozenset(), fail: bool = False):
        self.suppressed = set(suppressed)
        self.fail = fail
        self.unprocessed_answers = 0
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        validate_parameters(request, _DYNAMODB.operation_model("BatchGetItem").input_shape)
        with self._lock:
            self.calls.append(request)
        if self.fail:
            raise client_error("ProvisionedThroughputExceededException", 400)
        ((table, wanted),) = request["RequestItems"].items()
        keys = [(k["h"]["S"], k["list"]["S"]) for k in wanted["Keys"]]
        assert len(keys) == len(set(keys)) <= 100, "BatchGetItem refuses duplicate keys or >100"
        if self.unprocessed_answers:
            self.unprocessed_answers -= 1
            return {"Responses": {table: []}, "UnprocessedKeys": request["RequestItems"]}
        found = [{"h": {"S": a}, "list": {"S": b}} for a, b in keys if (a, b) in self.suppressed]
        return {"Responses": {table: found}, "UnprocessedKeys": {}}


class FakeSecrets:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.calls += 1
        if self.fail:
            raise client_error("InternalServiceError", 500)
        assert SecretId == SECRET_ARN
        return {"ARN": SecretId, "SecretString": SECRET}


def make_sender(dynamo=None, secrets=None, ses=None, **settings):
    settings = Settings(
        **{
            "dlq_url": DLQ,
            "unsubscribe_url": URL,
            "unsubscribe_secret_arn": SECRET_ARN,
            "suppression_table": "suppression",
            **settings,
        }
    )
    unsubscribes = Unsubscribes(
        settings, dynamodb=dynamo or FakeDynamo(), secrets=secrets or FakeSecrets()
    )
    return BulkSender(
        settings, ses=ses or FakeSes(), sqs=FakeSqs(), limiter=Unpaced(), unsubscribes=unsubscribes
    )


def sent_entries(ses: FakeSes) -> list[dict[str, Any]]:
    return [entry for request in ses.requests for entry in request["BulkEmailEntries"]]


def headers_of(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return [(pair["Name"], pair["Value"]) for pair in entry.get("ReplacementHeaders", [])]


# --- headers and body -----------------------------------------------------------------------


def test_each_entry_gets_the_signed_link_then_the_post_header_and_the_same_link_in_data():
    # Given two messages, one on the list "news", one with a header of its own
    ses = FakeSes()
    records = [
        record(message(0, list="news"), "m0"),
        record(message(1, headers={"X-Campaign": "spring"}), "m1"),
    ]
    # When the batch is processed
    make_sender(ses=ses).process(records)
    # Then each entry has List-Unsubscribe then List-Unsubscribe-Post, after its own headers
    first, second = sent_entries(ses)
    (link_header, post), own = headers_of(first), headers_of(second)
    assert link_header[0] == "List-Unsubscribe"
    assert post == ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    assert own[0] == ("X-Campaign", "spring")
    assert [name for name, _ in own[1:]] == ["List-Unsubscribe", "List-Unsubscribe-Post"]
    # ... the link is the endpoint with a token naming the list and the recipient's hash
    link = re.fullmatch(r"<(.*)>", link_header[1]).group(1)
    assert link.startswith(f"{URL}?t=")
    assert verify(KEYS, link.split("?t=", 1)[1]) == ("news", h("user0@example.org"), 1)
    assert "user0" not in link
    # ... and the template data carries the same link, beside the message's own data
    data = json.loads(
        first["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    )
    assert data == {"n": 0, "unsubscribe_url": link}


def test_an_entry_with_its_own_unsubscribe_headers_is_left_as_it_is():
    # Given messages that carry their own List-Unsubscribe (any case) or only the Post header
    own = {"list-unsubscribe": "<https://example.com/u?id=1>"}
    only_post = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    ses = FakeSes()
    records = [
        record(message(0, headers=own), "m0"),
        record(message(1, headers=only_post), "m1"),
    ]
    # When they are sent
    make_sender(ses=ses).process(records)
    # Then nothing is added twice: their headers and data are theirs
    first, second = sent_entries(ses)
    assert headers_of(first) == list(own.items())
    assert headers_of(second) == list(only_post.items())
    for entry in (first, second):
        data = entry["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
        assert "unsubscribe_url" not in json.loads(data)


def test_a_redelivered_message_gets_the_headers_once():
    # Given the same record processed twice (SQS redelivers it), idempotency off
    ses = FakeSes()
    sender = make_sender(ses=ses)
    body = message(0)
    # When both deliveries are processed
    sender.process([record(body, "m0")])
    sender.process([record(body, "m0", receive_count=2)])
    # Then each send carries the two headers exactly once
    for entry in sent_entries(ses):
        assert [name for name, _ in headers_of(entry)] == [
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        ]


def test_a_mailto_is_added_after_the_https_link_and_a_mailto_alone_gets_no_post_header():
    # Given a sender with the endpoint and a mailto, and one with only a mailto
    both, mailto_only = FakeSes(), FakeSes()
    mailto = "mailto:unsubscribe@example.com"
    make_sender(ses=both, unsubscribe_mailto=mailto).process([record(message(0), "m0")])
    make_sender(ses=mailto_only, unsubscribe_url=None, unsubscribe_mailto=mailto).process(
        [record(message(0), "m0")]
    )
    # Then the first lists the HTTPS link then the mailto, with the Post header
    (header, post) = headers_of(sent_entries(both)[0])
    assert re.fullmatch(rf"<{re.escape(URL)}\?t=[^>]+>, <{mailto}>", header[1])
    assert post[0] == "List-Unsubscribe-Post"
    # And the second has only the mailto, and no List-Unsubscribe-Post (RFC 8058: HTTPS only)
    assert headers_of(sent_entries(mailto_only)[0]) == [("List-Unsubscribe", f"<{mailto}>")]


@pytest.mark.parametrize(
    "recipients",
    [
        {"cc": ["boss@example.org"]},
        {"bcc": ["audit@example.org"]},
        {"to": ["user0@example.org", "user9@example.org"]},
    ],
)
def test_a_message_for_several_recipients_gets_no_shared_link_it_is_dead_lettered(recipients):
    # Given a message with a cc, a bcc or two "to" addresses, and no List-Unsubscribe of its own
    ses, sqs = FakeSes(), FakeSqs()
    settings = Settings(dlq_url=DLQ, unsubscribe_url=URL, unsubscribe_secret_arn=SECRET_ARN)
    sender = BulkSender(
        settings,
        ses=ses,
        sqs=sqs,
        limiter=Unpaced(),
        unsubscribes=Unsubscribes(settings, secrets=FakeSecrets()),
    )
    # When it is processed
    result = sender.process([record(message(0, **recipients), "m0")])
    # Then it is not sent (SES would give each of them the link that unsubscribes one):
    # dead-lettered as invalid, the reason saying what to do, naming no address
    assert ses.requests == []
    assert sqs.dlq_codes() == {"m0": "InvalidMessage"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason.startswith("to, cc, bcc: one recipient only")
    assert "own List-Unsubscribe" in reason
    assert "@" not in reason
    assert result.counts[m.EMAILS_SENT] == 0


def test_several_recipients_with_their_own_list_unsubscribe_or_a_mailto_alone_are_sent():
    # Given a message with a cc and its own List-Unsubscribe, and one with a cc where the stack
    # adds only a mailto (it names no recipient)
    ses, mailto_only = FakeSes(), FakeSes()
    own = {"List-Unsubscribe": "<https://example.com/u?list=all>"}
    make_sender(ses=ses).process([record(message(0, cc=["b@example.org"], headers=own), "m0")])
    make_sender(
        ses=mailto_only, unsubscribe_url=None, unsubscribe_mailto="mailto:u@example.com"
    ).process([record(message(0, cc=["b@example.org"]), "m0")])
    # Then both are sent, the first with its own header only
    assert headers_of(sent_entries(ses)[0]) == list(own.items())
    assert headers_of(sent_entries(mailto_only)[0]) == [
        ("List-Unsubscribe", "<mailto:u@example.com>")
    ]


def test_a_message_with_no_room_for_the_two_headers_is_dead_lettered_with_the_rule():
    # Given a message with 14 headers of its own (SES takes 15)
    headers = {f"X-H{n}": "v" for n in range(14)}
    sqs = FakeSqs()
    settings = Settings(dlq_url=DLQ, unsubscribe_url=URL, unsubscribe_secret_arn=SECRET_ARN)
    sender = BulkSender(
        settings,
        ses=FakeSes(),
        sqs=sqs,
        limiter=Unpaced(),
        unsubscribes=Unsubscribes(settings, secrets=FakeSecrets()),
    )
    # When it is processed
    result = sender.process([record(message(0, headers=headers), "m0")])
    # Then it is not sent without its link: it is dead-lettered as invalid, saying why
    assert sqs.dlq_codes() == {"m0": "InvalidMessage"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason == "headers: at most 13 with the unsubscribe headers"
    assert result.counts[m.EMAILS_SENT] == 0


# --- suppression ----------------------------------------------------------------------------


def test_a_suppressed_recipient_is_acknowledged_counted_and_not_sent_or_dead_lettered():
    # Given user1 unsubscribed from "news" and user2 from everything
    dynamo = FakeDynamo({(h("user1@example.org"), "news"), (h("user2@example.org"), "all")})
    ses = FakeSes()
    sender = make_sender(dynamo, ses=ses)
    records = [record(message(n, list="news"), f"m{n}") for n in range(4)]
    # When a "news" batch is processed
    result = sender.process(records)
    # Then the two are neither sent nor retried nor dead-lettered, and counted as suppressed
    assert sorted(ses.sent_recipients) == ["user0@example.org", "user3@example.org"]
    assert result.failures == []
    assert sender.sqs.dlq == []
    assert result.counts[m.EMAILS_SUPPRESSED] == 2
    assert result.counts[m.EMAILS_SENT] == 2


def test_an_unsubscribe_from_one_list_does_not_suppress_another_but_all_suppresses_every_list():
    # Given user0 unsubscribed from "news", user1 from "all"
    dynamo = FakeDynamo({(h("user0@example.org"), "news"), (h("user1@example.org"), "all")})
    ses = FakeSes()
    # When both are mailed on "offers", and on the default list
    records = [
        record(message(0, list="offers"), "a0"),
        record(message(1, list="offers"), "a1"),
        record(message(0), "b0"),
    ]
    result = make_sender(dynamo, ses=ses).process(records)
    # Then user0 still gets "offers" and the default-list mail; user1 gets nothing
    assert sorted(ses.sent_recipients) == ["user0@example.org", "user0@example.org"]
    assert result.counts[m.EMAILS_SUPPRESSED] == 1


def test_a_message_is_suppressed_when_any_of_to_cc_bcc_is():
    # Given a suppressed address that appears only as cc in one message, bcc in another (both
    # with their own List-Unsubscribe: the stack signs no link for several recipients)
    dynamo = FakeDynamo({(h("Boss@Example.org"), "all")})
    ses = FakeSes()
    own = {"List-Unsubscribe": "<mailto:leave@example.com>"}
    records = [
        record(message(0, cc=["Big Boss <boss@example.org>"], headers=own), "m0"),
        record(message(1, bcc=["BOSS@example.org"], headers=own), "m1"),
        record(message(2), "m2"),
    ]
    # When the batch is processed
    result = make_sender(dynamo, ses=ses).process(records)
    # Then both messages naming it (in any case, with a name) are suppressed
    assert ses.sent_recipients == ["user2@example.org"]
    assert result.counts[m.EMAILS_SUPPRESSED] == 2


def test_the_check_is_one_batched_read_per_batch_not_one_per_message():
    # Given a batch of 50 single-recipient messages on the default list (100 keys)
    dynamo = FakeDynamo()
    records = [record(message(n), f"m{n}") for n in range(50)]
    # When it is processed
    make_sender(dynamo).process(records)
    # Then the table was read once, for every recipient's (h, all) key
    assert len(dynamo.calls) == 1
    assert len(dynamo.calls[0]["RequestItems"]["suppression"]["Keys"]) == 50
    # And a batch of 200 messages on a list (400 distinct keys) takes 4 reads of 100
    dynamo = FakeDynamo()
    make_sender(dynamo).process([record(message(n, list="news"), f"m{n}") for n in range(200)])
    assert [len(c["RequestItems"]["suppression"]["Keys"]) for c in dynamo.calls] == [100] * 4


def test_unprocessed_keys_are_asked_again_then_the_messages_are_retried_not_sent():
    # Given DynamoDB leaving every key unprocessed once, then for good
    dynamo = FakeDynamo({(h("user0@example.org"), "all")})
    dynamo.unprocessed_answers = 1
    ses = FakeSes()
    result = make_sender(dynamo, ses=ses).process([record(message(n), f"m{n}") for n in range(2)])
    # Then the second answer is used: user0 suppressed, user1 sent
    assert ses.sent_recipients == ["user1@example.org"]
    assert result.counts[m.EMAILS_SUPPRESSED] == 1
    # And when the keys stay unprocessed, nothing is sent unchecked: all retried
    dynamo = FakeDynamo()
    dynamo.unprocessed_answers = 99
    ses = FakeSes()
    result = make_sender(dynamo, ses=ses).process([record(message(n), f"m{n}") for n in range(2)])
    assert ses.requests == []
    assert result.failures == ["m0", "m1"]


def test_a_table_or_secret_that_cannot_be_read_retries_the_batch_and_logs_no_secret(caplog):
    # Given a failing suppression table, and separately a failing Secrets Manager
    for dynamo, secrets in (
        (FakeDynamo(fail=True), FakeSecrets()),
        (FakeDynamo(), FakeSecrets(True)),
    ):
        ses = FakeSes()
        with caplog.at_level(logging.INFO):
            result = make_sender(dynamo, secrets, ses=ses).process([record(message(0), "m0")])
        # Then the message is neither sent nor dead-lettered: it is retried
        assert ses.requests == []
        assert result.failures == ["m0"]
        assert result.counts[m.EMAILS_RETRIED] == 1
    assert SECRET not in caplog.text


def test_the_secret_is_read_once_per_container_until_its_keys_are_five_minutes_old():
    # Given a sender processing three batches within five minutes (a fake clock)
    secrets, now = FakeSecrets(), [0.0]
    settings = Settings(dlq_url=DLQ, unsubscribe_url=URL, unsubscribe_secret_arn=SECRET_ARN)
    unsubscribes = Unsubscribes(settings, secrets=secrets, clock=lambda: now[0])
    sender = BulkSender(
        settings, ses=FakeSes(), sqs=FakeSqs(), limiter=Unpaced(), unsubscribes=unsubscribes
    )
    for n in range(3):
        sender.process([record(message(n), f"m{n}")])
        now[0] += 60
    # Then Secrets Manager was asked once
    assert secrets.calls == 1
    # And once the keys are KEY_CACHE_SECONDS old they are read again (a rotation arrives)
    now[0] = KEY_CACHE_SECONDS
    sender.process([record(message(9), "m9")])
    assert secrets.calls == 2
    # And when a refresh fails, the keys held still sign and check, and Secrets Manager is
    # asked again a period later, not at every batch (each failed read costs seconds)
    secrets.fail, now[0] = True, 2 * KEY_CACHE_SECONDS
    for n in range(3):
        assert sender.process([record(message(10 + n), f"r{n}")]).failures == []
    assert secrets.calls == 3


class RotatedSecrets(FakeSecrets):
    """The secret after one `secret rotate`: version 1 (SECRET) then version 2."""

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        answer = super().get_secret_value(SecretId)
        return {**answer, "SecretString": json.dumps({"keys": [SECRET, "n" * 64]})}


def test_after_a_rotation_links_are_signed_with_the_new_key_and_both_hashes_are_read():
    # Given the secret rotated once, and user1 suppressed under its version-1 hash only (by an
    # endpoint that still held the old key), user2 under its version-2 hash
    rotated = Keys.from_secret(json.dumps({"keys": [SECRET, "n" * 64]}))
    dynamo = FakeDynamo(
        {(h("user1@example.org"), "all"), (rotated.current_hash("user2@example.org"), "all")}
    )
    ses = FakeSes()
    sender = make_sender(dynamo, secrets=RotatedSecrets(), ses=ses)
    # When a batch is sent
    sender.process([record(message(n), f"m{n}") for n in range(3)])
    # Then both are suppressed, and user0's link is signed with version 2 for its new hash
    assert ses.sent_recipients == ["user0@example.org"]
    (header, _) = headers_of(sent_entries(ses)[0])
    token = re.search(r"\?t=([^>]+)>", header[1]).group(1)
    assert verify(rotated, token) == ("all", rotated.current_hash("user0@example.org"), 2)


def test_logs_name_the_suppressed_id_never_the_address_or_the_secret(caplog):
    # Given a suppressed recipient
    dynamo = FakeDynamo({(h("user0@example.org"), "all")})
    # When its message is processed
    with caplog.at_level(logging.INFO):
        make_sender(dynamo).process([record(message(0, id="spring:abc"), "m0")])
    # Then one line says it was suppressed, with its id and list
    (line,) = [r for r in caplog.records if r.getMessage() == "suppressed"]
    assert (line.id, line.list) == ("spring:abc", "all")
    # And no line holds an address, the secret or a key
    assert "@" not in caplog.text
    assert SECRET not in caplog.text
    assert KEYS.hash_key.hex() not in caplog.text
    assert repr(KEYS) == "Keys(<redacted>)"


def test_suppression_table_reads_raise_when_keys_stay_unprocessed():
    # Given a table whose answers leave keys unprocessed
    dynamo = FakeDynamo()
    dynamo.unprocessed_answers = 5
    table = SuppressionTable(dynamo, "suppression", sleep=lambda _: None)
    # When it is asked, then it says it cannot tell, after its bounded attempts
    with pytest.raises(SuppressionUnavailable):
        table.suppressed({("h", "all")})
    assert len(dynamo.calls) == 3


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"UNSUBSCRIBE_URL": "http://example.com/u"}, "UNSUBSCRIBE_URL must be an https:// URL"),
        ({"UNSUBSCRIBE_URL": f"{URL}?x=1"}, "without a query"),
        ({"UNSUBSCRIBE_MAILTO": "unsubscribe@example.com"}, "UNSUBSCRIBE_MAILTO must be a mailto"),
        ({"SUPPRESSION_TABLE": "t", "UNSUBSCRIBE_SECRET_ARN": ""}, "need UNSUBSCRIBE_SECRET_ARN"),
    ],
)
def test_unusable_unsubscribe_settings_are_refused_by_name(env, error):
    environ = {"DLQ_URL": DLQ, "UNSUBSCRIBE_SECRET_ARN": SECRET_ARN, **env}
    with pytest.raises(SettingsError, match=re.escape(error)):
        Settings.from_env(environ)


def test_the_local_endpoint_may_be_http_on_this_machine():
    settings = Settings.from_env(
        {
            "DLQ_URL": DLQ,
            "UNSUBSCRIBE_URL": "http://127.0.0.1:8080/unsubscribe",
            "UNSUBSCRIBE_SECRET_ARN": SECRET_ARN,
        }
    )
    assert settings.unsubscribe_url == "http://127.0.0.1:8080/unsubscribe"


def test_a_mailto_alone_needs_no_secret_and_is_sent():
    # Given a sender with only UNSUBSCRIBE_MAILTO (no endpoint, no table, no secret)
    settings = Settings(dlq_url=DLQ, unsubscribe_mailto="mailto:u@example.com")
    ses = FakeSes()
    sender = BulkSender(settings, ses=ses, sqs=FakeSqs(), limiter=Unpaced())
    # When a message is processed, then it is sent with the mailto header, not retried
    result = sender.process([record(message(0), "m0")])
    assert result.failures == []
    assert headers_of(sent_entries(ses)[0]) == [("List-Unsubscribe", "<mailto:u@example.com>")]


class FlakySecrets(FakeSecrets):
    """Fails its first answer only: Secrets Manager recovering within one batch."""

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.fail = self.calls == 0
        return super().get_secret_value(SecretId)


def test_a_secret_that_recovers_within_a_batch_sends_no_entry_without_its_link():
    # Given Secrets Manager failing its first answer, then answering
    ses = FakeSes()
    sender = make_sender(secrets=FlakySecrets(), ses=ses)
    batch = [record(message(n), f"m{n}") for n in range(3)]
    # When a batch is processed
    first = sender.process(batch)
    # Then nothing is sent (none without its link) and every record is retried
    assert ses.requests == []
    assert first.failures == ["m0", "m1", "m2"]
    # And the redelivery sends every entry with the link and the post header
    second = sender.process(batch)
    assert second.failures == []
    entries = sent_entries(ses)
    assert len(entries) == 3
    assert all(
        [name for name, _ in headers_of(e)][-2:] == ["List-Unsubscribe", "List-Unsubscribe-Post"]
        for e in entries
    )


def test_a_failing_secret_is_asked_once_per_batch_not_once_per_record():
    # Given Secrets Manager failing, and a batch of five messages
    secrets = FakeSecrets(fail=True)
    sender = make_sender(secrets=secrets)
    # When the batch is processed
    result = sender.process([record(message(n), f"m{n}") for n in range(5)])
    # Then every record is retried after one read of the secret (each read costs seconds of
    # the invocation's deadline when Secrets Manager is down)
    assert len(result.failures) == 5
    assert secrets.calls == 1


def test_every_shipped_templates_unsubscribe_link_is_left_out_of_click_tracking():
    # Given the templates the project ships (templates/), whose HTML links unsubscribe_url
    import html.parser
    from pathlib import Path

    class Links(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.unsubscribe: list[dict[str, str | None]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if tag == "a" and "unsubscribe_url" in (found.get("href") or ""):
                self.unsubscribe.append(found)

    templates = sorted((Path(__file__).parents[2] / "templates").glob("*.json"))
    assert templates
    for path in templates:
        links = Links()
        links.feed(json.loads(path.read_text(encoding="utf-8")).get("html", ""))
        # Then each such link carries ses:no-track: SES does not rewrite it, so no click event
        # (which records the link, token and all) is ever published for it
        assert links.unsubscribe, path.name
        assert all("ses:no-track" in link for link in links.unsubscribe), path.name


def test_the_suppression_read_before_every_send_has_a_bounded_client():
    # Given the sender's unsubscribes built as the handler builds them (no client given)
    settings = Settings(dlq_url=DLQ, suppression_table="suppressions")
    unsubscribes = Unsubscribes(settings)
    # Then its DynamoDB client gives up within seconds, not botocore's default minute
    config = unsubscribes.table._dynamodb.meta.config
    assert config.connect_timeout <= 2
    assert config.read_timeout <= 3
    assert config.retries["total_max_attempts"] <= 3
