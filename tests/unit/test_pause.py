"""The sender's breaker (pause.py) and the probe (probe.py), one behaviour at a time."""

import json
import logging

import pytest
from botocore.exceptions import ClientError

from bulk_sender import metric_names as m
from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.pause import MARKER_KEY, Marker, MarkerStore, Pause
from bulk_sender.probe import PAUSED, RESUMED, SENDING, probe
from bulk_sender.records import ORIGINAL_MESSAGE_ID
from bulk_sender.settings import Settings
from tests.unit.fakes import (
    SENDER_ID,
    FakeSes,
    FakeSqs,
    all_success,
    client_error,
    message,
    record,
)
from tests.unit.pause_world import QUEUE_ARN, Clock, FakeTable, MemoryLedger, SimMapping, SimSes

DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/queue"
PAUSE_ANSWERS = {
    "ACCOUNT_DAILY_QUOTA_EXCEEDED": None,
    "ACCOUNT_SENDING_PAUSED": None,
    "CONFIGURATION_SET_SENDING_PAUSED": None,
    "SendingPausedException": client_error("SendingPausedException", 400, "Sending paused."),
    "daily-quota throttle": client_error(
        "ThrottlingException", 400, "Daily message quota exceeded."
    ),
}


def answering(what):
    """SES refusing every entry with a status, or the whole call with an error."""
    error = PAUSE_ANSWERS[what]

    def answer(request):
        if error:
            raise error
        return {"BulkEmailEntryResults": [{"Status": what}] * len(request["BulkEmailEntries"])}

    return answer


def sources(records):
    return [{**r, "eventSourceARN": QUEUE_ARN} for r in records]


class Parts:
    """A sender with its pause wired to in-memory parts."""

    def __init__(self, answer, *, ledger=None, max_calls_in_flight=1):
        self.ses = FakeSes(answer)
        self.sqs = FakeSqs()
        self.table = FakeTable()
        self.mapping = SimMapping(Clock())
        self.sender = BulkSender(
            Settings(dlq_url=DLQ, queue_url=QUEUE, max_calls_in_flight=max_calls_in_flight),
            ses=self.ses,
            sqs=self.sqs,
            ledger=ledger,
            limiter=Unpaced(),
            sender_id=SENDER_ID,
            pause=Pause(
                self.sqs,
                queue_url=QUEUE,
                delay_seconds=900,
                markers=MarkerStore(self.table, "ledger"),
                mapping=self.mapping,
            ),
        )


@pytest.mark.parametrize("what", PAUSE_ANSWERS)
def test_a_pause_answer_holds_the_records_and_stops_the_mapping(what):
    # Given SES refuses for a pause or a spent quota
    parts = Parts(answering(what))
    raw = '{"to": "a@example.org",  "from": "news@example.com", "template": "welcome"}'
    records = sources([record(raw, "m0", Campaign="spring"), record(message(1, id="k1"), "m1")])
    # When the batch is processed
    result = parts.sender.process(records)
    # Then both records are acknowledged (no receive count spent), and a delayed copy of
    # each is back on the source queue: body byte for byte, attributes kept, and the key of
    # the message without `id` carried
    assert result.failures == []
    copies = {c["Id"]: c for c in parts.sqs.requeued}
    assert copies["0"]["MessageBody"] == raw
    assert copies["0"]["DelaySeconds"] == 900
    assert copies["0"]["MessageAttributes"]["Campaign"]["StringValue"] == "spring"
    assert copies["0"]["MessageAttributes"][ORIGINAL_MESSAGE_ID]["StringValue"] == "m0"
    # (every copy says it is one: campaign status counts the email received once)
    assert copies["1"]["MessageAttributes"][ORIGINAL_MESSAGE_ID]["StringValue"] == "m1"
    # nothing in the DLQ; the marker is written and the mapping stopped; counted once
    assert parts.sqs.dlq == []
    assert parts.table.items[MARKER_KEY]["reason"]["S"] in (what, "ACCOUNT_DAILY_QUOTA_EXCEEDED")
    assert not parts.mapping.is_enabled
    assert result.counts[m.SENDING_PAUSED] == 1
    assert result.counts[m.EMAILS_RETRIED] == 2


