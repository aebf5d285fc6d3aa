"""`doctor`: on the emulator end to end, and on SES's own answers (botocore Stubber) for the
accounts a newcomer meets: the sandbox, an unverified identity, DKIM pending, paused sending."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

from bulkmail import doctor
from bulkmail.cli import app
from bulkmail.local import emulator

QUOTA = {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 120.0}
PRODUCTION = {
    "SendQuota": QUOTA,
    "SendingEnabled": True,
    "ProductionAccessEnabled": True,
    "EnforcementStatus": "HEALTHY",
}


@pytest.fixture(autouse=True)
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def aws() -> Iterator[None]:
    """Given moto in process with the project's SES v2 extension (GetAccount)."""
    emulator.install()
    with mock_aws():
        yield
    emulator.reset()


def doctor_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["doctor", *args])


def test_a_ready_account_and_stack_pass_on_the_emulator(aws: None) -> None:
    # Given a verified domain, the configuration set and a subscribed alarm topic
    ses, sns = boto3.client("sesv2"), boto3.client("sns")
    ses.create_email_identity(EmailIdentity="example.com")
    emulator.verify_identities()
    ses.create_configuration_set(ConfigurationSetName="bulk")
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")

    # When the doctor checks them
    result = doctor_cli(
        "--identity", "example.com", "--configuration-set", "bulk", "--alarms-topic-arn", topic
    )

    # Then every line is ok, and it says so; exit 0
    assert result.exit_code == 0, result.output
    assert "ok    identity example.com: verified, DKIM signing on" in result.stdout
    assert "ok    configuration set bulk: exists, sending enabled" in result.stdout
    assert "ok    alarms: 1 confirmed subscription(s)" in result.stdout
    assert "doctor: 0 failed, 0 warning(s): ready for a first campaign" in result.stdout


def test_a_missing_identity_and_set_fail_on_the_emulator(aws: None) -> None:
    # When the doctor checks an identity and a configuration set that do not exist
    result = doctor_cli("--identity", "news.example.org", "--configuration-set", "nope")

    # Then both fail with what to do; the alarms are a warning; exit 1
    assert result.exit_code == 1, result.output
    assert "fail  identity news.example.org: not in SES in this Region" in result.stdout
    assert "fail  configuration set nope: does not exist: deploy the stack" in result.stdout
    assert "warn  alarms: topic unknown" in result.stdout
    assert "doctor: 2 failed, 1 warning(s): fix what failed first" in result.stdout


def stubbed(service: str, *answers: tuple[str, dict[str, Any]]) -> Any:
    client = boto3.client(service, region_name="eu-west-1")
    stubber = Stubber(client)
    for operation, answer in answers:
        stubber.add_response(operation, answer)
    stubber.activate()
    return client


def statuses(findings: list[doctor.Finding]) -> dict[str, str]:
    return {finding.subject: finding.status for finding in findings}


def test_the_sandbox_is_a_warning_that_says_its_limits_and_the_recipients_key() -> None:
    # Given SES answers for an account in the sandbox
    sandbox = {**PRODUCTION, "ProductionAccessEnabled": False}
    sandbox["SendQuota"] = {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0}
    ses = stubbed("sesv2", ("get_account", sandbox))

    # When the account is checked without sandbox_recipients set
    findings = doctor.check_account(ses, sandbox_recipients=None)

    # Then the sandbox is a warning naming its limits and the context key to set
    account = next(f for f in findings if f.subject == "account")
    assert account.status == doctor.WARN
    assert "in the SES sandbox: mail only to verified addresses, 200 a day" in account.detail
    assert "set the context key sandbox_recipients" in account.detail
    assert statuses(findings) == {
        "account": "warn",
        "sending": "ok",
        "quota": "ok",
    }


def test_paused_sending_and_a_spent_quota_fail() -> None:
    # Given SES answers for an account whose sending is paused and whose day is spent
    paused = {**PRODUCTION, "SendingEnabled": False}
    paused["SendQuota"] = {**QUOTA, "SentLast24Hours": 50000.0}
    ses = stubbed("sesv2", ("get_account", paused))

    # When the account is checked, then sending and quota fail
    findings = doctor.check_account(ses, sandbox_recipients=["me@example.net"])
    assert statuses(findings) == {"account": "ok", "sending": "fail", "quota": "fail"}


