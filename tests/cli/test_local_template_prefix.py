"""The local run names templates as the stack does: with a template_prefix, the emulator holds
`<prefix><stem>`, the handler is told the prefix, and a message naming the stem is sent."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from bulkmail.local import emulator as emu
from bulkmail.local.provision import handler_env, provision
from bulkmail.local.settings import LocalSettings


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", emu.DEFAULT_REGION)
    emu.install()
    with mock_aws():
        emu.reset()
        yield


def test_the_local_run_provisions_and_sends_prefixed_templates(aws) -> None:
    # Given the local run provisioned with template_prefix "shop-"
    settings = LocalSettings(template_prefix="shop-")
    urls = provision(settings)
    ses = boto3.client("sesv2")
    # Then the emulator holds the shipped template under the prefixed name, not the stem
    assert ses.get_email_template(TemplateName="shop-welcome")["TemplateContent"]["Subject"]
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_email_template(TemplateName="welcome")
    # When the handler, configured as the local run configures it, gets a message naming
    # `welcome`
    env = handler_env(settings, urls)
    sender = BulkSender(Settings.from_env(env), ses=ses, sqs=boto3.client("sqs"), limiter=Unpaced())
    body = {"to": "ann@example.org", "from": "news@example.com", "template": "welcome"}
    result = sender.process(
        [
            {
                "messageId": "m1",
                "receiptHandle": "rh",
                "body": json.dumps({**body, "data": {"name": "Ann"}}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
        ]
    )
    # Then it is sent with the prefixed template, through the local configuration set only
    assert result.failures == []
    (sent,) = emu.sent_emails()
    assert sent["template"] == "shop-welcome"
    assert env["ALLOWED_CONFIGURATION_SETS"] == settings.configuration_set