def test_calls_after_the_first_pause_answer_are_not_sent():
    # Given three groups (three calls) and SES out of quota
    parts = Parts(answering("ACCOUNT_DAILY_QUOTA_EXCEEDED"))
    records = sources([record(message(n, template=f"t{n}"), f"m{n}") for n in range(3)])
    # When the batch is processed
    result = parts.sender.process(records)
    # Then one call went out; the other records were held without being tried
    assert len(parts.ses.requests) == 1
    assert result.failures == []
    assert len(parts.sqs.requeued) == 3


def test_a_copy_keeps_the_idempotency_key_so_the_ledger_sends_it_once():
    # Given a message without `id` that was sent, and a copy of it made while paused
    ledger = MemoryLedger()
    parts = Parts(lambda r: {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "x"}]})
    parts.sender.ledger = ledger
    parts.sender.process(sources([record(message(0), "m0")]))
    copy = record(message(0), "copy-of-m0", sender_id=SENDER_ID, **{ORIGINAL_MESSAGE_ID: "m0"})
    # When the copy is delivered
    result = parts.sender.process(sources([copy]))
    # Then the ledger knows its key: acknowledged as a duplicate, not sent again
    assert len(parts.ses.requests) == 1
    assert result.counts[m.DUPLICATES_SKIPPED] == 1


def test_a_held_message_later_rejected_reaches_the_dlq_with_its_original_body():
    raw = '{"from": "news@example.com", "to": "a@example.org", "template": "welcome"}'
    parts = Parts(lambda r: {"BulkEmailEntryResults": [{"Status": "MESSAGE_REJECTED"}]})
    parts.sender.process(sources([record(raw, "copy", **{ORIGINAL_MESSAGE_ID: "m0"})]))
    assert [e["MessageBody"] for e in parts.sqs.dlq] == [raw]


def test_the_pause_starts_once_while_its_marker_stands(caplog):
    # Given two invocations refused for the quota, one after the other
    parts = Parts(answering("ACCOUNT_DAILY_QUOTA_EXCEEDED"))
    with caplog.at_level(logging.INFO, logger="bulk_sender"):
        for n in range(2):
            parts.sender.process(sources([record(message(n), f"m{n}")]))
    # Then one `sending_paused` line, one stop; the second invocation only held its records
    messages = [r.message for r in caplog.records]
    assert messages.count("sending_paused") == 1
    assert messages.count("held_while_paused") == 1
    assert [enabled for _, enabled in parts.mapping.history] == [False]
    paused = next(r for r in caplog.records if r.message == "sending_paused")
    assert paused.reason == "ACCOUNT_DAILY_QUOTA_EXCEEDED"


def test_a_mapping_enabled_during_a_pause_is_stopped_again():
    # Given a pause on, and the mapping enabled again meanwhile (e.g. by a deployment)
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))
    parts.sender.process(sources([record(message(0), "m0")]))
    parts.mapping.set_enabled(True)
    # When SES refuses again
    parts.sender.process(sources([record(message(1), "m1")]))
    # Then the sender stops it again, under the same marker
    assert [enabled for _, enabled in parts.mapping.history] == [False, True, False]
    assert list(parts.table.items) == [MARKER_KEY]


def test_without_a_marker_the_mapping_is_not_stopped():
    # Given the marker cannot be written (the probe could not know to restart the mapping)
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))

    def broken(**request):
        raise client_error("ProvisionedThroughputExceededException", 400)

    parts.table.put_item = broken
    result = parts.sender.process(sources([record(message(0), "m0")]))
    # Then the mapping keeps running, and the record is still held, not retried
    assert parts.mapping.is_enabled
    assert result.failures == []
    assert len(parts.sqs.requeued) == 1


def test_a_failed_stop_still_holds_the_records():
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))

    def broken(source_arn):
        raise client_error("AccessDeniedException", 403)

    parts.mapping.stop = broken
    result = parts.sender.process(sources([record(message(0), "m0")]))
    assert result.failures == []
    assert len(parts.sqs.requeued) == 1
    assert MARKER_KEY in parts.table.items  # the probe stops it on its next run


