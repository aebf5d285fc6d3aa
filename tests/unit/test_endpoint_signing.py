"""ENDPOINT_ID: the sender's own SES client reaches the multi-region endpoint, signed with
SigV4a (the AWS CRT, bundled in the asset). The request is caught at botocore's `before-send`
hook, after signing and before any socket: what it would put on the wire is checked."""

import json

import pytest
from botocore.awsrequest import AWSResponse

from bulk_sender.core import BulkSender, ses_client
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSqs, message, record


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: object):
        yield self._body


def _capture(client):
    """Catch each signed request; answer SendBulkEmail with one SUCCESS."""
    sent = []

    def before_send(request, **_):
        sent.append(request)
        body = json.dumps(
            {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "0100-abc"}]}
        )
        return AWSResponse(request.url, 200, {}, _Raw(body.encode()))

    client.meta.events.register("before-send.sesv2.SendBulkEmail", before_send)
    return sent


@pytest.fixture(autouse=True)
def _no_emulator(monkeypatch):
    # The real endpoint resolution, not an emulator's URL from the environment.
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2"):
        monkeypatch.delenv(name, raising=False)


def _send(endpoint_id):
    ses = ses_client()
    sent = _capture(ses)
    settings = Settings(dlq_url="https://sqs.example/dlq", endpoint_id=endpoint_id)
    sender = BulkSender(settings, ses=ses, sqs=FakeSqs(), limiter=Unpaced())
    sender.preflight = lambda email: None
    result = sender.process([record(message(0), "m0")])
    assert result.failures == []
    (request,) = sent
    return request


def test_with_endpoint_id_the_call_goes_to_the_global_endpoint_signed_with_sigv4a():
    # Given ENDPOINT_ID / When a message is sent
    request = _send("abcd1234.ef5")
    # Then it goes to the endpoint's host, signed with SigV4a for every Region
    assert request.url.startswith("https://abcd1234.ef5.endpoints.email.amazonaws.com/")
    assert request.headers["Authorization"].startswith(b"AWS4-ECDSA-P256-SHA256 ")
    assert request.headers["X-Amz-Region-Set"] == b"*"
    assert json.loads(request.body)["EndpointId"] == "abcd1234.ef5"


def test_without_endpoint_id_the_call_stays_regional_with_sigv4():
    request = _send(None)
    assert request.url.startswith("https://email.eu-west-1.amazonaws.com/")
    assert request.headers["Authorization"].startswith(b"AWS4-HMAC-SHA256 ")
    assert "X-Amz-Region-Set" not in request.headers
