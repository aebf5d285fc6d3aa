"""Keyed recipient hashes and signed unsubscribe tokens: pure functions, no I/O.

The secret (Secrets Manager, generated at deploy time) holds one key per version: version 1
is the deployed string itself; `python -m bulkmail secret rotate` turns it into the JSON
`{"keys": [v1, v2, ...], "rotated_at": EPOCH}`. Each version's key gives two keys by HMAC
domain separation: a hash key and a token key.

- A recipient's hash at version 1 is HMAC(hash key 1, lower-cased address); at version n it is
  HMAC(hash key n, its hash at n - 1). So the suppression table is re-keyed from its own hashes
  (no address needed), and a link signed before a rotation is translated to the new hash.
- A token `{version}.{list}.{h}.{mac}` names the key version, the list and the recipient's hash
  at that version, never the address; only the holder of the secret can make one. The current
  and the previous version verify; tokens without a version (signed before versions existed)
  are version 1.
- Message ids `{campaign}:{h}` keep version 1's hash key (`Keys.hash_key`): a campaign re-run
  after a rotation gets the same ids, so it is still deduplicated.

The CLI imports this module, so the Lambda and the CLI hash alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

HASH_HEX = 32  # 128 bits of HMAC-SHA256: no collision in any real list
MAC_HEX = 32
ALL_LISTS = "all"  # an unsubscribe from `all` covers every list
LIST_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_VERSION_DIGITS = 6
MAX_TOKEN_CHARS = MAX_VERSION_DIGITS + 1 + 64 + 1 + HASH_HEX + 1 + MAC_HEX
_TOKEN = re.compile(
    rf"(?:([1-9][0-9]{{0,{MAX_VERSION_DIGITS - 1}}})\.)?([A-Za-z0-9_-]{{1,64}})"
    rf"\.([0-9a-f]{{{HASH_HEX}}})\.([0-9a-f]{{{MAC_HEX}}})"
)
_HASH_LABEL = b"bulkmail/recipient-hash/v1"
_TOKEN_LABEL = b"bulkmail/unsubscribe-token/v1"
MIN_SECRET_BYTES = 16


@dataclass(frozen=True, repr=False)
class VersionKeys:
    """The two keys of one version of the secret."""

    hash_key: bytes
    token_key: bytes

    @classmethod
    def from_raw(cls, raw: bytes) -> VersionKeys:
        if len(raw) < MIN_SECRET_BYTES:
            raise ValueError("the unsubscribe secret must hold at least 16 bytes")
        return cls(
            hmac.new(raw, _HASH_LABEL, hashlib.sha256).digest(),
            hmac.new(raw, _TOKEN_LABEL, hashlib.sha256).digest(),
        )


@dataclass(frozen=True, repr=False)
class Keys:
    """Every version of the deployed secret, oldest first (never logged: no repr)."""

    versions: tuple[VersionKeys, ...]
    rotated_at: int = 0  # when the current version was made (epoch seconds; 0: at deploy)

    @classmethod
    def from_secret(cls, secret: str | bytes) -> Keys:
        """The keys of the secret's value: a plain string (version 1, as deployed) or the
        JSON a rotation writes."""
        text = secret.decode("utf-8") if isinstance(secret, bytes) else secret
        if not text.startswith("{"):
            return cls((VersionKeys.from_raw(text.encode("utf-8")),))
        doc = json.loads(text)
        raws = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(raws, list) or not raws or not all(isinstance(r, str) for r in raws):
            raise ValueError("the unsubscribe secret's JSON must hold a list of keys")
        rotated_at = doc.get("rotated_at", 0)
        return cls(
            tuple(VersionKeys.from_raw(raw.encode("utf-8")) for raw in raws),
            int(rotated_at) if isinstance(rotated_at, int) else 0,
        )

    @property
    def version(self) -> int:
        """The current version: the one new links are signed with."""
        return len(self.versions)

    @property
    def hash_key(self) -> bytes:
        """Version 1's hash key: the key of message ids, which never rotates."""
        return self.versions[0].hash_key

    @property
    def token_key(self) -> bytes:
        return self.versions[-1].token_key

    def accepted(self) -> tuple[int, ...]:
        """The versions whose links verify and whose hashes are read: current and previous."""
        return tuple(range(self.version, max(0, self.version - 2), -1))

    def hashes(self, address: str) -> dict[int, str]:
        """The recipient's hash at each accepted version (current first)."""
        h = recipient_hash(self.versions[0].hash_key, [address])
        if len(self.versions) == 1:  # never rotated: the common case, one HMAC
            return {1: h}
        found: dict[int, str] = {}
        for version in range(1, self.version + 1):
            if version > 1:
                h = self.rekey(h, version)
            if version >= self.version - 1:
                found[version] = h
        return dict(sorted(found.items(), reverse=True))

    def current_hash(self, address: str) -> str:
        return self.hashes(address)[self.version]

    def rekey(self, h: str, version: int) -> str:
        """The hash at `version` of a recipient whose hash at `version - 1` is `h`."""
        key = self.versions[version - 1].hash_key
        return hmac.new(key, h.encode("ascii"), hashlib.sha256).hexdigest()[:HASH_HEX]

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


def _mac(keys: Keys, version: int | None, list_name: str, h: str) -> str:
    text = f"{list_name}.{h}" if version is None else f"{version}.{list_name}.{h}"
    key = keys.versions[(version or 1) - 1].token_key
    return hmac.new(key, text.encode("ascii"), hashlib.sha256).hexdigest()[:MAC_HEX]


def sign(keys: Keys, list_name: str, h: str) -> str:
    """The unsubscribe token of recipient hash `h` (at the current version) on `list_name`."""
    return f"{keys.version}.{check_list(list_name)}.{h}.{_mac(keys, keys.version, list_name, h)}"


@dataclass(frozen=True)
class Token:
    """A token's parts, read before any key is needed (a malformed one costs nothing)."""

    version: int | None  # None: signed before tokens carried a version (version 1)
    list_name: str
    h: str
    mac: str


def parse(token: object) -> Token | None:
    """The parts of a well-formed token; None for anything else. No key, no I/O."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    version, list_name, h, mac = match.groups()
    return Token(int(version) if version else None, list_name, h, mac)


def verify(keys: Keys, token: object) -> tuple[str, str, int] | None:
    """(list, h, version) of a genuine token of an accepted version; None for anything else.
    The MAC is compared in constant time."""
    parts = token if isinstance(token, Token) else parse(token)
    if parts is None:
        return None
    version = parts.version or 1
    if version not in keys.accepted():
        return None
    if not hmac.compare_digest(parts.mac, _mac(keys, parts.version, parts.list_name, parts.h)):
        return None
    return parts.list_name, parts.h, version
