"""The endpoint's core on API Gateway events (no socket): the answers the HTTP tests cannot
provoke from outside (a failing secret or table, bodies the gateway itself would encode)."""

from __future__ import annotations

import base64
import json
import random

import pytest

from bulk_sender import unsubscribe_endpoint
from bulk_sender.recipient_hash import Keys, recipient_hash, sign
from bulk_sender.suppression import SuppressionTable
from bulk_sender.unsubscribe import KEY_CACHE_SECONDS
from bulk_sender.unsubscribe_endpoint import UnsubscribeEndpoint
from tests.unit.fakes import client_error

KEYS = Keys.from_secret("k" * 64)
TOKEN = sign(KEYS, "news", recipient_hash(KEYS.hash_key, ["ann@example.org"]))


class FakeTable:
    """DynamoDB's PutItem / ConditionalCheckFailed, as SuppressionTable.add calls them."""

    class exceptions:  # botocore names it so
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.items: dict[tuple[str, str], dict] = {}

    def put_item(self, **request):
        if self.fail:
            raise client_error("InternalServerError", 500)
        key = (request["Item"]["h"]["S"], request["Item"]["list"]["S"])
        if key in self.items:
            raise self.exceptions.ConditionalCheckFailedException()
        self.items[key] = request["Item"]
        return {}


def event(method="POST", body="List-Unsubscribe=One-Click", token=TOKEN, encode=True, **more):
    return {
        "requestContext": {"http": {"method": method}},
        "queryStringParameters": {"t": token} if token is not None else None,
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "body": base64.b64encode(body.encode()).decode() if encode else body,
        "isBase64Encoded": encode,
        **more,
    }


def endpoint(table=None, keys=lambda: KEYS):
    return UnsubscribeEndpoint(keys, SuppressionTable(table or FakeTable(), "t"))


def test_a_plain_text_body_is_read_as_well_as_a_base64_one():
    table = FakeTable()
    assert endpoint(table).handle(event(encode=False))["statusCode"] == 200
    assert list(table.items) == [(recipient_hash(KEYS.hash_key, ["ann@example.org"]), "news")]


def test_a_body_that_is_not_base64_is_400():
    answer = endpoint().handle({**event(), "body": "%%%not-base64"})
    assert answer["statusCode"] == 400


def test_a_secret_that_cannot_be_read_is_503_and_records_nothing():
    def no_keys():
        raise client_error("InternalServiceError", 500)

    table = FakeTable()
    answer = endpoint(table, no_keys).handle(event())
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "60"
    assert table.items == {}


def test_a_table_that_cannot_be_written_is_503_so_the_client_may_try_again():
    assert endpoint(FakeTable(fail=True)).handle(event())["statusCode"] == 503


@pytest.mark.parametrize("seed", range(20))
def test_whatever_the_request_the_endpoint_answers_and_never_raises(seed):
    # Given requests of random methods, tokens, content types and bodies
    rng = random.Random(seed)
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(600))).decode("latin-1")
    request = {
        "requestContext": {"http": {"method": rng.choice(["GET", "POST", "HEAD", "PUT", 7])}},
        "queryStringParameters": rng.choice([None, {}, {"t": junk}, {"t": TOKEN}, {"t": 3}]),
        "headers": rng.choice(
            [
                None,
                {"content-type": "multipart/form-data; boundary=" + junk[:20]},
                {"Content-Type": "application/x-www-form-urlencoded"},
            ]
        ),
        "body": rng.choice([None, junk, 12, "--" + junk]),
        "isBase64Encoded": rng.choice([True, False]),
    }
    # When it is handled, then it gets an HTTP answer (and a 200 only for a real token)
    answer = endpoint().handle(request)
    assert answer["statusCode"] in (200, 400, 405, 413, 415)
    if answer["statusCode"] == 200:
        assert request["queryStringParameters"] == {"t": TOKEN}


def test_a_malformed_token_is_refused_before_any_key_is_read_or_anything_written():
    # Given an endpoint whose keys count their reads
    reads, table = [], FakeTable()

    def keys():
        reads.append(1)
        return KEYS

    # When a flood of malformed tokens arrives (missing, junk, oversized)
    for token in (None, "x", "1.news." + "z" * 32, TOKEN + "0" * 200):
        assert endpoint(table, keys).handle(event(token=token))["statusCode"] == 400
    # Then no key was read and nothing written; a well-formed forgery costs one HMAC, no write
    assert reads == []
    forged = TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1")
    assert endpoint(table, keys).handle(event(token=forged))["statusCode"] == 400
    assert table.items == {}


def test_a_link_signed_before_a_rotation_records_the_recipient_under_both_hashes():
    # Given the secret rotated after ann's link (version 1) was delivered
    rotated = Keys.from_secret(json.dumps({"keys": ["k" * 64, "r" * 64]}))
    table = FakeTable()
    # When ann POSTs her old link
    assert endpoint(table, lambda: rotated).handle(event())["statusCode"] == 200
    # Then she is suppressed under her version-1 hash (functions still holding the old key
    # read it) and under her current hash (the rest do)
    h1 = recipient_hash(KEYS.hash_key, ["ann@example.org"])
    assert {key: item["v"]["N"] for key, item in table.items.items()} == {
        (h1, "news"): "1",
        (rotated.current_hash("ann@example.org"), "news"): "2",
    }


def test_a_rest_api_proxy_event_is_read_like_an_http_api_one():
    # Given the REST API's Lambda proxy event (payload 1.0: httpMethod at the top)
    table = FakeTable()
    rest = {**event(), "requestContext": {"stage": "prod"}, "httpMethod": "POST"}
    # Then the one-click POST unsubscribes, and a GET shows the confirm form
    assert endpoint(table).handle(rest)["statusCode"] == 200
    assert len(table.items) == 1
    page = endpoint(table).handle({**rest, "httpMethod": "GET"})
    assert page["statusCode"] == 200
    assert "<form" in page["body"]


class CountingSecrets:
    def __init__(self) -> None:
        self.value, self.calls, self.fail = "k" * 64, 0, False

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.calls += 1
        if self.fail:
            raise client_error("InternalServiceError", 500)
        return {"SecretString": self.value}


def test_the_endpoint_reads_a_rotated_secret_once_its_keys_are_five_minutes_old():
    # Given the endpoint built from its environment, with a fake clock
    secrets, now, table = CountingSecrets(), [0.0], FakeTable()
    env = {"UNSUBSCRIBE_SECRET_ARN": "arn", "SUPPRESSION_TABLE": "t"}
    built = unsubscribe_endpoint.from_env(secrets, table, env, clock=lambda: now[0])
    assert built.handle(event())["statusCode"] == 200
    # When the secret is rotated, a version-2 link works once the keys are refreshed
    secrets.value = json.dumps({"keys": ["k" * 64, "r" * 64]})
    rotated = Keys.from_secret(secrets.value)
    new_link = sign(rotated, "news", rotated.current_hash("bob@example.org"))
    assert built.handle(event(token=new_link))["statusCode"] == 400  # still the old keys
    now[0] = KEY_CACHE_SECONDS
    assert built.handle(event(token=new_link))["statusCode"] == 200
    assert secrets.calls == 2
    # And a refresh that fails keeps the keys it has: links still work
    secrets.fail, now[0] = True, 2 * KEY_CACHE_SECONDS
    assert built.handle(event())["statusCode"] == 200
    assert built.handle(event())["statusCode"] == 200
    assert secrets.calls == 3  # asked again a period later, not at every request
