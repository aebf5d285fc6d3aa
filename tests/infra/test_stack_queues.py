"""The send queue and its dead-letter queue."""

from aws_cdk.assertions import Match

from bulk_sender import sqs_limits
from stacks.queues import MAX_MESSAGE_SIZE_BYTES
from tests.infra.cfn import arn_of, ref

FOURTEEN_DAYS = 14 * 24 * 3600


def test_the_queue_hides_a_batch_for_at_least_six_function_timeouts(synth):
    # Given the synthesized stack
    queue = synth.template["Resources"][synth.logical_id("AWS::SQS::Queue", "QueuesQueue")]
    _, function = synth.one("AWS::Lambda::Function", "Sender")
    # When the queue's visibility timeout is compared with the function's timeout
    visibility = queue["Properties"]["VisibilityTimeout"]
    timeout = function["Properties"]["Timeout"]
    # Then it is at least six times as long (Lambda's guidance for SQS event sources)
    assert visibility >= 6 * timeout


def test_the_queue_redrives_to_the_dlq_after_the_context_receive_count(synth, context):
    # Given the two queues
    dlq_id = synth.logical_id("AWS::SQS::Queue", "QueuesDlq")
    queue_id = synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    # When the queue's redrive policy is read
    redrive = synth.template["Resources"][queue_id]["Properties"]["RedrivePolicy"]
    # Then it names the DLQ and maxReceiveCount from context
    assert redrive == {
        "deadLetterTargetArn": arn_of(dlq_id),
        "maxReceiveCount": context["max_receive_count"],
    }


def test_both_queues_are_encrypted_and_set_their_maximum_message_size(synth):
    # Given the synthesized stack
    # When its queues are read
    queues = {
        logical_id: queue
        for logical_id, queue in synth.resources("AWS::SQS::Queue").items()
        if logical_id.startswith("Queues")
    }
    # Then there are two, both encrypted with SQS-managed keys, with the size set explicitly
    assert len(queues) == 2
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert MAX_MESSAGE_SIZE_BYTES == sqs_limits.MAX_MESSAGE_BYTES == 262_144


def test_the_dlq_holds_a_maximum_size_message_plus_the_handlers_four_attributes(synth):
    # Given the synthesized queues (SQS counts attributes toward a message's size)
    resources = synth.template["Resources"]
    queue = resources[synth.logical_id("AWS::SQS::Queue", "QueuesQueue")]["Properties"]
    dlq = resources[synth.logical_id("AWS::SQS::Queue", "QueuesDlq")]["Properties"]
    # Then the queue takes the handler's maximum message, and the DLQ that plus room for the
    # four attributes, within SQS's 1 MiB
    assert queue["MaximumMessageSize"] == sqs_limits.MAX_MESSAGE_BYTES
    room = dlq["MaximumMessageSize"] - queue["MaximumMessageSize"]
    assert room == sqs_limits.DEAD_LETTER_ATTRIBUTES_BYTES >= 4 * 1024 + 1024
    assert dlq["MaximumMessageSize"] <= 1_048_576


def test_the_dlq_keeps_messages_fourteen_days(synth):
    # Given the DLQ
    dlq = synth.template["Resources"][synth.logical_id("AWS::SQS::Queue", "QueuesDlq")]
    # When its retention is read
    # Then it is SQS's maximum, 14 days
    assert dlq["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS


def test_both_queues_refuse_requests_without_tls(synth):
    # Given the synthesized stack
    for queue_fragment in ("QueuesQueue", "QueuesDlq"):
        queue_id = synth.logical_id("AWS::SQS::Queue", queue_fragment)
        # When the queue's policy is looked up
        # Then it denies every request made without TLS
        synth.assertions.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [ref(queue_id)],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "sqs:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )
