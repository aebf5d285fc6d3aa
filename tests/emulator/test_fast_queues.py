"""The local run's SQS queues (bulkmail.local.fast_queues) against moto's own, on small
queues: the same calls give the same answers, on a fake clock."""

import json
import time
from contextlib import contextmanager

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sqs import models as sqs_models

from bulkmail.local import fast_queues


class Clock:
    """Stopped at now (the emulator's retention check reads the real time), moved by hand."""

    def __init__(self) -> None:
        self.ms = float(int(time.time()) * 1000)

    def millis(self, dt=None) -> float:
        return self.ms

    def seconds(self, dt=None) -> float:
        return self.ms / 1000

    def advance(self, seconds: float) -> None:
        self.ms += seconds * 1000


@contextmanager
def world(indexed: bool, monkeypatch):
    """An SQS queue with a DLQ (maxReceiveCount 2), served by moto or by the index."""
    was_installed = bool(fast_queues._ORIGINAL)
    fast_queues.uninstall()
    if indexed:
        fast_queues.install()
    clock = Clock()
    monkeypatch.setattr(sqs_models, "unix_time_millis", clock.millis)
    monkeypatch.setattr(sqs_models, "unix_time", clock.seconds)
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="eu-west-1")
            dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
            queue = sqs.create_queue(
                QueueName="q", Attributes={"RedrivePolicy": json.dumps(policy)}
            )["QueueUrl"]
            yield sqs, queue, dlq, clock
    finally:
        fast_queues.uninstall()
        if was_installed:
            fast_queues.install()


def both(scenario, monkeypatch):
    """The scenario's answers under moto's code and under the index: they must agree."""
    answers = []
    for indexed in (False, True):
        with world(indexed, monkeypatch) as given:
            answers.append(scenario(*given))
    assert answers[0] == answers[1]
    return answers[1]


def depth(sqs, url):
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return tuple(int(found[name]) for name in names)


def receive(sqs, url, count=10, visibility=5):
    return sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=count,
        VisibilityTimeout=visibility,
        MessageAttributeNames=["All"],
        AttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])


def bodies(messages):
    return [m["Body"] for m in messages]


def _send_receive_hide_and_show_again(sqs, queue, _dlq, clock):
    # Given five messages, one delayed
    for n in range(4):
        sqs.send_message(QueueUrl=queue, MessageBody=f"m{n}")
    sqs.send_message(QueueUrl=queue, MessageBody="late", DelaySeconds=3)
    steps = [("sent", depth(sqs, queue))]
    # When two are received, then the rest, then time passes
    first = receive(sqs, queue, count=2, visibility=5)
    steps += [("first", bodies(first)), ("after first", depth(sqs, queue))]
    rest = receive(sqs, queue, visibility=10)
    steps += [("rest", bodies(rest)), ("after rest", depth(sqs, queue))]
    clock.advance(4)
    steps += [("delayed shows", bodies(receive(sqs, queue, visibility=10)))]
    clock.advance(2)  # the first two are visible again, oldest first, counted twice
    again = receive(sqs, queue)
    receive_counts = [m["Attributes"]["ApproximateReceiveCount"] for m in again]
    steps += [("again", bodies(again), receive_counts), ("end", depth(sqs, queue))]
    return steps


def _delete_by_any_handle_twice_and_unknown(sqs, queue, _dlq, clock):
    sqs.send_message(QueueUrl=queue, MessageBody="a")
    sqs.send_message(QueueUrl=queue, MessageBody="b")
    old = receive(sqs, queue, visibility=1)[0]["ReceiptHandle"]
    clock.advance(2)
    receive(sqs, queue, count=1, visibility=1)  # "a" again, a new handle
    steps = []
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=old)  # the old handle still deletes it
    steps.append(("deleted", depth(sqs, queue)))
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=old)  # again: no error
    with pytest.raises(ClientError) as error:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle="not-a-handle")
    steps.append(("unknown", error.value.response["Error"]["Code"]))
    batch = sqs.delete_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": "1", "ReceiptHandle": old}, {"Id": "2", "ReceiptHandle": "nope"}],
    )
    steps.append(
        ("batch", [s["Id"] for s in batch["Successful"]], [f["Id"] for f in batch["Failed"]])
    )
    clock.advance(2)
    steps.append(("left", bodies(receive(sqs, queue))))
    return steps