def test_a_copy_that_cannot_be_written_leaves_its_record_retried_at_the_cap():
    # Given the source queue refuses the copies
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))

    def broken(**request):
        raise client_error("KMS.ThrottlingException", 400)

    parts.sqs.send_message_batch = broken
    result = parts.sender.process(sources([record(message(0), "m0")]))
    # Then the record is retried as before, delayed by the longest backoff
    assert result.failures == ["m0"]
    assert parts.sqs.visibility[0]["VisibilityTimeout"] == 900


def near_limit(**fields):
    body = json.dumps({**message(0), **fields, "data": {"pad": ""}})
    return body.replace('"pad": ""', '"pad": "' + "x" * (262_144 - 10 - len(body)) + '"')


@pytest.mark.parametrize(
    "full",
    [
        pytest.param(
            lambda: record(message(0), "m0", **{f"a{n}": "v" for n in range(10)}), id="10"
        ),
        pytest.param(lambda: record(near_limit(), "m0"), id="size"),
    ],
)
def test_a_message_without_id_and_no_room_for_its_key_waits_in_flight_not_in_the_dlq(full):
    # Given a message without `id` that has no room left for its key: SQS's 10 attributes,
    # or a body within a few bytes of the queue's limit
    from bulk_sender.core import IN_FLIGHT_WAIT_SECONDS

    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))
    # When SES refuses for a pause
    result = parts.sender.process(sources([full()]))
    # Then no copy under another key is made; it waits in flight as long as SQS allows (one
    # receive per 12 hours of pause, not one per 15 minutes)
    assert result.failures == ["m0"]
    assert parts.sqs.requeued == []
    assert parts.sqs.visibility[0]["VisibilityTimeout"] == IN_FLIGHT_WAIT_SECONDS


@pytest.mark.parametrize(
    "full",
    [
        pytest.param(
            lambda: record(message(0, id="spring:k0"), "m0", **{f"a{n}": "v" for n in range(10)}),
            id="10",
        ),
        pytest.param(lambda: record(near_limit(id="spring:k0"), "m0"), id="size"),
    ],
)
def test_a_message_with_id_and_no_room_for_the_marker_is_held_and_received_once(full):
    # Given a message with `id` (its key) and no room for the copy's marker
    from bulk_sender.send_status import SendStatus

    class Totals:
        def __init__(self):
            self.received = 0

        def record_within(self, changes, totals, may_start=None):
            self.received += sum(c["received"] for c in totals.values())

            class Nothing:
                changes: list = []
                counts: dict = {}

            return Nothing()

    totals = Totals()
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))
    parts.sender.status = SendStatus(totals)
    original = full()
    # When SES refuses for a pause, and the copy is then received and sent
    result = parts.sender.process(sources([original]))
    (copy,) = parts.sqs.requeued
    parts.ses.answer = all_success
    parts.sender.process(
        sources(
            [
                record(
                    copy["MessageBody"],
                    "m1",
                    **{n: v["StringValue"] for n, v in copy.get("MessageAttributes", {}).items()},
                )
            ]
        )
    )
    # Then it was held (acknowledged, copied with its body and attributes, no marker), not
    # retried, and the campaign counts it received once
    assert result.failures == []
    assert copy["MessageBody"] == original["body"]
    assert ORIGINAL_MESSAGE_ID not in copy.get("MessageAttributes", {})
    assert totals.received == 1


def test_a_record_whose_attributes_cannot_be_copied_is_retried_not_raised():
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))
    odd = record(message(0), "m0")
    odd["messageAttributes"] = {"Blob": {"dataType": "Binary", "binaryValue": "not base64!"}}
    result = parts.sender.process(sources([odd]))
    assert result.failures == ["m0"]
    assert parts.sqs.requeued == []


def test_a_transient_failure_does_not_pause():
    parts = Parts(lambda r: {"BulkEmailEntryResults": [{"Status": "TRANSIENT_FAILURE"}]})
    result = parts.sender.process(sources([record(message(0), "m0")]))
    assert result.failures == ["m0"]
    assert result.counts[m.SENDING_PAUSED] == 0
    assert parts.mapping.is_enabled
    assert parts.table.items == {}


# --- the probe ------------------------------------------------------------------------------


def probe_parts(**ses):
    clock = Clock()
    mapping = SimMapping(clock)
    return clock, SimSes(clock, **ses), mapping, MarkerStore(FakeTable(), "ledger")


