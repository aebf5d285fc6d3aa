"""The emulator and SendBulkEmail's per-call options (DESIGN.md section 11): it records each,
and refuses an unknown tenant or endpoint as SES does (NotFoundException, the whole call)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto import mock_aws

from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from bulkmail.local.emulator import Emulator, install, reset, sent_emails
from bulkmail.local.provision import handler_env, local_env, provision, reset_moto
from bulkmail.local.settings import LocalSettings
from tests.emulator.test_emulator import (  # noqa: F401 (fixtures)
    CLIENT_CONFIG,
    REGION,
    TEMPLATE,
    client,
    entry,
    error_of,
    send,
    server,
    ses,
)

ARN = "arn:aws:ses:eu-west-1:111122223333:identity/example.com"


def test_every_option_is_recorded_with_the_email(ses: BaseClient) -> None:  # noqa: F811
    # Given a tenant and a multi-region endpoint created in the emulator
    tenant = ses.create_tenant(TenantName="brand-a")
    endpoint_id = ses.create_multi_region_endpoint(
        EndpointName="global", Details={"RoutesDetails": [{"Region": "us-east-1"}]}
    )["EndpointId"]
    # When a call uses every option
    attachment = {
        "FileName": "terms.pdf",
        "RawContent": b"%PDF terms",
        "ContentType": "application/pdf",
        "ContentTransferEncoding": "BASE64",
    }
    results = send(
        ses,
        [entry("ann@example.org", data={"name": "Ann", "plan": "pro"})],
        {"TemplateName": "welcome", "Attachments": [attachment]},
        TenantName="brand-a",
        EndpointId=endpoint_id,
        ConfigurationOverrides={"Tracking": {"OpenTrackingEnabled": "DISABLED"}},
        FromEmailAddressIdentityArn=ARN,
        FeedbackForwardingEmailAddress="bounces@example.com",
        FeedbackForwardingEmailAddressIdentityArn=ARN,
    )
    # Then it is sent, and the record holds each option, the file's bytes decoded
    assert results[0]["Status"] == "SUCCESS"
    (email,) = sent_emails(REGION)
    assert tenant["TenantArn"].endswith(f":tenant/brand-a/{tenant['TenantId']}")
    assert (email["tenant"], email["endpoint_id"]) == ("brand-a", endpoint_id)
    assert email["tracking"] == {"OpenTrackingEnabled": "DISABLED"}
    assert email["from_arn"] == email["feedback_to_arn"] == ARN
    assert email["attachments"] == [{**attachment, "RawContent": b"%PDF terms"}]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"TenantName": "brand-z"}, "Tenant brand-z does not exist."),
        ({"EndpointId": "abcd1234.ef5"}, "Multi-region endpoint abcd1234.ef5 does not exist."),
    ],
)
def test_an_unknown_tenant_or_endpoint_fails_the_call_as_not_found(
    ses: BaseClient,  # noqa: F811 (the fixture)
    option: dict[str, str],
    message: str,
) -> None:
    with pytest.raises(ClientError) as raised:
        send(ses, [entry("ann@example.org", data={"name": "Ann", "plan": "pro"})], **option)
    assert error_of(raised) == ("NotFoundException", 404)
    assert raised.value.response["Error"]["Message"] == message
    assert sent_emails(REGION) == []


def test_the_sender_attaches_the_bucket_s_file_and_sends_through_the_tenant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the real sending core against the emulator in process: a bucket with a file,
    # a tenant, a verified sender and template
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    install()
    with mock_aws():
        ses = boto3.client("sesv2", region_name=REGION, config=CLIENT_CONFIG)
        sqs = boto3.client("sqs", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        ses.create_email_identity(EmailIdentity="example.com")
        ses.create_email_template(TemplateName="welcome", TemplateContent=TEMPLATE)
        ses.create_tenant(TenantName="brand-a")
        s3.create_bucket(Bucket="files", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="files", Key="spring/terms.pdf", Body=b"%PDF-1.7 terms")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        settings = Settings(
            dlq_url=dlq,
            attachment_bucket="files",
            allowed_tenants=frozenset({"brand-a"}),
            max_calls_in_flight=1,
        )
        sender = BulkSender(settings, ses=ses, sqs=sqs, s3=s3, limiter=Unpaced())
        body = {
            "to": "ann@example.org",
            "from": "news@example.com",
            "template": "welcome",
            "data": {"name": "Ann", "plan": "pro"},
            "tenant": "brand-a",
            "tracking": {"opens": False, "clicks": False},
            "attachments": [{"key": "spring/terms.pdf", "content_type": "application/pdf"}],
        }
        event = {"messageId": "m1", "receiptHandle": "r", "body": json.dumps(body)}
        # When the message is processed
        result = sender.process([event])
        # Then it is sent through the tenant, untracked, with the file attached
        assert result.failures == []
        (email,) = sent_emails(REGION)
        assert email["tenant"] == "brand-a"
        assert email["tracking"] == {
            "OpenTrackingEnabled": "DISABLED",
            "ClickTrackingEnabled": "DISABLED",
        }
        (attached,) = email["attachments"]
        assert (attached["FileName"], attached["RawContent"]) == ("terms.pdf", b"%PDF-1.7 terms")


def test_the_local_run_provisions_the_attachment_bucket_and_the_sender_reads_it(
    server: Emulator,  # noqa: F811 (the fixture)
) -> None:
    # Given the local run's provisioning on the emulator, and a file in its attachment bucket
    settings = LocalSettings()
    with local_env(server.endpoint_url, settings):
        reset_moto(server.endpoint_url)
        reset()
        urls = provision(settings)
        boto3.client("s3").put_object(
            Bucket=urls["AttachmentBucketName"], Key="logo.png", Body=b"\x89PNG logo"
        )
        env = handler_env(settings, urls)
        sender = BulkSender(Settings.from_env(env), limiter=Unpaced())
        body = {
            "to": "ann@example.org",
            "from": "news@example.com",
            "content": {"subject": "Hi", "html": '<img src="cid:logo">'},
            "attachments": [{"key": "logo.png", "disposition": "inline", "content_id": "logo"}],
        }
        # When the handler's core sends a message naming it
        result = sender.process(
            [{"messageId": "m1", "receiptHandle": "r", "body": json.dumps(body)}]
        )
        # Then the email carries it, inline, with its bytes
        assert result.failures == []
        (email,) = sent_emails(settings.region)
    (attached,) = email["attachments"]
    assert attached["RawContent"] == b"\x89PNG logo"
    assert (attached["ContentDisposition"], attached["ContentId"]) == ("INLINE", "logo")
