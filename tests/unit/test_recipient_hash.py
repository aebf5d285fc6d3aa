"""Keyed recipient hashes and signed unsubscribe tokens (bulk_sender/recipient_hash.py)."""

import hashlib
import hmac
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


def test_a_token_names_the_key_version_the_list_and_the_hash_and_verifies():
    token = sign(KEYS, "news", H)
    assert token.startswith(f"1.news.{H}.")
    assert verify(KEYS, token) == ("news", H, 1)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.replace("news.", "all.", 1),  # another list, same MAC
        lambda t: "2" + t[1:],  # another key version, same MAC
        lambda t: t[2:],  # the version dropped (the MAC covers it)
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # one MAC digit changed
        lambda t: t[:-1],  # truncated
        lambda t: t.rsplit(".", 1)[0],  # no MAC
        lambda t: t.upper(),  # case changed
        lambda t: t + ".x",  # a part too many
        lambda t: "",  # empty
        lambda t: "1.news." + "0" * 32 + "." + "0" * 32,  # well formed, not signed
        lambda t: t + "0" * 500,  # oversized
        lambda t: None,  # missing
    ],
)
def test_a_forged_altered_truncated_or_malformed_token_does_not_verify(forge):
    assert verify(KEYS, forge(sign(KEYS, "news", H))) is None


def test_a_token_signed_with_another_secret_does_not_verify():
    assert verify(KEYS, sign(OTHER, "news", H)) is None


def rotated(*raws: str) -> Keys:
    """The keys a rotation writes: every version's key, oldest first."""
    return Keys.from_secret(json.dumps({"keys": list(raws), "rotated_at": 1}))


def test_after_a_rotation_links_of_the_previous_key_verify_and_older_ones_do_not():
    # Given links signed with version 1, and the secret rotated once, then twice
    v1_link = sign(KEYS, "news", H)
    once, twice = rotated("a" * 64, "c" * 64), rotated("a" * 64, "c" * 64, "d" * 64)
    # Then version 2 signs new links; version 1's links still verify after one rotation
    assert once.version == 2
    assert sign(once, "news", "0" * 32).startswith("2.news.")
    assert verify(once, v1_link) == ("news", H, 1)
    # And after a second rotation only versions 3 and 2 verify
    assert verify(twice, v1_link) is None
    assert verify(twice, sign(once, "news", H)) == ("news", H, 2)


def test_a_token_from_before_versions_existed_is_version_1():
    # Given a token as the sender signed it before tokens carried a version: list.h.mac
    legacy = hmac.new(KEYS.versions[0].token_key, f"news.{H}".encode(), hashlib.sha256)
    token = f"news.{H}.{legacy.hexdigest()[:32]}"
    # Then it verifies as version 1 while version 1 is current or previous
    assert verify(KEYS, token) == ("news", H, 1)
    assert verify(rotated("a" * 64, "c" * 64), token) == ("news", H, 1)
    assert verify(rotated("a" * 64, "c" * 64, "d" * 64), token) is None


def test_a_rotation_rekeys_hashes_from_hashes_and_keeps_the_id_key():
    # Given the secret rotated once
    once = rotated("a" * 64, "c" * 64)
    # Then a recipient's hashes are the current one (from the previous hash: no address
    # needed) and the previous one, which is the hash before the rotation
    assert once.hashes("Ann <ANN@example.org>") == {2: once.rekey(H, 2), 1: H}
    assert once.current_hash("ann@example.org") != H
    # And message ids keep version 1's key: a campaign re-run after a rotation is deduplicated
    assert once.hash_key == KEYS.hash_key
    assert message_id("spring", ["ann@example.org"], once.hash_key) == f"spring:{H}"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ('{"keys": []}', "list of keys"),
        ('{"keys": ["short"]}', "at least 16 bytes"),
        ("{not json", "Expecting property name"),
    ],
)
def test_a_secret_that_is_not_a_rotation_s_json_is_refused(value, error):
    with pytest.raises(ValueError, match=error):
        Keys.from_secret(value)


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
