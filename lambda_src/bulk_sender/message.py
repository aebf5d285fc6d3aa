"""The message schema (DESIGN.md section 3): one SQS body -> one validated `Email`.

This module is the one place the schema lives: the Lambda and the CLI both validate with it.
Error texts name the field and the rule broken, never the offending value (it may be an
address).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from typing import Any

from bulk_sender.recipient_hash import ALL_LISTS, check_list
from bulk_sender.template_names import fits, ses_template_name

MAX_RECIPIENTS = 50
MAX_DATA_CHARS = 262_144
MAX_HEADERS = 15

# SendBulkEmail's per-call options (DESIGN.md section 11), parsed by `_options` below.
OPTION_FIELDS = ("tenant", "tracking", "from_arn", "feedback_to_arn", "attachments")
FIELDS = frozenset(
    {
        "to",
        "cc",
        "bcc",
        "from",
        "template",
        "content",
        "data",
        "headers",
        "tags",
        "reply_to",
        "feedback_to",
        "configuration_set",
        "id",
        "list",
    }
) | frozenset(OPTION_FIELDS)
CONTENT_FIELDS = frozenset({"subject", "text", "html"})

_HEADER_NAME = re.compile(r"[!-9;-~]{1,126}")
_HEADER_VALUE = re.compile(r"[ -~]{1,995}")
_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TEMPLATE_ARN = re.compile(r"arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:template/([A-Za-z0-9_-]{1,64})")
MAX_LOCAL_PART = 64  # octets: SES's and RFC 5321's limit
# Unicode categories a display name may not hold: controls, format characters (bidi
# overrides, zero-width), surrogates, line and paragraph separators.
_UNSAFE_IN_NAME = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# A domain email-validator accepts, to tell a bad local part from a bad domain.
_PROBE_DOMAIN = "example.com"
_MUSTACHE = re.compile(r"\{\{+(.*?)\}\}+", re.DOTALL)
_SIMPLE_VARIABLE = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\s*")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: SES would refuse the data


def _encodable(doc: Any) -> bool:
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class InvalidMessage(ValueError):
    """The message breaks a rule of DESIGN.md section 3. The text names field and rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class Defaults:
    """What a message may leave out (DESIGN.md section 6's DEFAULT_* variables), and what the
    deployment allows it to name.

    - ``configuration_sets``: the sets a message may name (ALLOWED_CONFIGURATION_SETS: the
      function's role may use these only); None: any.
    - ``template_prefix``: TEMPLATE_PREFIX. With it, ``Email.template`` is the name SES stores
      (``bulk_sender.template_names``); the CLI leaves it empty to check rows against files.
    """

    from_address: str | None = None
    template: str | None = None
    configuration_set: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # The tenants a message may name (ALLOWED_TENANTS); None: not checked (the CLI's case).
    tenants: frozenset[str] | None = None
    configuration_sets: frozenset[str] | None = None
    template_prefix: str = ""


@dataclass(frozen=True)
class InlineContent:
    subject: str
    text: str | None
    html: str | None


@dataclass(frozen=True)
class Email:
    """One validated message, with addresses normalised (IDNA domain, RFC 2047 name)."""

    id: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    from_address: str
    template: str | None
    content: InlineContent | None
    data_json: str
    data: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...]
    tags: tuple[tuple[str, str], ...]
    reply_to: tuple[str, ...]
    feedback_to: str | None
    configuration_set: str | None
    list_name: str = ALL_LISTS  # the `list` field: what an unsubscribe from it covers
    options: SendOptions = field(default_factory=lambda: NO_OPTIONS)

    @property
    def recipient_count(self) -> int:
        return len(self.to) + len(self.cc) + len(self.bcc)

    @property
    def group_key(self) -> tuple[object, ...]:
        """What must be equal for two emails to share one SendBulkEmail call (section 4)."""
        return (
            self.from_address,
            self.template,
            self.content,
            self.configuration_set,
            self.reply_to,
            self.feedback_to,
            self.options,
        )


