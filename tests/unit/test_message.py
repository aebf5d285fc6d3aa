"""DESIGN.md section 3: every validation rule, with a bad example and the exact error."""

import json
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path

import pytest

from bulk_sender.message import Defaults, InvalidMessage, parse_message

GOOD = {"to": "ann@example.org", "from": "news@example.com", "template": "welcome"}
NO_DEFAULTS = Defaults()


def parse(body, defaults=NO_DEFAULTS):
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return parse_message(text, message_id="sqs-1", defaults=defaults)


def with_(**fields):
    return {**GOOD, **fields}


BAD = [
    ('{"to": ', "body: must be valid JSON"),
    (b"\xff\xfe", "body: must be UTF-8"),
    ("[1, 2]", "body: must be a JSON object"),
    (with_(subject="hi"), "subject: unknown field"),
    (with_(to=[]), "to: must hold at least one address"),
    (with_(to=5), "to: must be a string or a list of strings"),
    (with_(cc="cc@example.org"), "cc: must be a list of strings"),
    (with_(to=[f"u{i}@example.org" for i in range(51)]), "to+cc+bcc: at most 50 recipients"),
    (
        with_(to=["a@example.org"] * 20, cc=["c@example.org"] * 20, bcc=["b@example.org"] * 11),
        "to+cc+bcc: at most 50 recipients",
    ),
    (with_(to="not-an-address"), "to[0]: must be an email address (local@domain)"),
    (with_(to=["ok@example.org", 7]), "to[1]: must be a string"),
    (with_(to="jöe@example.org"), "to[0]: local part must be 7-bit ASCII (RFC 5322)"),
    (with_(to="a b@example.org"), "to[0]: local part must be 7-bit ASCII (RFC 5322)"),
    (with_(to="ann@" + "x" * 64 + ".org"), "to[0]: domain must be a valid DNS name (IDNA 2008)"),
    (with_(to="ann@localhost"), "to[0]: domain must be a valid DNS name (IDNA 2008)"),
    (with_(to="ann@exa_mple.org"), "to[0]: domain must be a valid DNS name (IDNA 2008)"),
    (with_(to="me@\u24887example.com"), "to[0]: domain must be a valid DNS name (IDNA 2008)"),
    (with_(to="ann@xn--0.tld"), "to[0]: domain must be a valid DNS name (IDNA 2008)"),
    (with_(to="ann@example.123"), "to[0]: domain must be a valid DNS name (IDNA 2008)"),
    (with_(to="a" * 65 + "@example.org"), "to[0]: local part must be at most 64 octets"),
    (
        with_(to="Ann\x07 <ann@example.org>"),
        "to[0]: display name must not contain control characters",
    ),
    (
        with_(to="An\u202ena <ann@example.org>"),
        "to[0]: display name must not contain control characters",
    ),
    (with_(bcc=["ann@example.org\r\nBcc: x@evil.example"]), "bcc[0]: must not contain CR or LF"),
    ({"to": "ann@example.org", "template": "welcome"}, "from: required (no DEFAULT_FROM is set)"),
    (with_(**{"from": "news-at-example.com"}), "from: must be an email address (local@domain)"),
    (
        with_(content={"subject": "Hi", "text": "Hello"}),
        "template: excludes content: give one of them",
    ),
    (
        {"to": "ann@example.org", "from": "news@example.com"},
        "template: required (no content and no DEFAULT_TEMPLATE is set)",
    ),
    (
        with_(template="my template"),
        "template: must be a template name ([A-Za-z0-9_-]{1,64}) or ARN",
    ),
    (
        with_(template="arn:aws:s3:::bucket"),
        "template: must be a template name ([A-Za-z0-9_-]{1,64}) or ARN",
    ),
    ({**GOOD, "template": 7}, "template: must be a template name ([A-Za-z0-9_-]{1,64}) or ARN"),
]
CONTENT_BAD = [
    ({"text": "Hello"}, "content.subject: required"),
    ({"subject": "Hi"}, "content: needs text or html"),
    ({"subject": "Hi", "text": ""}, "content.text: must be a non-empty string"),
    ({"subject": "Hi", "text": "x", "body": "x"}, "content.body: unknown field"),
    (
        {"subject": "Hi", "html": "{{#if vip}}Gold{{/if}}"},
        "content.html: only simple {{name}} substitutions (no block helpers)",
    ),
    (
        {"subject": "Hi {{> partial}}", "text": "x"},
        "content.subject: only simple {{name}} substitutions (no block helpers)",
    ),
    ("just text", "content: must be an object with subject, text, html"),
]
REST_BAD = [
    (with_(data=[1]), "data: must be a JSON object"),
    (with_(data={"blob": "x" * 262_140}), "data: must serialise to at most 262144 characters"),
    (with_(headers={f"X-H{i}": "v" for i in range(16)}), "headers: at most 15 headers"),
    (with_(headers={"Bad:Name": "v"}), "headers: name must match ^[!-9;-~]{1,126}$"),
    (
        with_(headers={"X-Campaign": "a\r\nBcc: x"}),
        "headers.X-Campaign: value must not contain CR or LF",
    ),
    (
        with_(headers={"X-Campaign": "nöel"}),
        "headers.X-Campaign: value must be 1 to 995 printable ASCII characters",
    ),
    (
        with_(headers={"X-Campaign": "v" * 996}),
        "headers.X-Campaign: value must be 1 to 995 printable ASCII characters",
    ),
    (
        with_(headers={"X-Campaign": ""}),
        "headers.X-Campaign: value must be 1 to 995 printable ASCII characters",
    ),
    (with_(headers={"X-Campaign": 5}), "headers.X-Campaign: value must be a string"),
    (with_(headers=["List-Unsubscribe"]), "headers: must be an object of name -> value"),
    (with_(tags={"bad name": "x"}), "tags: names must match ^[A-Za-z0-9_-]{1,256}$"),
    (
        with_(tags={"campaign": "spring sale"}),
        "tags.campaign: value must match ^[A-Za-z0-9_-]{1,256}$",
    ),
    (with_(tags={"campaign": "x" * 257}), "tags.campaign: value must match ^[A-Za-z0-9_-]{1,256}$"),
    (with_(id=""), "id: must be 1 to 256 printable characters"),
    (with_(id="x" * 257), "id: must be 1 to 256 printable characters"),
    (with_(id="a\nb"), "id: must be 1 to 256 printable characters"),
    (with_(reply_to="r@example.com"), "reply_to: must be a list of strings"),
    (with_(feedback_to="bounce"), "feedback_to: must be an email address (local@domain)"),
    (with_(configuration_set=""), "configuration_set: must be a non-empty string"),
    (with_(configuration_set=None), "configuration_set: must be a non-empty string"),
]