def run_probe(ses, mapping, markers, clock):
    return probe(
        ses=ses, mapping=mapping, markers=markers, default_configuration_set="bulk", clock=clock
    )


def test_without_a_marker_the_probe_leaves_a_stopped_mapping_alone():
    # Given an operator disabled the mapping by hand (no pause marker)
    clock, ses, mapping, markers = probe_parts()
    mapping.set_enabled(False)
    # When the probe runs while SES allows sending
    result = run_probe(ses, mapping, markers, clock)
    # Then it does not restart it
    assert result.state == SENDING
    assert not mapping.is_enabled


def test_the_probe_waits_while_the_quota_is_spent_and_resumes_when_it_frees(caplog):
    # Given the sender paused on a spent quota
    clock, ses, mapping, markers = probe_parts(quota=0)
    mapping.set_enabled(False)
    markers.create(Marker("ACCOUNT_DAILY_QUOTA_EXCEEDED", None, paused_at=0))
    # When the probe runs while the quota is spent
    clock.now = 600
    assert run_probe(ses, mapping, markers, clock).state == PAUSED
    assert not mapping.is_enabled
    # and again once SES allows sending
    ses.quota = 50_000
    clock.now = 3600
    with caplog.at_level(logging.INFO, logger="bulk_sender"):
        result = run_probe(ses, mapping, markers, clock)
    # Then the mapping is enabled, the marker deleted, and the resume logged with its reason
    assert (result.state, result.reason, result.paused_seconds) == (
        RESUMED,
        "ACCOUNT_DAILY_QUOTA_EXCEEDED",
        3600,
    )
    assert mapping.is_enabled
    assert markers.get() is None
    (resumed,) = [r for r in caplog.records if r.message == "sending_resumed"]
    assert resumed.reason == "ACCOUNT_DAILY_QUOTA_EXCEEDED"


def test_the_probe_stops_a_mapping_the_sender_could_not_stop():
    clock, ses, mapping, markers = probe_parts()
    ses.account_paused = [(0, 3600)]
    markers.create(Marker("ACCOUNT_SENDING_PAUSED", None, paused_at=0))
    assert run_probe(ses, mapping, markers, clock).state == PAUSED
    assert not mapping.is_enabled


def test_an_unlimited_quota_never_counts_as_spent():
    clock, ses, mapping, markers = probe_parts(quota=-1)
    markers.create(Marker("ACCOUNT_SENDING_PAUSED", None, paused_at=0))
    mapping.set_enabled(False)
    assert run_probe(ses, mapping, markers, clock).state == RESUMED


def test_the_probe_checks_the_configuration_set_the_pause_named():
    # Given the pause came from another configuration set, still paused
    clock, ses, mapping, markers = probe_parts()
    asked = []
    answer = ses.get_configuration_set

    def get_configuration_set(ConfigurationSetName):
        asked.append(ConfigurationSetName)
        response = answer(ConfigurationSetName)
        if ConfigurationSetName == "other":
            response["SendingOptions"]["SendingEnabled"] = False
        return response

    ses.get_configuration_set = get_configuration_set
    markers.create(Marker("CONFIGURATION_SET_SENDING_PAUSED", "other", paused_at=0))
    mapping.set_enabled(False)
    result = run_probe(ses, mapping, markers, clock)
    assert (result.state, result.reason) == (PAUSED, "CONFIGURATION_SET_SENDING_PAUSED")
    assert asked == ["bulk", "other"]


def test_a_failed_restart_keeps_the_marker_for_the_next_run():
    clock, ses, mapping, markers = probe_parts()
    markers.create(Marker("ACCOUNT_SENDING_PAUSED", None, paused_at=0))
    mapping.set_enabled(False)

    def broken(enabled):
        raise client_error("ResourceConflictException", 409)

    mapping.set_enabled = broken
    with pytest.raises(ClientError):
        run_probe(ses, mapping, markers, clock)
    assert markers.get() is not None


