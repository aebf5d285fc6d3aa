"""The endpoint's core on API Gateway events (no socket): the answers the HTTP tests cannot
provoke from outside (a failing secret or table, bodies the gateway itself would encode)."""

from __future__ import annotations

import base64
import random

import pytest

from bulk_sender.recipient_hash import Keys, recipient_hash, sign
from bulk_sender.suppression import SuppressionTable
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