@pytest.mark.parametrize(("body", "error"), BAD + REST_BAD)
def test_a_message_breaking_a_rule_is_refused_naming_field_and_rule(body, error):
    # Given a message breaking one rule / When it is parsed / Then the error names it
    with pytest.raises(InvalidMessage) as raised:
        parse(body)
    assert str(raised.value) == error


@pytest.mark.parametrize(("content", "error"), CONTENT_BAD)
def test_inline_content_rules(content, error):
    body = {"to": "ann@example.org", "from": "news@example.com", "content": content}
    with pytest.raises(InvalidMessage) as raised:
        parse(body)
    assert str(raised.value) == error


@pytest.mark.parametrize(
    "domain", ["x.invalid", "x.localhost", "x.test", "in-addr.arpa", "printer.local", "x.onion"]
)
def test_reserved_and_special_use_domains_are_refused(domain):
    # Given an address at a special-use domain (RFC 6761): mail there is a certain bounce
    with pytest.raises(InvalidMessage) as raised:
        parse(with_(to=f"ann@{domain}"))
    assert str(raised.value) == (
        "to[0]: domain is reserved for special use and receives no mail (RFC 6761)"
    )


@pytest.mark.parametrize(
    ("address", "sent_to"),
    [
        # IDNA 2008 / UTS-46: the sharp s and the final sigma are letters, not strasse/sigma
        ("anna@straße.de", "anna@xn--strae-oqa.de"),
        ("eleni@ςκύλος.gr", "eleni@xn--vxacmjd7d.gr"),
        ("jeff@臺網中心.tw", "jeff@xn--fiqq24b10vi0d.tw"),
        ("Ann@EXAMPLE.org", "Ann@example.org"),
        ('"john smith"@example.org', '"john smith"@example.org'),
    ],
)
def test_domains_are_encoded_per_idna_2008_for_the_domain_the_user_typed(address, sent_to):
    assert parse(with_(to=address)).to == (sent_to,)


ADDRESS_RULES = {
    "must be an email address (local@domain)",
    "must not contain CR or LF",
    "local part must be 7-bit ASCII (RFC 5322)",
    "local part must be at most 64 octets",
    "domain must be a valid DNS name (IDNA 2008)",
    "domain is reserved for special use and receives no mail (RFC 6761)",
    "must be at most 254 characters",
}
CORPUS = json.loads((Path(__file__).parent / "data" / "address_corpus.json").read_text("utf-8"))


@pytest.mark.parametrize("case", CORPUS["valid"], ids=lambda case: repr(case["address"]))
def test_the_published_corpus_valid_addresses_are_accepted(case):
    # Given an address that email-validator's and pyIsEmail's suites hold valid
    (sent,) = parse(with_(to=case["address"])).to
    # Then it is accepted and sent as those suites normalise it (ASCII throughout)
    assert sent.isascii()
    if case.get("ascii"):
        assert sent == case["ascii"] or sent.endswith(f"<{case['ascii']}>")


@pytest.mark.parametrize("case", CORPUS["invalid"], ids=lambda case: repr(case["address"]))
def test_the_published_corpus_invalid_addresses_are_refused_without_echoing_them(case):
    with pytest.raises(InvalidMessage) as raised:
        parse(with_(to=case["address"]))
    assert str(raised.value).startswith("to")
    # And the error is one of this project's rules, not a text that could quote the address
    assert str(raised.value).split(": ", 1)[1] in ADDRESS_RULES