def test_a_paused_configuration_set_fails() -> None:
    # Given SES answers for a configuration set whose sending is paused
    ses = stubbed(
        "sesv2",
        (
            "get_configuration_set",
            {"ConfigurationSetName": "bulk", "SendingOptions": {"SendingEnabled": False}},
        ),
    )

    # When it is checked, then it fails naming the command that resumes it
    [finding] = doctor.check_configuration_set(ses, "bulk")
    assert finding.status == doctor.FAIL
    assert "put-configuration-set-sending-options" in finding.detail


def test_an_unverified_identity_fails_and_pending_dkim_warns_with_its_records() -> None:
    # Given SES answers: an address not yet verified, a domain verified with DKIM pending,
    # a domain not verified (DKIM pending), and a domain with DKIM verified
    tokens = ["tok1", "tok2", "tok3"]
    ses = stubbed(
        "sesv2",
        (
            "get_email_identity",
            {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": False},
        ),
        (
            "get_email_identity",
            {
                "IdentityType": "DOMAIN",
                "VerifiedForSendingStatus": True,
                "DkimAttributes": {"Status": "PENDING", "Tokens": tokens},
            },
        ),
        (
            "get_email_identity",
            {
                "IdentityType": "DOMAIN",
                "VerifiedForSendingStatus": False,
                "DkimAttributes": {"Status": "PENDING", "Tokens": tokens},
            },
        ),
        (
            "get_email_identity",
            {
                "IdentityType": "DOMAIN",
                "VerifiedForSendingStatus": True,
                "DkimAttributes": {"Status": "SUCCESS", "Tokens": tokens},
            },
        ),
    )

    # When the four are checked
    names = ["me@example.net", "mail.example.com", "new.example.com", "example.com"]
    findings = doctor.check_identities(ses, names)

    # Then the address and the unverified domain fail, pending DKIM warns, DKIM verified is ok
    assert [f.status for f in findings] == ["fail", "warn", "fail", "ok"]
    assert "follow the link in the email SES sent" in findings[0].detail
    assert "tok1._domainkey.mail.example.com CNAME tok1.dkim.amazonses.com" in findings[1].detail
    assert "DKIM PENDING" in findings[2].detail


def test_an_alarm_subscription_pending_confirmation_warns() -> None:
    # Given SNS answers with one subscription still pending
    topic = "arn:aws:sns:eu-west-1:123456789012:alarms"
    sns = stubbed(
        "sns",
        (
            "list_subscriptions_by_topic",
            {"Subscriptions": [{"SubscriptionArn": "PendingConfirmation", "TopicArn": topic}]},
        ),
    )

    # When the alarms are checked, then it says to confirm the email
    [finding] = doctor.check_alarm_subscription(sns, topic)
    assert (finding.status, finding.detail) == (
        doctor.WARN,
        "subscription pending: confirm the email SNS sent",
    )


def test_a_check_aws_refuses_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given credentials that may read the account and the identity, not the configuration set
    ses = boto3.client("sesv2", region_name="eu-west-1")
    stubber = Stubber(ses)
    stubber.add_response("get_account", PRODUCTION)
    stubber.add_response(
        "get_email_identity",
        {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": True},
    )
    stubber.add_client_error("get_configuration_set", "AccessDeniedException", "not authorized")
    stubber.activate()
    monkeypatch.setattr(doctor.boto3, "client", lambda service, **_: ses)

    # When the doctor runs
    result = doctor_cli("--identity", "news@example.com", "--configuration-set", "bulk")

    # Then that check fails with AWS's answer, and the others still ran
    assert result.exit_code == 1, result.output
    assert (
        "fail  configuration set: cannot check: AccessDeniedException: not authorized"
        in result.stdout
    )
    assert "ok    identity news@example.com: verified" in result.stdout
    assert "doctor: 1 failed, 1 warning(s)" in result.stdout
