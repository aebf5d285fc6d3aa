"""The plain-ASCII fast path of address validation gives email-validator's verdicts exactly
(message.plain_ascii_email): on the test corpus and on generated addresses, whenever it
answers, email-validator accepts the address and returns the same ASCII form."""

import string

from email_validator import EmailNotValidError
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_sender.message import _validated, plain_ascii_email

CORPUS = [
    "ann@example.org",
    "Ann@EXAMPLE.org",
    "a@example.org",
    "ann@",
    "@example.org",
    "ann@exa_mple.org",
    "ann@example.123",
    "ann@localhost",
    "ann@xn--0.tld",
    "anna@xn--strae-oqa.de",
    "anna@straße.de",
    "jöe@example.org",
    "zoe@xn--bcher-kva.example",
    "o'brien+tag@mail.example.co.uk",
    "first.last@sub-domain.example.com",
    "x@a--b.example.com",
    "x@-a.example.com",
    "x@a-.example.com",
    "x@example.test",
    "x@host.local",
    "x@10.in-addr.arpa",
    "x@example.onion",
    "x@example.invalid",
    ".x@example.org",
    "x.@example.org",
    "x..y@example.org",
    "x@example..org",
    "x@example.org.",
    "x@example.c",
    "x@" + "a" * 64 + ".com",
    "x" * 65 + "@example.org",
    "x" * 64 + "@example.org",
    "x@" + ".".join(["a" * 63] * 3) + ".com",
    "x@" + ".".join(["a" * 60] * 4) + ".com",
    '"quoted"@example.org',
    "user@[127.0.0.1]",
    "a{b}|c~d@example.org",
]


def same_verdict(address: str) -> None:
    fast = plain_ascii_email(address)
    if fast is None:
        return  # email-validator decides, as before
    try:
        valid = _validated(address)
    except EmailNotValidError as error:
        raise AssertionError(f"fast path accepted {address!r}: {error}") from None
    assert fast == valid.ascii_email


def test_the_special_use_domains_are_email_validators_own():
    import email_validator

    from bulk_sender.message import _SPECIAL_USE

    assert tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES) == _SPECIAL_USE


def test_the_corpus_gets_email_validators_verdicts():
    answered = [a for a in CORPUS if plain_ascii_email(a) is not None]
    for address in CORPUS:
        same_verdict(address)
    # and the fast path does answer the common addresses
    assert "ann@example.org" in answered
    assert "Ann@EXAMPLE.org" in answered
    assert plain_ascii_email("Ann@EXAMPLE.org") == "Ann@example.org"


ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
LDH = string.ascii_letters + string.digits + "-"
local_parts = st.lists(st.text(ATEXT, min_size=1, max_size=20), min_size=1, max_size=4).map(
    ".".join
) | st.text(ATEXT + '."()<>[]:;@\\, ', min_size=0, max_size=70)
labels = st.text(LDH + "_", min_size=0, max_size=66)
tlds = st.sampled_from(["com", "org", "test", "local", "arpa", "onion", "c", "123", "de", "x1"])
domains = st.tuples(st.lists(labels, min_size=0, max_size=5), tlds).map(
    lambda parts: ".".join([*parts[0], parts[1]])
) | st.text(LDH + "._", max_size=80)


@settings(max_examples=3000, deadline=None)
@given(local_parts, domains)
def test_generated_addresses_get_email_validators_verdicts(local, domain):
    same_verdict(f"{local}@{domain}")
