"""The exact SendBulkEmail request, checked by botocore's Stubber against the real SES v2
model (one call in flight: Stubber answers in queue order)."""

import boto3
from botocore.stub import Stubber

from bulk_sender.campaign_status import message_key
from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSqs, record


def test_a_message_using_every_field_becomes_this_request():
    # Given a real SES v2 client under Stubber and a message using every field
    ses = boto3.client("sesv2", region_name="eu-west-1")
    body = {
        "to": ["Ann <ann@example.org>"],
        "cc": ["cc@example.org"],
        "bcc": ["bcc@example.org"],
        "from": "News <news@example.com>",
        "template": "welcome",
        "data": {"name": "Ann"},
        "headers": {
            "List-Unsubscribe": "<https://example.com/u?id=c%3A1>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "tags": {"campaign": "spring"},
        "reply_to": ["help@example.com"],
        "feedback_to": "bounces@example.com",
        "configuration_set": "marketing",
        "id": "spring:1",
    }
    expected = {
        "FromEmailAddress": "News <news@example.com>",
        "DefaultContent": {"Template": {"TemplateName": "welcome", "TemplateData": "{}"}},
        "BulkEmailEntries": [
            {
                "Destination": {
                    "ToAddresses": ["Ann <ann@example.org>"],
                    "CcAddresses": ["cc@example.org"],
                    "BccAddresses": ["bcc@example.org"],
                },
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": '{"name":"Ann"}'}
                },
                "ReplacementTags": [
                    {"Name": "campaign", "Value": "spring"},
                    {"Name": "env", "Value": "prod"},
                    {"Name": "bulkmail-id", "Value": message_key("spring:1")},
                ],
                "ReplacementHeaders": [
                    {"Name": "List-Unsubscribe", "Value": "<https://example.com/u?id=c%3A1>"},
                    {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
                ],
            }
        ],
        "DefaultEmailTags": [{"Name": "env", "Value": "prod"}],
        "ConfigurationSetName": "marketing",
        "ReplyToAddresses": ["help@example.com"],
        "FeedbackForwardingEmailAddress": "bounces@example.com",
    }
    settings = Settings(
        dlq_url="https://sqs.example/dlq", default_tags={"env": "prod"}, max_calls_in_flight=1
    )
    sender = BulkSender(settings, ses=ses, sqs=FakeSqs(), limiter=Unpaced())
    with Stubber(ses) as stub:
        stub.add_response(
            "get_email_template",
            {"TemplateName": "welcome", "TemplateContent": {"Subject": "Hi {{name}}"}},
            expected_params={"TemplateName": "welcome"},
        )
        stub.add_response(
            "send_bulk_email",
            {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "0100-abc"}]},
            expected_params=expected,
        )
        # When it is processed
        result = sender.process([record(body, "m1")])
        # Then SES got exactly that request, and the message is sent
        stub.assert_no_pending_responses()
    assert result.failures == []
    assert result.counts["EmailsSent"] == 1