def parse_message(body: str | bytes, *, message_id: str, defaults: Defaults) -> Email:
    """Validate one SQS body. `message_id` is the SQS message id, the default `id`."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidMessage("body", "must be UTF-8") from None
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except ValueError:
        raise InvalidMessage("body", "must be valid JSON") from None
    except RecursionError:
        raise InvalidMessage("body", "nests too deeply to be read") from None
    if _SURROGATE_ESCAPE.search(body) and not _encodable(doc):
        raise InvalidMessage("body", "must be valid Unicode (no lone surrogate escapes)")
    if not isinstance(doc, dict):
        raise InvalidMessage("body", "must be a JSON object")
    _no_unknown_field(doc, FIELDS, "")

    to = _addresses(doc, "to", allow_single=True)
    if not to:
        raise InvalidMessage("to", "must hold at least one address")
    cc = _addresses(doc, "cc")
    bcc = _addresses(doc, "bcc")
    recipients = len(to) + len(cc) + len(bcc)
    if recipients > MAX_RECIPIENTS:
        raise InvalidMessage("to+cc+bcc", f"at most {MAX_RECIPIENTS} recipients")

    from_raw = doc.get("from", defaults.from_address)
    if from_raw is None:
        raise InvalidMessage("from", "required (no DEFAULT_FROM is set)")
    from_address = _address(from_raw, "from")

    template, content = _template_or_content(doc, defaults)
    data, data_json = _data(doc)
    tags = {**defaults.tags, **validate_tags(doc.get("tags", {}))}
    feedback_to = doc.get("feedback_to")
    feedback_to = None if feedback_to is None else _address(feedback_to, "feedback_to")

    return Email(
        id=_id(doc.get("id", message_id)),
        to=to,
        cc=cc,
        bcc=bcc,
        from_address=from_address,
        template=template,
        content=content,
        data_json=data_json,
        data=data,
        headers=_headers(doc.get("headers", {})),
        tags=tuple(sorted(tags.items())),
        reply_to=_addresses(doc, "reply_to"),
        feedback_to=feedback_to,
        configuration_set=_configuration_set(
            doc.get("configuration_set", defaults.configuration_set),
            defaults.configuration_sets,
            given="configuration_set" in doc,
        ),
        list_name=_list(doc.get("list", ALL_LISTS)),
        options=_options(doc, from_address, feedback_to, defaults),
    )


# A key an error may name as it is: a field-like word. Any other key (it may be an address
# or hold control characters) is named by its position instead.
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def _path(parent: str, key: str, position: int) -> str:
    """How an error names `key` of `parent`: `parent.key`, or `parent[#n]` (1-based)."""
    if _PLAIN_NAME.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent or 'body'}[#{position + 1}]"


def _no_unknown_field(doc: Mapping[str, Any], known: frozenset[str], parent: str) -> None:
    for position, key in enumerate(doc):
        if key not in known:
            raise InvalidMessage(_path(parent, key, position), "unknown field")


def _addresses(doc: Mapping[str, Any], name: str, *, allow_single: bool = False) -> tuple[str, ...]:
    value = doc.get(name, [])
    if allow_single and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        kind = "a string or a list of strings" if allow_single else "a list of strings"
        raise InvalidMessage(name, f"must be {kind}")
    return tuple(_address(item, f"{name}[{i}]") for i, item in enumerate(value))


def _address(value: Any, name: str) -> str:
    """An RFC 5322 address with an optional display name, normalised for SES: the addr-spec
    checked by email-validator (IDNA 2008 / UTS-46 domains, reserved and special-use
    domains refused, no DNS lookup), with this project's own limits on top: a 7-bit local
    part of at most 64 octets and an RFC 2047-encoded display name."""
    if not isinstance(value, str):
        raise InvalidMessage(name, "must be a string")
    normalised, rule = _normalised(value)
    if rule:
        raise InvalidMessage(name, rule)
    return normalised


def canonical_address(value: str) -> str:
    """The address as the sender sends it (email-validator's ASCII form, IDNA 2008 domain),
    or `value` unchanged when it is not a valid address: what the CLI hashes, so that its
    suppressions and ids name the same recipient as the sender's."""
    normalised, rule = _normalised(value)
    return value if rule else normalised


@functools.lru_cache(maxsize=4096)
def _normalised(value: str) -> tuple[str, str]:
    """(the address as sent, "") or ("", the rule it breaks). Memoised: a batch repeats its
    senders, and email-validator costs tens of microseconds an address."""
    if "\r" in value or "\n" in value:
        return "", "must not contain CR or LF"
    display, addr = "", value
    if addr.endswith(">") and "<" in addr:
        display, _, addr = addr[:-1].rpartition("<")
        display = display.strip()
        if len(display) >= 2 and display[0] == display[-1] == '"':
            display = display[1:-1]
        if any(unicodedata.category(c) in _UNSAFE_IN_NAME for c in display):
            return "", "display name must not contain control characters"
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        return "", "must be an email address (local@domain)"
    if not local.isascii():
        return "", "local part must be 7-bit ASCII (RFC 5322)"
    if len(local) > MAX_LOCAL_PART:
        return "", f"local part must be at most {MAX_LOCAL_PART} octets"
    ascii_email = plain_ascii_email(addr)
    if ascii_email is None:
        from email_validator import EmailNotValidError  # see _validated

        try:
            ascii_email = _validated(addr).ascii_email
        except EmailNotValidError as error:
            return "", _address_rule(local, str(error))
    return formataddr((display, ascii_email), charset="utf-8"), ""


# The common case, checked without email-validator (about 25 us an address): a dot-atom
# local part of RFC 5322 atext and a domain of ASCII LDH labels (none starting or ending
# with a hyphen, none IDNA "xn--", no "--" at positions 3-4) under an alphabetic TLD,
# within the length limits. Such an address is valid for email-validator, which returns it
# with its domain lower-cased; anything else (and every invalid address) goes to it.
# tests/unit/test_plain_address.py proves the verdicts identical.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
# email-validator's SPECIAL_USE_DOMAIN_NAMES (test_plain_address.py checks they are equal):
# a copy, so that a cold start does not import email-validator (about 50 ms, issue 23)
# until an address needs it.
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")


def plain_ascii_email(addr: str) -> str | None:
    """`addr` as email-validator would return it (domain lower-cased) when it is a plain
    ASCII address (see above); None when email-validator must decide."""
    if len(addr) > 254 or not _PLAIN_ADDRESS.fullmatch(addr):
        return None
    local, _, domain = addr.rpartition("@")
    domain = domain.lower()
    if len(local) > MAX_LOCAL_PART or len(domain) > 253 or "--" in domain:
        return None
    if any(domain == name or domain.endswith("." + name) for name in _SPECIAL_USE):
        return None
    return f"{local}@{domain}"


def _validated(addr: str) -> Any:
    """email-validator's verdict, imported on first use: most addresses never need it."""
    from email_validator import validate_email

    return validate_email(
        addr,
        allow_smtputf8=False,
        allow_quoted_local=True,
        allow_domain_literal=False,
        allow_display_name=False,
        check_deliverability=False,
        globally_deliverable=True,
    )


def _address_rule(local: str, error: str) -> str:
    """The rule an address broke, in this project's words: email-validator's own texts may
    quote the offending characters (part of an address)."""
    from email_validator import EmailNotValidError  # imported with _validated

    try:
        _validated(f"{local}@{_PROBE_DOMAIN}")
    except EmailNotValidError:
        return "local part must be 7-bit ASCII (RFC 5322)"
    if "special-use or reserved" in error:
        return "domain is reserved for special use and receives no mail (RFC 6761)"
    if "too long" in error and "after the @-sign" not in error:
        return "must be at most 254 characters"
    return "domain must be a valid DNS name (IDNA 2008)"


def _template_or_content(
    doc: Mapping[str, Any], defaults: Defaults
) -> tuple[str | None, InlineContent | None]:
    if "template" in doc and "content" in doc:
        raise InvalidMessage("template", "excludes content: give one of them")
    if "content" in doc:
        return None, _content(doc["content"])
    template = doc.get("template", defaults.template)
    if template is None:
        raise InvalidMessage("template", "required (no content and no DEFAULT_TEMPLATE is set)")
    if not isinstance(template, str) or not (
        _TEMPLATE_NAME.fullmatch(template) or _TEMPLATE_ARN.fullmatch(template)
    ):
        raise InvalidMessage("template", "must be a template name ([A-Za-z0-9_-]{1,64}) or ARN")
    if not fits(template, defaults.template_prefix):
        raise InvalidMessage("template", "with TEMPLATE_PREFIX, longer than SES's 64 characters")
    return ses_template_name(template, defaults.template_prefix), None


def _content(value: Any) -> InlineContent:
    if not isinstance(value, dict):
        raise InvalidMessage("content", "must be an object with subject, text, html")
    _no_unknown_field(value, CONTENT_FIELDS, "content")
    for part in CONTENT_FIELDS & set(value):
        if not isinstance(value[part], str) or not value[part]:
            raise InvalidMessage(f"content.{part}", "must be a non-empty string")
    if "subject" not in value:
        raise InvalidMessage("content.subject", "required")
    if "text" not in value and "html" not in value:
        raise InvalidMessage("content", "needs text or html")
    for part in sorted(CONTENT_FIELDS & set(value)):
        for expression in _MUSTACHE.findall(value[part]):
            if not _SIMPLE_VARIABLE.fullmatch(expression):
                raise InvalidMessage(
                    f"content.{part}", "only simple {{name}} substitutions (no block helpers)"
                )
    return InlineContent(value["subject"], value.get("text"), value.get("html"))


def _data(doc: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    data = doc.get("data", {})
    if not isinstance(data, dict):
        raise InvalidMessage("data", "must be a JSON object")
    data_json = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(data_json) > MAX_DATA_CHARS:
        raise InvalidMessage("data", f"must serialise to at most {MAX_DATA_CHARS} characters")
    return data, data_json


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise InvalidMessage("headers", "must be an object of name -> value")
    if len(value) > MAX_HEADERS:
        raise InvalidMessage("headers", f"at most {MAX_HEADERS} headers")
    for position, (name, text) in enumerate(value.items()):
        if not _HEADER_NAME.fullmatch(name):
            raise InvalidMessage("headers", "name must match ^[!-9;-~]{1,126}$")
        where = _path("headers", name, position)
        if not isinstance(text, str):
            raise InvalidMessage(where, "value must be a string")
        if "\r" in text or "\n" in text:
            raise InvalidMessage(where, "value must not contain CR or LF")
        if not _HEADER_VALUE.fullmatch(text):
            raise InvalidMessage(where, "value must be 1 to 995 printable ASCII characters")
    return tuple(value.items())


def validate_tags(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidMessage("tags", "must be an object of name -> value")
    for name, text in value.items():
        if not _TAG.fullmatch(name):
            raise InvalidMessage("tags", "names must match ^[A-Za-z0-9_-]{1,256}$")
        if not isinstance(text, str) or not _TAG.fullmatch(text):
            raise InvalidMessage(f"tags.{name}", "value must match ^[A-Za-z0-9_-]{1,256}$")
    return value


def _id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 256 or not value.isprintable():
        raise InvalidMessage("id", "must be 1 to 256 printable characters")
    return value


def _list(value: Any) -> str:
    try:
        return check_list(value)
    except ValueError as error:
        raise InvalidMessage("list", str(error).removeprefix("list ")) from None


def _configuration_set(
    value: Any, allowed: frozenset[str] | None, *, given: bool = False
) -> str | None:
    # A null set would send with none at all: no events, no tracking rules, no reputation.
    if (value is not None or given) and (not isinstance(value, str) or not value):
        raise InvalidMessage("configuration_set", "must be a non-empty string")
    if value is not None and allowed is not None and value not in allowed:
        raise InvalidMessage(
            "configuration_set", "not one this sender may use (ALLOWED_CONFIGURATION_SETS)"
        )
    return value


# -- SendBulkEmail's per-call options: tenant, tracking, sending authorization, attachments --

MAX_ATTACHMENTS = 10  # SES sets no count (only the 40 MB message size); each is one S3 read
_TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_IDENTITY_ARN = re.compile(r"arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:identity/([^\s/]{1,320})")
_ATTACHMENT_FIELDS = frozenset({"key", "filename", "content_type", "disposition", "content_id"})
_CONTENT_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
)
_CONTENT_ID = re.compile(r"[!-;=?-~]{1,78}")  # printable ASCII, no space, no angle brackets
_DISPOSITIONS = {"attachment": "ATTACHMENT", "inline": "INLINE"}
# The file extensions SES refuses (Amazon SES unsupported attachment types).
UNSUPPORTED_EXTENSIONS = frozenset(
    (  # noqa: SIM905 (a word list reads better than 90 quoted items)
        "ade adp app asp bas bat cer chm cmd com cpl crt csh der exe fxp gadget hlp hta inf ins "
        "isp its js jse ksh lib lnk mad maf mag mam maq mar mas mat mau mav maw mda mdb mde mdt "
        "mdw mdz msc msh msh1 msh2 mshxml msh1xml msh2xml msi msp mst ops pcd pif plg prf prg reg "
        "scf scr sct shb shs sys ps1 ps1xml ps2 ps2xml psc1 psc2 tmp url vb vbe vbs vps vsmacros "
        "vss vst vsw vxd ws wsc wsf wsh xnk"
    ).split()
)


@dataclass(frozen=True)
class Attachment:
    """A file attached to every recipient of a call: `key` names an object in the bucket."""

    key: str
    filename: str
    content_type: str | None = None
    disposition: str | None = None  # ATTACHMENT or INLINE
    content_id: str | None = None


@dataclass(frozen=True)
class SendOptions:
    """What SendBulkEmail takes once per call besides sender and content: a grouping key."""

    tenant: str | None = None
    tracking: tuple[bool | None, bool | None] | None = None  # (opens, clicks)
    from_arn: str | None = None
    feedback_to_arn: str | None = None
    attachments: tuple[Attachment, ...] = ()


NO_OPTIONS: SendOptions = SendOptions()


def _options(
    doc: Mapping[str, Any], from_address: str, feedback_to: str | None, defaults: Defaults
) -> SendOptions:
    if not any(name in doc for name in OPTION_FIELDS):
        return NO_OPTIONS
    tenant = doc.get("tenant")
    if tenant is not None:
        if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
            raise InvalidMessage("tenant", "must match ^[A-Za-z0-9_-]{1,64}$")
        if defaults.tenants is not None and tenant not in defaults.tenants:
            raise InvalidMessage("tenant", "not a tenant this sender may use (ALLOWED_TENANTS)")
    if "feedback_to_arn" in doc and feedback_to is None:
        raise InvalidMessage("feedback_to_arn", "needs feedback_to (the address it authorizes)")
    return SendOptions(
        tenant=tenant,
        tracking=_tracking(doc.get("tracking")),
        from_arn=_identity_arn(doc.get("from_arn"), "from_arn", from_address),
        feedback_to_arn=_identity_arn(doc.get("feedback_to_arn"), "feedback_to_arn", feedback_to),
        attachments=_attachments(doc.get("attachments", [])),
    )


def _tracking(value: Any) -> tuple[bool | None, bool | None] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value or set(value) - {"opens", "clicks"}:
        raise InvalidMessage("tracking", 'must be an object with "opens" and/or "clicks"')
    if not all(isinstance(flag, bool) for flag in value.values()):
        raise InvalidMessage("tracking", "opens and clicks must be true or false")
    return value.get("opens"), value.get("clicks")


def _identity_arn(value: Any, name: str, address: str | None) -> str | None:
    """An SES identity ARN (sending authorization) that covers `address`: the address itself,
    its domain or a parent domain of it."""
    if value is None:
        return None
    match = _IDENTITY_ARN.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise InvalidMessage(
            name, "must be an SES identity ARN (arn:aws:ses:REGION:ACCOUNT:identity/NAME)"
        )
    identity = match.group(1).lower()
    addr = parseaddr(address or "")[1].lower()
    domain = addr.rpartition("@")[2]
    if identity != addr and identity != domain and not domain.endswith("." + identity):
        field_name = name.removesuffix("_arn")
        raise InvalidMessage(
            name, f"must name the identity of {field_name} (its address or domain)"
        )
    return value


def _attachments(value: Any) -> tuple[Attachment, ...]:
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise InvalidMessage("attachments", f"must be a list of at most {MAX_ATTACHMENTS} objects")
    return tuple(_attachment(item, f"attachments[{i}]") for i, item in enumerate(value))


def _attachment(value: Any, where: str) -> Attachment:
    if not isinstance(value, dict):
        raise InvalidMessage(where, "must be an object with key, filename, content_type, ...")
    unknown = sorted(set(value) - _ATTACHMENT_FIELDS)
    if unknown:
        raise InvalidMessage(f"{where}.{unknown[0]}", "unknown field")
    key = value.get("key")
    if (
        not isinstance(key, str)
        or not key
        or len(key.encode("utf-8")) > 1024
        or not key.isprintable()
    ):
        raise InvalidMessage(f"{where}.key", "must be an S3 key: 1 to 1024 bytes, printable")
    filename = value.get("filename", key.rsplit("/", 1)[-1])
    if (
        not isinstance(filename, str)
        or not 1 <= len(filename) <= 255
        or not filename.isprintable()
        or any(char in filename for char in '/\\"')
    ):
        raise InvalidMessage(
            f"{where}.filename", 'must be 1 to 255 printable characters, no / \\ "'
        )
    stem, dot, extension = filename.rpartition(".")
    if not dot or not stem or not extension:
        raise InvalidMessage(f"{where}.filename", "must have an extension (SES needs one)")
    if extension.lower() in UNSUPPORTED_EXTENSIONS:
        raise InvalidMessage(f"{where}.filename", "extension is one SES refuses to send")
    content_type = value.get("content_type")
    if content_type is not None and (
        not isinstance(content_type, str)
        or len(content_type) > 78
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise InvalidMessage(
            f"{where}.content_type", "must be a MIME type/subtype, at most 78 characters"
        )
    disposition = value.get("disposition")
    if disposition is not None and (
        not isinstance(disposition, str) or disposition not in _DISPOSITIONS
    ):
        raise InvalidMessage(f"{where}.disposition", 'must be "attachment" or "inline"')
    content_id = value.get("content_id")
    if content_id is not None and (
        not isinstance(content_id, str) or not _CONTENT_ID.fullmatch(content_id)
    ):
        raise InvalidMessage(
            f"{where}.content_id", "must be 1 to 78 printable ASCII characters, no space or <>"
        )
    return Attachment(
        key=key,
        filename=filename,
        content_type=content_type,
        disposition=_DISPOSITIONS.get(disposition) if disposition is not None else None,
        content_id=content_id,
    )
