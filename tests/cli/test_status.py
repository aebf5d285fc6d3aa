"""`status`'s numbers and `enqueue --only-failed`'s selection, without AWS."""

import json

from typer.testing import CliRunner

from bulk_sender import campaign_status as cs
from bulkmail.campaign import CampaignOptions, read_campaign
from bulkmail.cli import app
from bulkmail.local.stack_facts import STATUS_TABLE, create_table
from bulkmail.status import CampaignNumbers, addresses_by_key, select_failed


def body(message_id):
    return json.dumps({"id": message_id, "to": "a@example.com", "tags": {"campaign": "c"}})


def test_only_failed_picks_retryable_dead_letters_and_transient_bounces_only():
    # Given rows whose emails ended in each kind of outcome
    known = {
        cs.message_key("c:tired"): cs.dead_lettered("RetriesExhausted"),
        cs.message_key("c:notemplate"): cs.dead_lettered("TEMPLATE_NOT_FOUND"),
        cs.message_key("c:rejected"): cs.dead_lettered("MESSAGE_REJECTED"),
        cs.message_key("c:soft"): cs.BOUNCED_TRANSIENT,
        cs.message_key("c:hard"): cs.BOUNCED_PERMANENT,
        cs.message_key("c:angry"): cs.COMPLAINED,
        cs.message_key("c:optout"): cs.SUPPRESSED,
        cs.message_key("c:fine"): cs.DELIVERED,
    }
    ids = ["c:tired", "c:notemplate", "c:rejected", "c:soft", "c:hard", "c:angry", "c:optout"]
    ids += ["c:fine", "c:unknown"]
    # When --only-failed selects
    selection = select_failed([body(i) for i in ids], known)
    # Then dead letters a retry can fix go again under their id, a transient bounce under the
    # next resend id, and nothing else
    assert [json.loads(b)["id"] for b in selection.bodies] == [
        "c:tired",
        "c:notemplate",
        "c:soft~1",
    ]
    assert selection.skipped[cs.dead_lettered("MESSAGE_REJECTED")] == 1
    for outcome in (cs.BOUNCED_PERMANENT, cs.COMPLAINED, cs.SUPPRESSED, cs.DELIVERED):
        assert selection.skipped[outcome] == 1
    assert sum(selection.skipped.values()) == 6


def test_a_resend_is_judged_by_its_latest_attempt_and_stops_after_the_last():
    # Given a transient bounce resent once and delivered, and one that bounced at every resend
    known = {
        cs.message_key("c:a"): cs.BOUNCED_TRANSIENT,
        cs.message_key("c:a~1"): cs.DELIVERED,
        **{cs.message_key(cs.resend_id("c:b", n)): cs.BOUNCED_TRANSIENT for n in range(4)},
    }
    # When --only-failed selects, then neither goes again
    selection = select_failed([body("c:a"), body("c:b")], known)
    assert selection.bodies == []
    assert selection.skipped[cs.DELIVERED] == 1


def test_status_numbers_add_up_and_tell_the_time_left():
    # Given a campaign's counts: 100 enqueued, 60 sent over 30 s, 5 dead-lettered
    counts = {
        cs.ENQUEUED: 100,
        cs.SENT_TOTAL: 60,
        cs.DEAD_LETTERED_TOTAL: 5,
        "n:delivered": 50,
        "n:bounced_permanent": 3,
        "n:bounced_transient": 1,
        "n:complained": 1,
        "n:delayed": 2,
        "n:sent": 3,
        "n:dead_lettered:MESSAGE_REJECTED": 5,
        "first_sent_at": 1000.0,
        "last_sent_at": 1030.0,
    }
    numbers = CampaignNumbers("c", counts)
    # Then in flight is what SES has not settled, queued what the sender has not seen
    assert numbers.in_flight == 5
    assert numbers.queued == 35
    assert numbers.rate == 2.0
    assert numbers.adds_up
    text = "\n".join(numbers.lines())
    assert "(permanent 3, transient 1)" in text
    assert "MessageRejected 5" in text
    assert "about 0m18s at 2.0/s" in text
    assert "60 = 50 + 4 + 1 + 0 + 0 + 5" in text


def test_status_says_so_when_events_are_missing():
    # Given 10 sent and SES's events for only 8 of them
    numbers = CampaignNumbers("c", {cs.SENT_TOTAL: 10, cs.ENQUEUED: 10, "n:delivered": 8})
    assert numbers.in_flight == 2
    assert numbers.awaiting_events == 2
    assert not numbers.adds_up
    assert "no SES event yet 2" in "\n".join(numbers.lines())


