"""Keyed recipient hashes and signed unsubscribe tokens: pure functions, no I/O.

One secret (Secrets Manager, generated at deploy time) gives two keys by HMAC domain
separation: the hash key, which turns a lower-cased address into `h` (the suppression
table's key, and the `h` of the CLI's message ids `{campaign}:{h}`), and the token key, which
signs an unsubscribe token `{list}.{h}.{mac}`. A token names the list and the recipient but
never the address; only the holder of the secret can make one. The CLI imports this module, so
the Lambda and the CLI hash alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

HASH_HEX = 32  # 128 bits of HMAC-SHA256: no collision in any real list
MAC_HEX = 32
ALL_LISTS = "all"  # an unsubscribe from `all` covers every list
LIST_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_TOKEN_CHARS = 64 + 1 + HASH_HEX + 1 + MAC_HEX
_TOKEN = re.compile(rf"([A-Za-z0-9_-]{{1,64}})\.([0-9a-f]{{{HASH_HEX}}})\.([0-9a-f]{{{MAC_HEX}}})")
_HASH_LABEL = b"bulkmail/recipient-hash/v1"
_TOKEN_LABEL = b"bulkmail/unsubscribe-token/v1"


@dataclass(frozen=True, repr=False)
class Keys:
    """The two keys derived from the deployed secret (never logged: no repr)."""

    hash_key: bytes
    token_key: bytes

    @classmethod
    def from_secret(cls, secret: str | bytes) -> Keys:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(raw) < 16:
            raise ValueError("the unsubscribe secret must hold at least 16 bytes")
        return cls(
            hmac.new(raw, _HASH_LABEL, hashlib.sha256).digest(),
            hmac.new(raw, _TOKEN_LABEL, hashlib.sha256).digest(),
        )

    def __repr__(self) -> str:
        return "Keys(<redacted>)"


def normalise(address: str) -> str:
    """The bare address, IDNA domain, lower-cased: `Ann <Ann@Bücher.example>` and
    `ann@xn--bcher-kva.example` are one recipient."""
    bare = _bare(address)
    local, at, domain = bare.rpartition("@")
    if not at:
        return bare.lower()
    if not domain.isascii():
        # IDNA 2008 / UTS-46, as email-validator encodes the domains the sender sends to
        # (Python's "idna" codec is IDNA 2003: straße.de would hash as strasse.de). Imported
        # here: an ASCII domain, the common case, needs none of it at cold start.
        import idna

        with contextlib.suppress(idna.IDNAError, UnicodeError):  # not encodable: as it is
            domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    return f"{local}@{domain}".lower()


def _bare(address: str) -> str:
    """The addr-spec of `addr` or `Name <addr>` without email.utils' full parser (the sender
    hashes every recipient of every batch); anything else goes through parseaddr."""
    text = address.strip()
    if text.endswith(">") and text.count("<") == 1 and '"' not in text and "(" not in text:
        return text[text.index("<") + 1 : -1].strip()
    if not any(char in text for char in ' "(<>,;'):
        return text
    return parseaddr(text)[1].strip() or text


def recipient_hash(key: bytes, addresses: Iterable[str]) -> str:
    """HMAC-SHA256(key, the sorted normalised addresses joined by commas), 32 hex digits.

    For one address it is that recipient's `h`; for several, the `h` of a message id."""
    joined = ",".join(sorted(normalise(address) for address in addresses))
    return hmac.new(key, joined.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_HEX]


def check_list(name: str) -> str:
    if not isinstance(name, str) or not LIST_PATTERN.fullmatch(name):
        raise ValueError("list must match ^[A-Za-z0-9_-]{1,64}$")
    return name


def _mac(keys: Keys, list_name: str, h: str) -> str:
    text = f"{list_name}.{h}".encode("ascii")
    return hmac.new(keys.token_key, text, hashlib.sha256).hexdigest()[:MAC_HEX]


def sign(keys: Keys, list_name: str, h: str) -> str:
    """The unsubscribe token of recipient hash `h` on list `list_name`."""
    return f"{check_list(list_name)}.{h}.{_mac(keys, list_name, h)}"


def verify(keys: Keys, token: object) -> tuple[str, str] | None:
    """(list, h) of a genuine token; None for anything else. The MAC is compared in
    constant time."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    list_name, h, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(keys, list_name, h)):
        return None
    return list_name, h
