"""The emulator's SES events: shaped as SES publishes them to EventBridge, following the
mailbox simulator, onto the events queue the stack's rule feeds."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.client import BaseClient

from bulk_sender.campaign_status import change_for, ses_event
from bulkmail.local.emulator import Emulator, reset, set_event_queue, start_server
from tests.unit import ses_event_examples as documented

REGION = "eu-west-1"
QUEUE = "events"


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    with start_server() as emulator:
        yield emulator


def client(server: Emulator, service: str) -> BaseClient:
    return boto3.client(
        service,
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def clients(server: Emulator) -> Iterator[tuple[BaseClient, BaseClient, str]]:
    request = urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    reset()
    ses, sqs = client(server, "sesv2"), client(server, "sqs")
    ses.create_email_identity(EmailIdentity="example.com")
    ses.create_configuration_set(ConfigurationSetName="set")
    ses.create_email_template(
        TemplateName="welcome", TemplateContent={"Subject": "Hi", "Text": "Hello"}
    )
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    set_event_queue(QUEUE)
    yield ses, sqs, url
    reset()


def events_after(clients, *destinations: list[str]) -> list[dict]:
    ses, sqs, url = clients
    ses.send_bulk_email(
        FromEmailAddress="News <news@example.com>",
        DefaultContent={"Template": {"TemplateName": "welcome", "TemplateData": "{}"}},
        ConfigurationSetName="set",
        BulkEmailEntries=[
            {
                "Destination": {"ToAddresses": to},
                "ReplacementTags": [
                    {"Name": "campaign", "Value": "c"},
                    {"Name": "bulkmail-id", "Value": f"c_3a{n}"},
                ],
            }
            for n, to in enumerate(destinations)
        ],
    )
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    return found


def test_each_simulator_address_gets_ses_s_events(clients):
    # When the emulator sends to each of SES's mailbox simulator addresses
    found = events_after(
        clients,
        ["success@simulator.amazonses.com"],
        ["bounce+x@simulator.amazonses.com"],
        ["complaint@simulator.amazonses.com"],
        ["ooto@simulator.amazonses.com"],
        ["suppressionlist@simulator.amazonses.com"],
    )
    # Then each email gets the events SES documents for it, in the order of its life
    by_email = {}
    for event in found:
        key = event["detail"]["mail"]["tags"]["bulkmail-id"][0]
        by_email.setdefault(key, []).append(event["detail"]["eventType"])
    assert by_email == {
        "c_3a0": ["Send", "Delivery"],
        "c_3a1": ["Send", "Bounce"],
        "c_3a2": ["Send", "Delivery", "Complaint"],
        "c_3a3": ["Send", "Delivery"],
        "c_3a4": ["Send", "Bounce"],
    }
    bounces = [e["detail"]["bounce"] for e in found if e["detail"]["eventType"] == "Bounce"]
    assert [(b["bounceType"], b["bounceSubType"]) for b in bounces] == [
        ("Permanent", "General"),
        ("Permanent", "Suppressed"),
    ]


def test_the_events_have_the_shape_ses_documents(clients):
    # When the emulator sends one email that is delivered and complained about
    found = events_after(clients, ["complaint@simulator.amazonses.com"])
    documented_events = {
        "Send": documented.SEND,
        "Delivery": documented.DELIVERY,
        "Complaint": documented.COMPLAINT,
    }
    for event in found:
        detail = event["detail"]
        example = documented_events[detail["eventType"]]
        # Then each is an EventBridge event from aws.ses with the detail-type SES uses
        assert event["source"] == "aws.ses"
        assert event["detail-type"] == documented.DETAIL_TYPES[detail["eventType"]]
        # ... whose detail has the documented objects and, in them, the documented fields
        assert set(detail) == set(example)
        kind = next(name for name in example if name not in ("eventType", "mail"))
        assert set(detail[kind]) == set(example[kind])
        assert set(detail["mail"]) >= set(example["mail"]) - {"headers", "commonHeaders"}
        assert detail["mail"]["tags"]["ses:configuration-set"] == ["set"]
        # ... and the events function reads it
        change = change_for(ses_event(json.dumps(event)))
        assert (change.campaign, change.key) == ("c", "c_3a0")