def test_the_probe_handler_publishes_sending_paused_zero_only_when_it_resumes(monkeypatch, capsys):
    import probe_handler

    _, ses, mapping, _ = probe_parts()
    table = FakeTable()
    monkeypatch.setattr(probe_handler, "_clients", {"sesv2": ses, "dynamodb": table})
    monkeypatch.setattr(probe_handler, "MappingById", lambda client, uuid: mapping)

    class Context:
        function_name = "probe"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:probe"
        aws_request_id = "r"

    monkeypatch.setitem(probe_handler._clients, "lambda", object())
    assert probe_handler.lambda_handler({}, Context()) == {"state": SENDING, "reason": ""}
    assert "_aws" not in capsys.readouterr().out
    MarkerStore(table, probe_handler.PAUSE_TABLE).create(Marker("ACCOUNT_SENDING_PAUSED", None, 0))
    mapping.set_enabled(False)
    assert probe_handler.lambda_handler({}, Context())["state"] == RESUMED
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [blob[m.SENDING_PAUSED] for blob in blobs] == [[0.0]]


def test_no_message_id_can_take_the_pause_markers_key():
    # Given a producer whose message id is the marker's key (or its old spelling)
    from bulk_sender.message import Defaults, InvalidMessage, parse_message

    for key in (MARKER_KEY,):
        body = json.dumps(
            {"to": "a@example.com", "from": "n@example.com", "template": "t", "id": key}
        )
        # Then the message is refused: its claim could never stand where the marker goes
        with pytest.raises(InvalidMessage):
            parse_message(body, message_id="m", defaults=Defaults())


def test_a_pause_met_at_the_deadline_copies_nothing_it_cannot_finish():
    # Given SES answers a pause, and its call leaves no time for another SQS call
    clock = {"remaining_ms": 600_000}

    def pause_then_late(request):
        clock["remaining_ms"] = 100
        return answering("ACCOUNT_SENDING_PAUSED")(request)

    parts = Parts(pause_then_late)
    records = sources([record(message(n, id=f"k{n}"), f"m{n}") for n in range(3)])
    # When the batch is processed
    result = parts.sender.process(records, remaining_ms=lambda: clock["remaining_ms"])
    # Then no copy is started past the deadline and no mapping call is made: the records
    # are retried (the next receive holds them), none is acknowledged without its copy
    assert parts.sqs.requeued == []
    assert result.failures == ["m0", "m1", "m2"]
    assert parts.mapping.is_enabled


@pytest.mark.parametrize(
    "gone",
    [
        pytest.param({"code": "NotFoundException"}, id="deleted"),
        pytest.param({"allowed": frozenset({"bulk"})}, id="no-longer-allowed"),
    ],
)
def test_a_marker_naming_a_set_the_probe_cannot_check_is_reported_and_resumes_the_rest(
    gone, caplog
):
    # Given a pause marker naming a configuration set since deleted or no longer allowed
    clock, ses, mapping, markers = probe_parts()
    answer = ses.get_configuration_set

    def get_configuration_set(ConfigurationSetName):
        if ConfigurationSetName == "retired" and "code" in gone:
            raise client_error(gone["code"], 404, "Configuration set does not exist.")
        return answer(ConfigurationSetName)

    ses.get_configuration_set = get_configuration_set
    markers.create(Marker("CONFIGURATION_SET_SENDING_PAUSED", "retired", paused_at=0))
    mapping.set_enabled(False)
    # When the probe runs while the account and the stack's set may send
    with caplog.at_level(logging.INFO, logger="bulk_sender"):
        result = probe(
            ses=ses,
            mapping=mapping,
            markers=markers,
            default_configuration_set="bulk",
            allowed_configuration_sets=gone.get("allowed"),
            clock=clock,
        )
    # Then it does not raise: the other sets resume, and the marker's set is reported
    assert (result.state, result.unactionable) == (RESUMED, "retired")
    assert mapping.is_enabled
    assert markers.get() is None
    (line,) = [r for r in caplog.records if r.message == "pause_marker_unactionable"]
    assert line.configuration_set == "retired"


