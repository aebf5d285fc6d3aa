"""Redaction (DESIGN.md section 7): no address the schema accepts survives in a log line, an
error or a DLQ reason, whatever its form."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_sender.message import Defaults, InvalidMessage, parse_message
from bulk_sender.records import redact

CORPUS = json.loads((Path(__file__).parent / "data" / "address_corpus.json").read_text("utf-8"))
FORMS = [
    '"john smith"@example.org',
    "o'brien@example.org",
    "user+tag@example.org",
    '"quoted\\"quote"@example.org',
    "anna@straße.de",
    "Jane Doe <jane@example.org>",
    '"Doe, Jane" <jane.doe@example.org>',
    "Zoë Ärger <zoe@bücher.example>",
    "=?utf-8?q?Zo=C3=AB?= <zoe@xn--bcher-kva.example>",
]


def accepted(address):
    doc = {"to": address, "from": "news@example.com", "template": "t"}
    try:
        return parse_message(json.dumps(doc), message_id="m", defaults=Defaults()).to[0]
    except InvalidMessage:
        return None


@pytest.mark.parametrize(
    "address",
    FORMS + [case["address"] for case in CORPUS["valid"]],
)
def test_every_address_form_the_schema_accepts_is_redacted_in_free_text(address):
    # Given an address the schema accepts, as a producer wrote it and as it is sent
    sent = accepted(address)
    assert sent is not None
    for form in {address, sent}:
        # When it appears in an error text (SES's, an exception's)
        text = f"Illegal address: {form}, refused"
        redacted = redact(text)
        # Then neither its local part, nor its domain, nor its display name survives
        name, _, spec = form.rpartition("<")
        local, _, domain = spec.rstrip(">").rpartition("@")
        assert "@" not in redacted
        assert domain not in redacted
        assert len(local) < 3 or local not in redacted  # "a" is in "Illegal address"
        assert not name.strip() or name.strip() not in redacted
        assert redacted.startswith("Illegal address")


def test_text_without_an_address_is_left_alone():
    text = "Throttling: Maximum sending rate exceeded (at 14 per second) @ 12:00"
    assert redact(text) == text


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.emails(),
    st.sampled_from(["", "Jane Doe ", '"Doe, Jane" ', "Zoë "]),
    st.sampled_from(["{}", "Illegal address: {} refused", "to: {}; cc: {}"]),
)
def test_any_address_the_schema_accepts_leaves_no_trace_in_redacted_text(address, name, frame):
    # Given any address hypothesis generates (RFC 5322 syntax), with or without a name
    form = f"{name}<{address}>" if name else address
    sent = accepted(form)
    if sent is None:  # refused by the schema: it never reaches a log as a recipient
        return
    for shown in {form, sent}:
        # When it appears in a text, then all of it, name included, and only it is replaced
        assert redact(frame.format(shown, shown)) == frame.format("<address>", "<address>")