def _receive_count_moves_to_the_dlq(sqs, queue, dlq, clock):
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    sqs.send_message(QueueUrl=queue, MessageBody="fine")
    steps = []
    for _round in range(3):
        steps.append(bodies(receive(sqs, queue, visibility=1)))
        clock.advance(2)
    steps.append(("queue", depth(sqs, queue), "dlq", depth(sqs, dlq)))
    moved = receive(sqs, dlq)
    steps.append(("dlq", sorted(bodies(moved))))
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=moved[0]["ReceiptHandle"])
    steps.append(("dlq after delete", depth(sqs, dlq)))
    return steps


def _change_visibility_and_zero_timeout(sqs, queue, _dlq, clock):
    sqs.send_message(QueueUrl=queue, MessageBody="x")
    sqs.send_message(QueueUrl=queue, MessageBody="y")
    handle = receive(sqs, queue, count=1, visibility=30)[0]["ReceiptHandle"]
    steps = [("hidden", depth(sqs, queue))]
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
    steps.append(("shown", depth(sqs, queue), bodies(receive(sqs, queue, visibility=0))))
    steps.append(("zero keeps them visible", depth(sqs, queue)))
    with pytest.raises(ClientError) as error:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle="nope", VisibilityTimeout=5)
    steps.append(error.value.response["Error"]["Code"])
    clock.advance(43_000)
    with pytest.raises(ClientError) as error:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=600)
    steps.append(error.value.response["Error"]["Code"])
    sqs.purge_queue(QueueUrl=queue)
    steps.append(("purged", depth(sqs, queue), bodies(receive(sqs, queue))))
    return steps


@pytest.mark.parametrize(
    "scenario",
    [
        _send_receive_hide_and_show_again,
        _delete_by_any_handle_twice_and_unknown,
        _receive_count_moves_to_the_dlq,
        _change_visibility_and_zero_timeout,
    ],
    ids=lambda scenario: scenario.__name__.strip("_"),
)
def test_the_index_answers_as_moto_does(scenario, monkeypatch):
    # Given a small queue and a sequence of calls (sends, receives, deletes, time passing)
    # When both run them, Then every answer and count is the same
    steps = both(scenario, monkeypatch)
    assert steps  # a scenario that recorded nothing compares nothing


def test_receive_order_and_counts_are_sqs_s(monkeypatch):
    steps = both(_send_receive_hide_and_show_again, monkeypatch)
    assert steps[0] == ("sent", (4, 0, 1))
    assert steps[1] == ("first", ["m0", "m1"])
    assert steps[3] == ("rest", ["m2", "m3"])
    assert steps[5] == ("delayed shows", ["late"])
    assert steps[6] == ("again", ["m0", "m1"], ["2", "2"])


def test_no_call_scans_the_queue(monkeypatch):
    """Given 3,000 messages, a receive, delete and count never looks at every message."""
    fast_queues.install()
    looks = 0
    original = sqs_models.Message.visible

    def counted(self):
        nonlocal looks
        looks += 1
        return original.fget(self)

    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queue = sqs.create_queue(QueueName="deep")["QueueUrl"]
        for start in range(0, 3000, 10):
            sqs.send_message_batch(
                QueueUrl=queue,
                Entries=[{"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(10)],
            )
        monkeypatch.setattr(sqs_models.Message, "visible", property(counted))
        got = receive(sqs, queue)
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)
            ],
        )
        assert depth(sqs, queue) == (2990, 0, 0)
    assert looks < 100