def test_the_probe_handler_counts_an_unactionable_marker_and_bounds_its_clients(
    monkeypatch, capsys
):
    import probe_handler

    # Given a marker naming a set outside the allowed ones
    _, ses, mapping, _ = probe_parts()
    table = FakeTable()
    monkeypatch.setattr(probe_handler, "_clients", {"sesv2": ses, "dynamodb": table})
    monkeypatch.setitem(probe_handler._clients, "lambda", object())
    monkeypatch.setattr(probe_handler, "MappingById", lambda client, uuid: mapping)
    monkeypatch.setattr(probe_handler, "ALLOWED_CONFIGURATION_SETS", frozenset({"bulk"}))
    MarkerStore(table, "t").create(Marker("CONFIGURATION_SET_SENDING_PAUSED", "retired", 0))

    class Context:
        function_name = "probe"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:probe"
        aws_request_id = "r"

    # When it runs
    assert probe_handler.lambda_handler({}, Context())["state"] == RESUMED
    # Then PauseMarkersUnactionable is published (the stack's alarm reads it)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [blob[m.PAUSE_MARKERS_UNACTIONABLE] for blob in blobs] == [[1.0]]
    # and its AWS clients have bounded timeouts and attempts, not botocore's 60 s defaults
    config = probe_handler.CLIENT_CONFIG
    assert config.connect_timeout <= 2
    assert config.read_timeout <= 5
    assert config.retries["total_max_attempts"] <= 3


def test_a_pause_met_with_time_for_the_copies_only_starts_no_marker_or_mapping_call():
    # Given SES answers a pause, leaving 20 s: room for the copies, not for the marker
    # write, the mapping stop and the renewal at their worst
    from bulk_sender.pause import MAPPING_CALL_MS, MARKER_CALL_MS

    clock = {"remaining_ms": 600_000}

    def pause_then_late(request):
        clock["remaining_ms"] = 20_000
        return answering("ACCOUNT_SENDING_PAUSED")(request)

    assert 2 * MARKER_CALL_MS + MAPPING_CALL_MS > 20_000
    parts = Parts(pause_then_late)
    # When the batch is processed
    result = parts.sender.process(
        sources([record(message(0, id="k0"), "m0")]), remaining_ms=lambda: clock["remaining_ms"]
    )
    # Then the record is held (copied, acknowledged), and neither the marker nor the mapping
    # is touched: the next refusal pauses with time to finish
    assert result.failures == []
    assert len(parts.sqs.requeued) == 1
    assert parts.table.items == {}
    assert parts.mapping.is_enabled


def test_a_producers_original_message_id_does_not_choose_the_idempotency_key():
    # Given a producer fanning out messages without `id`, each carrying the attribute the
    # pause writes on its own copies, all with the same value
    ledger = MemoryLedger()
    parts = Parts(all_success)
    parts.sender.ledger = ledger
    forged = [record(message(n), f"m{n}", **{ORIGINAL_MESSAGE_ID: "same"}) for n in range(3)]
    # When they are processed
    result = parts.sender.process(sources(forged))
    # Then each is keyed by its own SQS message id and sent: none skipped as a duplicate
    assert result.counts[m.EMAILS_SENT] == 3
    assert result.counts[m.DUPLICATES_SKIPPED] == 0
    assert set(ledger.status) == {"m0", "m1", "m2"}


def test_a_copy_replaces_a_producers_attribute_with_the_real_key():
    # Given a message without `id` whose producer set OriginalMessageId, refused for a pause
    parts = Parts(answering("ACCOUNT_SENDING_PAUSED"))
    parts.sender.process(sources([record(message(0), "m0", **{ORIGINAL_MESSAGE_ID: "forged"})]))
    # Then its copy (sent by the sender's role, so trusted) carries its real key
    (copy,) = parts.sqs.requeued
    assert copy["MessageAttributes"][ORIGINAL_MESSAGE_ID]["StringValue"] == "m0"


def test_without_its_own_identity_the_sender_trusts_no_copy_attribute():
    # Given STS cannot say who the sender is
    class NoSts:
        def get_caller_identity(self):
            raise client_error("AccessDenied", 403)

    ledger = MemoryLedger()
    sender = BulkSender(
        Settings(dlq_url=DLQ),
        ses=FakeSes(),
        sqs=FakeSqs(),
        ledger=ledger,
        limiter=Unpaced(),
        sts=NoSts(),
    )
    copy = record(message(0), "m9", sender_id=SENDER_ID, **{ORIGINAL_MESSAGE_ID: "m0"})
    # When a record carries the attribute, then it is keyed by its own message id
    assert sender.process(sources([copy])).counts[m.EMAILS_SENT] == 1
    assert set(ledger.status) == {"m9"}
