"""Keyed recipient hashes and signed unsubscribe tokens (bulk_sender/recipient_hash.py)."""

import json

import pytest

from bulk_sender.message import Defaults, InvalidMessage, parse_message
from bulk_sender.recipient_hash import Keys, recipient_hash, sign, verify
from bulkmail.campaign import message_id

KEYS = Keys.from_secret("a" * 64)
OTHER = Keys.from_secret("b" * 64)
H = recipient_hash(KEYS.hash_key, ["ann@example.org"])


def test_one_recipient_hashes_alike_whatever_its_form():
    # Given one address written four ways (case, display name, IDN domain either way)
    forms = [
        ["ann@bücher.example"],
        ["ANN@Bücher.Example"],
        ["Ann Adams <ann@xn--bcher-kva.example>"],
        ["=?utf-8?q?Ann?= <Ann@XN--BCHER-KVA.example>"],
    ]
    # Then they hash alike, to 32 hex digits holding no part of the address
    hashes = {recipient_hash(KEYS.hash_key, form) for form in forms}
    assert len(hashes) == 1
    (value,) = hashes
    assert len(value) == 32
    assert int(value, 16) >= 0
    # And another secret gives another hash
    assert recipient_hash(OTHER.hash_key, forms[0]) != value


def test_the_clis_message_id_is_the_campaign_and_the_recipients_hash():
    # Given the hash key of the deployed secret, as the CLI uses it for ids
    # Then a one-recipient id's hash is that recipient's suppression key
    assert message_id("spring", ["Ann <ANN@example.org>"], KEYS.hash_key) == f"spring:{H}"


def test_a_token_names_the_list_and_the_hash_and_verifies():
    token = sign(KEYS, "news", H)
    assert token.startswith(f"news.{H}.")
    assert verify(KEYS, token) == ("news", H)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.replace("news.", "all.", 1),  # another list, same MAC
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # one MAC digit changed
        lambda t: t[:-1],  # truncated
        lambda t: t.rsplit(".", 1)[0],  # no MAC
        lambda t: t.upper(),  # case changed
        lambda t: t + ".x",  # a part too many
        lambda t: "",  # empty
        lambda t: "news." + "0" * 32 + "." + "0" * 32,  # well formed, not signed
        lambda t: t + "0" * 500,  # oversized
        lambda t: None,  # missing
    ],
)
def test_a_forged_altered_truncated_or_malformed_token_does_not_verify(forge):
    assert verify(KEYS, forge(sign(KEYS, "news", H))) is None


def test_a_token_signed_with_another_secret_does_not_verify():
    assert verify(KEYS, sign(OTHER, "news", H)) is None


def test_a_too_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Keys.from_secret("short")


def _parse(**fields):
    body = json.dumps({"to": "a@example.org", "from": "b@example.com", "template": "t", **fields})
    return parse_message(body, message_id="m", defaults=Defaults())


def test_the_list_field_defaults_to_all_and_takes_a_name():
    assert _parse().list_name == "all"
    assert _parse(list="news_2026-spring").list_name == "news_2026-spring"


@pytest.mark.parametrize("value", ["", "a" * 65, "news letter", "news.x", 7, None])
def test_a_bad_list_is_an_invalid_message_naming_the_field(value):
    with pytest.raises(InvalidMessage) as error:
        _parse(list=value)
    assert str(error.value) == "list: must match ^[A-Za-z0-9_-]{1,64}$"