@pytest.mark.parametrize("address", ["secret.person@example.org", "jöe@example.org"])
def test_an_error_never_repeats_the_offending_address(address):
    with pytest.raises(InvalidMessage) as raised:
        parse(with_(to=[address, "x"]))
    assert address not in str(raised.value)
    assert "secret" not in str(raised.value)


def test_a_full_message_is_accepted_and_normalised():
    # Given a message using every field, with an IDNA domain and a non-ASCII display name
    body = with_(
        to=["Zoë Ärger <zoe@bücher.example>"],
        cc=["cc@example.org"],
        bcc=["bcc@example.org"],
        data={"name": "Zoë"},
        headers={
            "List-Unsubscribe": "<https://example.com/u/1>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        tags={"campaign": "spring"},
        reply_to=["help@example.com"],
        feedback_to="bounces@example.com",
        configuration_set="marketing",
        id="spring:abc",
    )
    # When it is parsed
    email = parse(body, Defaults(tags={"campaign": "none", "env": "prod"}))
    # Then the domain is IDNA-encoded and the name RFC 2047-encoded, ASCII throughout
    (to,) = email.to
    assert to.isascii()
    name, address = parseaddr(to)
    assert str(make_header(decode_header(name))) == "Zoë Ärger"
    assert address == "zoe@xn--bcher-kva.example"
    assert email.id == "spring:abc"
    assert email.recipient_count == 3
    # And the message's tags win over the defaults on the same name
    assert dict(email.tags) == {"campaign": "spring", "env": "prod"}
    # And the headers keep their order (RFC 8058: List-Unsubscribe first)
    assert [name for name, _ in email.headers] == ["List-Unsubscribe", "List-Unsubscribe-Post"]
    assert json.loads(email.data_json) == {"name": "Zoë"}


def test_defaults_fill_what_a_message_leaves_out():
    defaults = Defaults(from_address="news@example.com", template="welcome", configuration_set="cs")
    email = parse({"to": "ann@example.org"}, defaults)
    assert (email.from_address, email.template, email.configuration_set) == (
        "news@example.com",
        "welcome",
        "cs",
    )
    # And the SQS message id is the idempotency key when the message has no id
    assert email.id == "sqs-1"


def test_a_template_arn_and_quoted_display_names_are_accepted():
    arn = "arn:aws:ses:eu-west-1:123456789012:template/welcome"
    email = parse(with_(template=arn, to='"Doe, Jane" <jane@example.org>'))
    assert email.template == arn
    assert email.to == ('"Doe, Jane" <jane@example.org>',)


HEAD = '{"to": "ann@example.org", "from": "n@example.com", "template": "t", '


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            HEAD + '"data": {"x": NaN}}',
            "body: must be valid JSON",
        ),
        (
            HEAD + '"data": {"x": -Infinity}}',
            "body: must be valid JSON",
        ),
        (
            '{"to": "\\ud800 <ann@example.org>", "from": "n@example.com", "template": "t"}',
            "body: must be valid Unicode (no lone surrogate escapes)",
        ),
        (
            HEAD + '"data": {"x": "\\udfff"}}',
            "body: must be valid Unicode (no lone surrogate escapes)",
        ),
    ],
)
def test_json_that_ses_could_not_take_is_refused_not_raised(body, error):
    # Given JSON constants or lone surrogate escapes, which would fail later (in SES or in
    # botocore's encoding) and take the whole batch with them
    with pytest.raises(InvalidMessage) as raised:
        parse(body)
    assert str(raised.value) == error


def test_a_proper_surrogate_pair_escape_is_fine():
    email = parse(HEAD + '"data": {"x": "\\ud83d\\ude00"}}')
    assert json.loads(email.data_json) == {"x": "😀"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (with_(**{"anna.secret@example.org": 1}), "body[#4]: unknown field"),
        (with_(**{"bad\x00name": 1}), "body[#4]: unknown field"),
        (with_(**{"colour": 1}), "colour: unknown field"),
        (
            with_(headers={"X-Ok": "1", "ann@example.org": "a\x01"}),
            "headers[#2]: value must be 1 to 995 printable ASCII characters",
        ),
    ],
)
def test_an_error_names_an_odd_key_by_its_position_never_as_it_is(body, error):
    # Given a key that may be an address (or holds control characters)
    with pytest.raises(InvalidMessage) as raised:
        parse(body)
    # Then the error names it by position and never repeats it
    assert str(raised.value) == error
    assert "@" not in str(raised.value)


def test_an_unknown_content_key_is_named_by_position():
    body = {
        "to": "ann@example.org",
        "from": "news@example.com",
        "content": {"subject": "s", "text": "t", "ann@example.org": "u"},
    }
    with pytest.raises(InvalidMessage) as raised:
        parse(body)
    assert str(raised.value) == "content[#3]: unknown field"
