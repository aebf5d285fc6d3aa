"""The embedded emulator's SES v2 extension, through boto3 clients against moto's server."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from bulkmail.local.emulator import (
    Emulator,
    fault_counts,
    install,
    reset,
    sent_emails,
    set_daily_quota,
    set_faults,
    set_max_send_rate,
    start_server,
    verify_identities,
)

REGION = "eu-west-1"
SENDER = "News <news@example.com>"
TEMPLATE = {"Subject": "Hello {{name}}", "Text": "Hi {{name}}, your plan: {{plan}}"}
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1})  # see each fault, no SDK retries


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    with start_server() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(server: Emulator) -> BaseClient:
    return boto3.client(
        "sesv2",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=CLIENT_CONFIG,
    )


@pytest.fixture
def ses(server: Emulator, client: BaseClient) -> Iterator[BaseClient]:
    """Given a fresh emulator with a verified domain and a stored template `welcome`."""
    request = urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    reset()
    client.create_email_identity(EmailIdentity="example.com")
    client.create_email_template(TemplateName="welcome", TemplateContent=TEMPLATE)
    yield client
    reset()


def entry(*to: str, data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    bulk_entry: dict[str, Any] = {"Destination": {"ToAddresses": list(to)}, **extra}
    if data is not None:
        template = {"ReplacementTemplateData": json.dumps(data)}
        bulk_entry["ReplacementEmailContent"] = {"ReplacementTemplate": template}
    return bulk_entry


def send(
    ses: BaseClient,
    entries: list[dict[str, Any]],
    template: dict[str, Any] | None = None,
    **extra: Any,
) -> list[dict[str, str]]:
    response = ses.send_bulk_email(
        FromEmailAddress=extra.pop("FromEmailAddress", SENDER),
        DefaultContent={"Template": template or {"TemplateName": "welcome"}},
        BulkEmailEntries=entries,
        **extra,
    )
    return response["BulkEmailEntryResults"]


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_bulk_send_with_stored_template_records_each_entry_with_merged_data(
    ses: BaseClient,
) -> None:
    # Given a configuration set, default data, headers and tags
    ses.create_configuration_set(ConfigurationSetName="campaigns")
    template = {
        "TemplateName": "welcome",
        "TemplateData": json.dumps({"name": "friend", "plan": "free"}),
        "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
    }
    unsubscribe = [
        {"Name": "List-Unsubscribe", "Value": "<https://example.com/u/1>"},
        {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
    ]
    entries = [
        entry(
            "ann@example.org",
            data={"name": "Ann"},
            ReplacementHeaders=unsubscribe,
            ReplacementTags=[{"Name": "campaign", "Value": "spring"}],
        ),
        entry("bob@example.org"),
    ]

    # When they are sent in one call
    results = send(
        ses,
        entries,
        template,
        ConfigurationSetName="campaigns",
        DefaultEmailTags=[{"Name": "campaign", "Value": "default"}, {"Name": "app", "Value": "x"}],
        ReplyToAddresses=["help@example.com"],
    )

    # Then each entry succeeds and is recorded, in order, with the defaults under its own values
    assert [result["Status"] for result in results] == ["SUCCESS", "SUCCESS"]
    ann, bob = sent_emails(REGION)
    assert [ann["message_id"], bob["message_id"]] == [result["MessageId"] for result in results]
    assert ann["from"] == SENDER
    assert (ann["to"], ann["cc"], ann["bcc"]) == (["ann@example.org"], [], [])
    assert ann["template"] == "welcome"
    assert ann["data"] == {"name": "Ann", "plan": "free"}
    assert bob["data"] == {"name": "friend", "plan": "free"}
    assert list(ann["headers"]) == ["X-Campaign", "List-Unsubscribe", "List-Unsubscribe-Post"]
    assert bob["headers"] == {"X-Campaign": "spring"}
    assert ann["tags"] == {"campaign": "spring", "app": "x"}
    assert bob["tags"] == {"campaign": "default", "app": "x"}
    assert ann["configuration_set"] == "campaigns"
    assert ann["reply_to"] == ["help@example.com"]


def test_inline_template_content_is_sent_and_recorded_by_its_subject(ses: BaseClient) -> None:
    # Given an inline template
    content = {"Subject": "Flash sale, {{name}}", "Html": "<p>Hi {{name}}</p>"}

    # When a bulk call uses it
    results = send(
        ses, [entry("ann@example.org", data={"name": "Ann"})], {"TemplateContent": content}
    )

    # Then the entry is sent and recorded with the inline content
    assert results[0]["Status"] == "SUCCESS"
    (sent,) = sent_emails(REGION)
    assert sent["template"] == "Flash sale, {{name}}"
    assert sent["content"] == content
    assert sent["data"] == {"name": "Ann"}


def test_template_arn_names_the_stored_template(ses: BaseClient) -> None:
    # Given the stored template's ARN
    arn = f"arn:aws:ses:{REGION}:123456789012:template/welcome"

    # When a bulk call names the template by it
    results = send(ses, [entry("ann@example.org")], {"TemplateArn": arn})

    # Then the stored template is used
    assert results[0]["Status"] == "SUCCESS"
    assert sent_emails(REGION)[0]["template"] == "welcome"


def test_the_50_recipient_limit_counts_per_entry(ses: BaseClient) -> None:
    # Given an entry of 51 recipients beside a valid one, and 50 entries of two recipients
    crowded = entry(*(f"user{n}@example.org" for n in range(51)))
    pairs = [
        {"Destination": {"ToAddresses": [f"to{n}@example.org"], "BccAddresses": [f"bcc{n}@x.org"]}}
        for n in range(50)
    ]

    # When both calls are made
    mixed = send(ses, [crowded, entry("ann@example.org")])
    full = send(ses, pairs)

    # Then only the crowded entry fails (INVALID_PARAMETER); 100 recipients over 50 entries pass
    assert [result["Status"] for result in mixed] == ["INVALID_PARAMETER", "SUCCESS"]
    assert {result["Status"] for result in full} == {"SUCCESS"}
    assert len(sent_emails(REGION)) == 51


def test_more_than_50_entries_fail_the_call(ses: BaseClient) -> None:
    # Given 51 entries
    entries = [entry(f"user{n}@example.org") for n in range(51)]

    # When they are sent in one call, then the call fails whole with BadRequestException
    with pytest.raises(ClientError) as excinfo:
        send(ses, entries)
    assert error_of(excinfo) == ("BadRequestException", 400)


def test_unverified_sender_fails_the_call_with_message_rejected(ses: BaseClient) -> None:
    # Given a sender whose address and domain are not verified
    # When it sends
    with pytest.raises(ClientError) as excinfo:
        send(ses, [entry("ann@example.org")], FromEmailAddress="someone@elsewhere.org")

    # Then the whole call is rejected, as SES does, and nothing is sent
    assert error_of(excinfo) == ("MessageRejected", 400)
    assert sent_emails(REGION) == []


@pytest.mark.parametrize(
    ("extra", "template"),
    [
        ({}, {"TemplateName": "missing"}),
        ({}, {"TemplateArn": f"arn:aws:ses:{REGION}:123456789012:template/missing"}),
        ({"ConfigurationSetName": "missing"}, {"TemplateName": "welcome"}),
    ],
    ids=["template-name", "template-arn", "configuration-set"],
)
def test_unknown_template_or_configuration_set_is_not_found(
    ses: BaseClient, extra: dict[str, str], template: dict[str, str]
) -> None:
    # Given a template or a configuration set that does not exist
    # When a bulk call names it, then the call fails with NotFoundException (404)
    with pytest.raises(ClientError) as excinfo:
        send(ses, [entry("ann@example.org")], template, **extra)
    assert error_of(excinfo) == ("NotFoundException", 404)


def test_email_templates_round_trip_and_share_the_v1_store(
    ses: BaseClient, server: Emulator
) -> None:
    # Given the template created through SES v2 by the fixture
    # When it is read back through SES v2 and SES v1
    template = ses.get_email_template(TemplateName="welcome")
    v1 = boto3.client(
        "ses",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    # Then both see it; a second create and an unknown name fail with SES v2 codes
    assert template["TemplateName"] == "welcome"
    assert template["TemplateContent"] == TEMPLATE
    assert v1.get_template(TemplateName="welcome")["Template"]["SubjectPart"] == TEMPLATE["Subject"]
    with pytest.raises(ClientError) as duplicate:
        ses.create_email_template(TemplateName="welcome", TemplateContent=TEMPLATE)
    assert error_of(duplicate) == ("AlreadyExistsException", 400)
    with pytest.raises(ClientError) as unknown:
        ses.get_email_template(TemplateName="missing")
    assert error_of(unknown) == ("NotFoundException", 404)


def test_get_account_answers_the_configured_send_rate(ses: BaseClient) -> None:
    # Given the default quota, then a configured one
    default = ses.get_account()["SendQuota"]
    set_max_send_rate(200, max_24_hour_send=1_000_000)

    # When an email to two recipients is sent and the account is read
    send(ses, [entry("ann@example.org", "bob@example.org")])
    account = ses.get_account()

    # Then GetAccount answers the configured quota and counts recipients sent
    assert default["MaxSendRate"] == 1.0
    assert account["SendQuota"] == {
        "MaxSendRate": 200.0,
        "Max24HourSend": 1_000_000.0,
        "SentLast24Hours": 2.0,
    }
    assert account["SendingEnabled"] is True
    assert account["ProductionAccessEnabled"] is True


def test_event_destinations_are_stored(ses: BaseClient) -> None:
    # Given a configuration set
    ses.create_configuration_set(ConfigurationSetName="campaigns")
    destination = {"Enabled": True, "MatchingEventTypes": ["BOUNCE", "COMPLAINT"]}

    # When an event destination is created on it
    ses.create_configuration_set_event_destination(
        ConfigurationSetName="campaigns",
        EventDestinationName="events",
        EventDestination=destination,
    )

    # Then it is stored; a duplicate and an unknown set fail with SES v2 codes
    stored = ses.get_configuration_set_event_destinations(ConfigurationSetName="campaigns")
    assert stored["EventDestinations"] == [{"Name": "events", **destination}]
    with pytest.raises(ClientError) as duplicate:
        ses.create_configuration_set_event_destination(
            ConfigurationSetName="campaigns",
            EventDestinationName="events",
            EventDestination=destination,
        )
    assert error_of(duplicate) == ("AlreadyExistsException", 400)
    with pytest.raises(ClientError) as unknown:
        ses.create_configuration_set_event_destination(
            ConfigurationSetName="missing", EventDestinationName="e", EventDestination=destination
        )
    assert error_of(unknown) == ("NotFoundException", 404)


def run_campaign(ses: BaseClient, calls: int, entries_per_call: int) -> list[str]:
    """Send a campaign; one outcome per entry: its status, or the error code of its call."""
    outcomes: list[str] = []
    for call in range(calls):
        entries = [entry(f"user{call}-{n}@example.org") for n in range(entries_per_call)]
        try:
            outcomes += [result["Status"] for result in send(ses, entries)]
        except ClientError as err:
            outcomes += [err.response["Error"]["Code"]] * entries_per_call
    return outcomes


def test_faults_repeat_for_a_seed_and_change_with_it(ses: BaseClient) -> None:
    # Given faults on with a seed
    set_faults(entry_rate=0.2, call_rate=0.2, seed=1)
    first = run_campaign(ses, calls=30, entries_per_call=5)

    # When the same campaign runs again with the same seed, and with another seed
    set_faults(entry_rate=0.2, call_rate=0.2, seed=1)
    again = run_campaign(ses, calls=30, entries_per_call=5)
    set_faults(entry_rate=0.2, call_rate=0.2, seed=2)
    other = run_campaign(ses, calls=30, entries_per_call=5)

    # Then the same seed gives the same outcomes, another seed others
    assert first == again
    assert first != other


def test_faults_come_at_about_the_configured_rates(ses: BaseClient) -> None:
    # Given 20 % of calls throttled and 20 % of entries failed
    statuses = ("TRANSIENT_FAILURE", "ACCOUNT_THROTTLED", "MESSAGE_REJECTED")
    set_faults(entry_rate=0.2, call_rate=0.2, seed=7, entry_statuses=statuses)

    # When 150 calls of 6 entries are sent
    outcomes = Counter(run_campaign(ses, calls=150, entries_per_call=6))

    # Then about a fifth of calls fail whole with TooManyRequestsException (HTTP 429) ...
    throttled_calls = outcomes["TooManyRequestsException"] // 6
    assert 20 <= throttled_calls <= 40
    # ... about a fifth of the other entries get one of the statuses, each status showing up ...
    answered = outcomes.total() - outcomes["TooManyRequestsException"]
    failed = sum(outcomes[status] for status in statuses)
    assert 0.14 <= failed / answered <= 0.26
    assert all(outcomes[status] for status in statuses)
    # ... and only the successes are recorded as sent
    assert len(sent_emails(REGION)) == outcomes["SUCCESS"] == answered - failed
    injected = {status: outcomes[status] for status in statuses}
    assert fault_counts() == injected | {"TooManyRequestsException": throttled_calls}


def test_faults_off_sends_everything(ses: BaseClient) -> None:
    # Given faults turned on, then off
    set_faults(entry_rate=1, call_rate=0, seed=3)
    set_faults(0, 0)

    # When a campaign is sent, then every entry succeeds
    assert set(run_campaign(ses, calls=3, entries_per_call=5)) == {"SUCCESS"}


def test_the_extension_works_in_process_under_mock_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's in-process mock with the extension installed, no endpoint override
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SESV2", raising=False)
    install()
    with mock_aws():
        client = boto3.client("sesv2", region_name=REGION, config=CLIENT_CONFIG)
        client.create_email_identity(EmailIdentity="news@example.com")
        client.create_email_template(TemplateName="welcome", TemplateContent=TEMPLATE)

        # When a bulk call is made
        results = send(client, [entry("ann@example.org", data={"name": "Ann"})])

        # Then it is answered and recorded like in server mode
        assert results[0]["Status"] == "SUCCESS"
        assert sent_emails(REGION)[0]["data"] == {"name": "Ann"}
        assert client.get_account()["SendQuota"]["SentLast24Hours"] == 1.0


def test_a_daily_quota_refuses_past_what_is_left_and_frees_as_the_window_rolls(
    ses: BaseClient,
) -> None:
    # Given a quota of 3 per 10-second window, on a clock the test moves
    now = [100.0]
    set_daily_quota(3, 10, clock=lambda: now[0])
    # When a call of 5 entries is sent
    results = send(ses, [entry(f"u{n}@example.org") for n in range(5)])
    # Then 3 are sent and the 2 past the quota are refused, and GetAccount says it
    statuses = [r["Status"] for r in results]
    assert statuses == ["SUCCESS"] * 3 + ["ACCOUNT_DAILY_QUOTA_EXCEEDED"] * 2
    assert ses.get_account()["SendQuota"] == {
        "Max24HourSend": 3.0,
        "MaxSendRate": 1.0,
        "SentLast24Hours": 3.0,
    }
    # And with nothing left, the whole call is SES's daily-quota throttle
    with pytest.raises(ClientError) as excinfo:
        send(ses, [entry("late@example.org")])
    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"
    assert excinfo.value.response["Error"]["Message"] == "Daily message quota exceeded."
    # And once the window has rolled past the sends, the quota is free again
    now[0] += 10
    assert ses.get_account()["SendQuota"]["SentLast24Hours"] == 0.0
    assert [r["Status"] for r in send(ses, [entry("late@example.org")])] == ["SUCCESS"]


def test_identities_are_answered_as_a_deployed_stack_has_them_once_verified(
    ses: BaseClient,
) -> None:
    # Given the domain as moto creates it: not verified, DKIM not started
    before = ses.get_email_identity(EmailIdentity="example.com")
    assert (before["VerifiedForSendingStatus"], before["DkimAttributes"]["Status"]) == (
        False,
        "NOT_STARTED",
    )

    # When the emulator verifies its identities (the local run does, after provisioning)
    verify_identities(REGION)

    # Then the domain is verified for sending with DKIM signing on
    after = ses.get_email_identity(EmailIdentity="example.com")
    assert after["VerifiedForSendingStatus"] is True
    assert after["DkimAttributes"]["Status"] == "SUCCESS"
    assert after["DkimAttributes"]["SigningEnabled"] is True


def test_a_configuration_set_answers_whether_sending_is_enabled_as_a_boolean(
    ses: BaseClient,
) -> None:
    # Given a configuration set created without sending options, and one paused
    ses.create_configuration_set(ConfigurationSetName="open")
    ses.create_configuration_set(
        ConfigurationSetName="paused", SendingOptions={"SendingEnabled": False}
    )

    # When each is read, then SendingEnabled is true for the first and false for the other
    sending = {
        name: ses.get_configuration_set(ConfigurationSetName=name)["SendingOptions"]
        for name in ("open", "paused")
    }
    assert sending == {"open": {"SendingEnabled": True}, "paused": {"SendingEnabled": False}}