def test_only_failed_needs_the_status_table(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("email\na@example.com\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "enqueue", str(path), "--campaign", "c", "--only-failed", "--dry-run",
            "--from", "s@example.com", "--template", "welcome",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    expected = "no status table given: use --status-table NAME, --stack NAME or --local"
    assert expected in result.output


def test_status_reads_the_table_watches_until_done_and_exports_each_email(tmp_path):
    # Given a status table (moto, in process) with a finished campaign of two emails
    import boto3
    from moto import mock_aws

    from bulk_sender.status_table import StatusTable

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(dynamodb, "status", STATUS_TABLE)
        table = StatusTable(dynamodb, "status")
        one, two = cs.message_key("c:one"), cs.message_key("c:two")
        changes = [
            cs.Change("c", one, cs.DELIVERED, "Delivery", "2026-01-01T00:00:01Z"),
            cs.Change(
                "c", two, cs.BOUNCED_PERMANENT, "Bounce", "2026-01-01T00:00:02Z", "Permanent/x"
            ),
        ]
        table.record(changes, {"c": {cs.ENQUEUED: 2, cs.SENT_TOTAL: 2}})
        export_path = tmp_path / "c.csv"
        # When status watches it and exports it
        result = CliRunner().invoke(
            app,
            [
                "status", "--campaign", "c", "--status-table", "status", "--watch",
                "--export", str(export_path),
            ],
        )  # fmt: skip
    # Then it printed once (the campaign is done) and wrote one row per email
    assert result.exit_code == 0, result.output
    assert result.stdout.count("campaign c") == 1
    assert "2 = 1 + 1 + 0 + 0 + 0 + 0" in result.stdout
    assert "exported 2 email(s)" in result.stdout
    rows = export_path.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "id,outcome,event,detail,at,opened,clicked"
    # (the table holds a keyed hash of each id, never the id: --join FILE adds the address)
    assert sorted(rows[1:]) == sorted(
        [
            f"{one},delivered,Delivery,,2026-01-01T00:00:01Z,,",
            f"{two},bounced_permanent,Bounce,Permanent/x,2026-01-01T00:00:02Z,,",
        ]
    )


def test_join_reads_the_campaign_file_as_enqueue_does_aliases_and_semicolons(tmp_path):
    # Given a spreadsheet export: an `Email Address` column, semicolons, a blank line
    path = tmp_path / "people.csv"
    path.write_text(
        "Email Address;Name\nann@example.org;Ann\n\n bob@example.org ;Bob\n", encoding="utf-8"
    )
    rows = read_campaign(path, CampaignOptions("c", "s@example.com", "welcome", id_key=b"k"))
    # When --join maps the status table's keys back to addresses
    found = addresses_by_key(path, "c", b"k")
    # Then each id enqueue made from this file has its address back
    assert [found[cs.message_key(row.id)] for row in rows] == [
        "ann@example.org",
        "bob@example.org",
    ]


def test_status_never_says_done_while_the_queue_holds_messages():
    # Given a campaign whose counts say nothing is left (an enqueue interrupted before its
    # count was written), while the send queue still holds 11,660 messages
    counts = {cs.ENQUEUED: 300, cs.SENT_TOTAL: 300, "n:delivered": 300}
    depth = {"visible": 11_000, "in_flight": 600, "delayed": 60}
    numbers = CampaignNumbers("c", counts, queue=depth)
    # Then status counts the queue from the queue itself and is not done
    text = "\n".join(numbers.lines())
    assert numbers.waiting
    assert "on the queue          11660  (waiting 11000, in flight 600, scheduled 60;" in text
    assert "done" not in text.split("time left")[1]
    # And once the queue is empty it is done
    empty = CampaignNumbers("c", counts, queue=dict.fromkeys(depth, 0))
    assert not empty.waiting
    assert "time left              done" in "\n".join(empty.lines())


def test_a_row_offered_twice_is_counted_once():
    # Given a 1,000-row campaign enqueued twice: the second time the sender acknowledged
    # every message as a duplicate (already sent)
    counts = {cs.ENQUEUED: 2000, cs.SENT_TOTAL: 1000, cs.DUPLICATES: 1000, "n:delivered": 1000}
    numbers = CampaignNumbers("c", counts)
    # Then status shows 1,000 enqueued (each email once), nothing queued, done
    assert numbers.enqueued == 1000
    assert numbers.queued == 0
    text = "\n".join(numbers.lines())
    assert "enqueued               1000  (1000 offered again: counted once)" in text


def test_a_dead_letter_redriven_then_sent_counts_once():
    # Given 100 emails: 10 dead-lettered, redriven and sent since (their outcome moved on),
    # 40 others sent, 50 still to send
    counts = {
        cs.ENQUEUED: 100,
        cs.SENT_TOTAL: 50,
        cs.DEAD_LETTERED_TOTAL: 10,
        "n:dead_lettered:TransientFailure": 0,
        "n:delivered": 50,
    }
    # Then 50 are still queued (the redriven ones count once, as sent), not 40
    numbers = CampaignNumbers("c", counts)
    assert numbers.queued == 50
    assert numbers.waiting


def test_status_of_an_unknown_campaign_exits_1():
    import boto3
    from moto import mock_aws

    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="eu-west-1"), "status", STATUS_TABLE)
        result = CliRunner().invoke(
            app, ["status", "--campaign", "nope", "--status-table", "status"]
        )
    assert result.exit_code == 1
    assert "campaign nope: nothing recorded yet" in result.stdout


def test_ses_s_two_names_of_one_reason_are_one_reason():
    # Given dead letters refused by SES per entry (MESSAGE_REJECTED) and per call
    # (MessageRejected), and a RetriesExhausted one
    counts = {
        cs.ENQUEUED: 4,
        "n:dead_lettered:MESSAGE_REJECTED": 2,
        "n:dead_lettered:MessageRejected": 1,
        "n:dead_lettered:RetriesExhausted": 1,
    }
    # Then status shows one reason for the first two
    numbers = CampaignNumbers("c", counts)
    assert numbers.dead_by_reason == {"MessageRejected": 3, "RetriesExhausted": 1}
    assert "(MessageRejected 3, RetriesExhausted 1)" in "\n".join(numbers.lines())
