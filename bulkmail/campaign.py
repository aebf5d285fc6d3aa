"""A campaign file (CSV or JSONL) -> SQS message bodies, each checked with the Lambda's schema.

CSV: a header row with an address column (`email`, `Email Address`, `e-mail`, ... in any case:
EMAIL_ALIASES), its delimiter sniffed from that row; every other column becomes `data`; `from`
and `template` (or inline `content`) come from the options. Bytes that are not UTF-8 refuse
their row, by line number. JSONL: one whole message per line
(DESIGN.md section 3); options fill in `from` / `template` where a line has neither.

Every row then gets, from the options:
- the tag `campaign` and a deterministic `id` = `{campaign}:{h}`, h = the first 32 hex digits
  of HMAC-SHA256(id key, the lower-cased recipient address(es)), computed by the Lambda's own
  `bulk_sender.recipient_hash` (with `--stack`, the id key is the deployed secret's hash key,
  so `h` of a one-recipient row is that recipient's suppression key): the same campaign run
  twice gives the same ids, so the Lambda's idempotency sends each email once; no address in
  clear. A row that already has an `id` keeps it;
- with an unsubscribe URL template (for users who host their own endpoint), `{id}` replaced
  by the URL-encoded id: the header `List-Unsubscribe: <url>`, then, for an https URL only,
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 allows one-click with HTTPS
  only: a mailto link gets no Post header), and the same link as `data.unsubscribe_url` for
  the body, unless the row has one. The sender adds none of its own to such a row.

Then each body is validated with `bulk_sender.message.parse_message` (the Lambda's own code)
unless `validate` is off, and, with a `render_check` (the CLI's `bulkmail.templates.row_check`),
its `data` against its template; a refused row keeps its line number and the reason.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from urllib.parse import quote, urlsplit

from bulk_sender.message import Defaults, Email, InvalidMessage, parse_message, validate_tags
from bulk_sender.names import Cli
from bulk_sender.recipient_hash import HASH_HEX, recipient_hash
from bulk_sender.sqs_limits import MAX_MESSAGE_BYTES
from bulkmail.errors import CliError

MAX_BODY_BYTES = MAX_MESSAGE_BYTES  # the queue's maximum message size (the stack sets it)
SQS_MAX_MESSAGE_BYTES = 1_048_576  # the most any SQS queue takes
ID_HASH_HEX = HASH_HEX  # 128 bits of HMAC-SHA256: no collision in any real campaign
CAMPAIGN_TAG = "campaign"
# Header names taken for the address column, compared lower-cased without spaces, - and _.
EMAIL_ALIASES = ("email", "emailaddress", "mail", "mailaddress", "recipient", "to")
DELIMITERS = ",;\t|"  # sniffed from the header row: the one it holds most of
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, kept by surrogateescape
UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class CampaignOptions:
    """What the command line adds to every row."""

    campaign: str
    from_address: str | None = None
    template: str | None = None
    content: Mapping[str, str] | None = None
    id_key: bytes | None = None  # None: this machine's own key (local_id_key)
    unsubscribe_url: str | None = None
    validate: bool = True
    # The sets a row may name (the Lambda's ALLOWED_CONFIGURATION_SETS); None: not checked.
    configuration_sets: frozenset[str] | None = None
    # With validate: each valid row's message -> None, or why it would not render (issue 8).
    render_check: Callable[[Email], str | None] | None = field(default=None, compare=False)
    # CSV: data name -> the column that holds it (`--column name="First Name"`).
    columns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_campaign_name(self.campaign)
        if self.template and self.content:
            raise CliError("give --template or --content-file, not both")
        if self.unsubscribe_url is not None:
            check_unsubscribe_url(self.unsubscribe_url)
        if self.validate:
            check_from_and_template(self.from_address, self.template)

    @property
    def defaults(self) -> Defaults:
        """What validation assumes for a row without `from` / `template` (the options)."""
        return Defaults(
            from_address=self.from_address,
            template=self.template,
            configuration_sets=self.configuration_sets,
        )


@dataclass(frozen=True)
class Row:
    """One row of the file: its body to enqueue, or the reason it was refused."""

    line: int
    body: str | None
    error: str | None = None
    id: str | None = None  # the message id of a row to enqueue

    @property
    def refused(self) -> bool:
        return self.error is not None


def check_campaign_name(name: str) -> None:
    """A campaign name is a tag value and an id prefix."""
    try:
        validate_tags({CAMPAIGN_TAG: name})
    except InvalidMessage:
        raise CliError("--campaign: must match ^[A-Za-z0-9_-]{1,200}$") from None
    if len(name) > 200:  # `{campaign}:{32 hex}` stays within the id's 256 characters
        raise CliError("--campaign: at most 200 characters")


def check_from_and_template(from_address: str | None, template: str | None) -> None:
    """A bad --from or --template is one argument error, not one refusal per row."""
    probe: dict[str, Any] = {"to": "probe@example.com", "template": template or "probe"}
    if from_address is not None:
        probe["from"] = from_address
    try:
        parse_message(json.dumps(probe), message_id="options", defaults=Defaults("p@example.com"))
    except InvalidMessage as error:
        if error.field in ("from", "template"):
            raise CliError(f"--{error.field}: {error.rule}") from None


def check_unsubscribe_url(template: str) -> None:
    if "{id}" not in template:
        raise CliError("--unsubscribe-url: must contain {id} (each recipient's own link)")
    parts = urlsplit(template.replace("{id}", "x"))
    if parts.scheme not in ("https", "http", "mailto") or not (parts.netloc or parts.path):
        raise CliError("--unsubscribe-url: must be an https:// (or mailto:) URL template")


def load_content(path: Path) -> dict[str, str]:
    """An inline template file: a JSON object with `subject` and `text` and/or `html`."""
    doc = _read_json_file(path, "--content-file")
    if not isinstance(doc, dict):
        raise CliError(f"{path}: must be a JSON object with subject, text, html")
    try:  # the schema's own rules for inline content
        parse_message(
            json.dumps({"to": "a@example.com", "from": "b@example.com", "content": doc}),
            message_id="content-file",
            defaults=Defaults(),
        )
    except InvalidMessage as error:
        raise CliError(f"{path}: {error}") from None
    return doc


def message_id(campaign: str, recipients: list[str], key: bytes) -> str:
    """`{campaign}:{h}`: h keyed by `key` over the lower-cased bare addresses."""
    return f"{campaign}:{recipient_hash(key, recipients)}"


def body_id(body: str) -> str | None:
    """The `id` of a message body, if it is a JSON object with a string id."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    found = doc.get("id") if isinstance(doc, dict) else None
    return found if isinstance(found, str) else None


def unsubscribe_link(url_template: str, email_id: str) -> str:
    return url_template.replace("{id}", quote(email_id, safe=""))


def unsubscribe_headers(url_template: str, email_id: str) -> dict[str, str]:
    """List-Unsubscribe, then List-Unsubscribe-Post for an https link only (RFC 8058)."""
    url = unsubscribe_link(url_template, email_id)
    headers = {"List-Unsubscribe": f"<{url}>"}
    if urlsplit(url).scheme == "https":
        headers["List-Unsubscribe-Post"] = UNSUBSCRIBE_POST
    return headers


def id_key_path() -> Path:
    """Where this machine's id key lives: BULKMAIL_ID_KEY_FILE, else the user's config folder."""
    given = os.environ.get(Cli.ID_KEY_FILE)
    if given:
        return Path(given)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "bulkmail" / "id-key"


def local_id_key() -> bytes:
    """The ids' HMAC key when neither --id-key nor a stack's secret gives one: 32 random bytes
    made on first use and kept (mode 0600) in `id_key_path()`, so ids stay deterministic on
    this machine (re-runs are deduplicated, `status --join` finds addresses) and no one else
    can recompute an id from an address. Copy the file to enqueue from another machine."""
    path = id_key_path()
    try:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another run made it first: use that one
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(handle, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="ascii").strip().encode("ascii")


def read_campaign(path: Path, options: CampaignOptions) -> list[Row]:
    """Every row of a .csv or .jsonl file, built, decorated and checked (see the module doc)."""
    reader = check_file(path)
    builder = _RowBuilder(options)
    rows = [builder.row(line, doc) for line, doc in reader(path, options)]
    if not rows:
        raise CliError(f"{path}: no rows: nothing to enqueue")
    return rows


def check_file(path: Path) -> Callable[[Path, CampaignOptions], Iterator[tuple[int, RawDoc]]]:
    """A .csv or .jsonl file that exists (its reader), or a one-line CliError."""
    readers = {".csv": _csv_docs, ".jsonl": _jsonl_docs, ".ndjson": _jsonl_docs}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise CliError(f"{path}: expected a .csv or .jsonl file")
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    return reader


class Refusal(str):
    """A row refused while reading (a CSV row of the wrong width), whatever the options."""


# A row as read: a message to decorate, raw text (not a JSON object), or a refusal.
RawDoc = dict[str, Any] | str


def _csv_docs(path: Path, options: CampaignOptions) -> Iterator[tuple[int, RawDoc]]:
    if not options.template and not options.content and options.validate:
        raise CliError("a CSV campaign needs --template or --content-file")
    if not options.from_address and options.validate:
        raise CliError("a CSV campaign needs --from")
    for line, header, email_column, cells in csv_rows(path):
        yield line, _csv_doc(header, email_column, cells, options)


def csv_rows(path: Path) -> Iterator[tuple[int, list[str], str, list[str]]]:
    """A campaign CSV's non-blank rows as (line number, header, address column, cells): the
    delimiter sniffed from the header row, the address column found by its aliases. Also what
    `status --join` reads, so both take the same files."""
    # A cell may be as large as a message (one big template variable): its row is refused
    # if the message is too large, and only a cell larger than any SQS message stops the file.
    csv.field_size_limit(max(csv.field_size_limit(), SQS_MAX_MESSAGE_BYTES))
    with _open_text(path) as handle:
        delimiter = _sniff_delimiter(handle.readline())
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return
            header, email_column = _csv_header(path, header, delimiter)
            for cells in reader:
                if any(cell.strip() for cell in cells):  # blank lines are skipped
                    yield reader.line_num, header, email_column, cells
        except csv.Error as error:
            raise CliError(f"{path}: line {reader.line_num}: {error}") from None


def _sniff_delimiter(first_line: str) -> str:
    """The delimiter the header row holds most of (outside quotes); a comma if none."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _csv_header(path: Path, header: list[str], delimiter: str) -> tuple[list[str], str]:
    """The column names, and the one holding the address (its name as spelled in the file)."""
    header = [name.strip() for name in header]
    if any(_ESCAPED_BYTE.search(name) for name in header):
        raise CliError(f"{path}: line 1: not UTF-8 text (save the file as UTF-8)")
    if "" in header or len({name.lower() for name in header}) != len(header):
        raise CliError(f"{path}: the header row has an empty or repeated column name")
    found = [name for name in header if _folded(name) in EMAIL_ALIASES]
    if not found:
        columns = ", ".join(repr(name) for name in header)
        separator = {"\t": "tab"}.get(delimiter, repr(delimiter))
        raise CliError(
            f"{path}: no address column (one named email, Email Address, e-mail, mail, to or "
            f"recipient); the columns found, split on {separator}: {columns}"
        )
    if len(found) > 1:
        raise CliError(f"{path}: several address columns ({', '.join(found)}): keep one")
    return header, found[0]


def _folded(name: str) -> str:
    return re.sub(r"[\s_-]", "", name.lower())


def _csv_doc(
    header: list[str], email_column: str, cells: list[str], options: CampaignOptions
) -> RawDoc:
    if len(cells) != len(header):
        return Refusal(f"row: {len(cells)} cells, the header has {len(header)}")
    values = dict(zip(header, cells, strict=True))
    for name, cell in values.items():
        if match := _ESCAPED_BYTE.search(cell):
            byte = ord(match.group()) - 0xDC00
            return Refusal(f"{name}: not UTF-8 text (byte 0x{byte:02x}; save the file as UTF-8)")
    doc: dict[str, Any] = {"to": values.pop(email_column).strip()}
    if options.from_address:
        doc["from"] = options.from_address
    if options.content:
        doc["content"] = dict(options.content)
    elif options.template:
        doc["template"] = options.template
    for name, column in options.columns.items():
        if column in values:
            values[name] = values.pop(column)
    doc["data"] = values
    return doc


def closest_column(wanted: str, columns: Sequence[str]) -> str | None:
    """The column that most looks like the variable `wanted` (`First Name` for `name`)."""
    folded = _folded(wanted)
    for column in columns:  # the variable is a word of the column's name, or the reverse
        words = {_folded(word) for word in re.split(r"[\s_-]+", column) if word}
        if folded in words or _folded(column) in folded or folded in _folded(column):
            return column
    found = difflib.get_close_matches(folded, [_folded(c) for c in columns], n=1, cutoff=0.6)
    return next((c for c in columns if found and _folded(c) == found[0]), None)


def _jsonl_docs(path: Path, options: CampaignOptions) -> Iterator[tuple[int, RawDoc]]:
    with _open_binary(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            if line_number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                byte = raw[error.start]
                yield (
                    line_number,
                    Refusal(
                        f"body: not UTF-8 text (byte 0x{byte:02x} at column {error.start + 1})"
                    ),
                )
                continue
            if not text:
                continue
            try:
                doc = json.loads(text)
            except ValueError:
                doc = None
            except RecursionError:
                yield line_number, Refusal("body: nested too deeply")
                continue
            if not isinstance(doc, dict):
                yield line_number, text
                continue
            yield line_number, _with_options(doc, options)


def _with_options(doc: dict[str, Any], options: CampaignOptions) -> dict[str, Any]:
    """A JSONL message, with `from` and `template`/`content` from the options if it has none."""
    if options.from_address and "from" not in doc:
        doc["from"] = options.from_address
    if "content" not in doc and "template" not in doc:
        if options.content:
            doc["content"] = dict(options.content)
        elif options.template:
            doc["template"] = options.template
    return doc


class _RowBuilder:
    """Decorates a row (campaign tag, id, unsubscribe headers), then checks it."""

    def __init__(self, options: CampaignOptions) -> None:
        self.options = options
        self.lines_by_id: dict[str, int] = {}

    def row(self, line: int, doc: RawDoc) -> Row:
        """The row built and checked; whatever is in it, a refusal rather than an exception."""
        try:
            return self._row(line, doc)
        except RecursionError:
            return Row(line, None, "body: nested too deeply")
        except UnicodeError:
            return Row(line, None, "body: must be valid Unicode (no lone surrogate escapes)")
        except Exception as error:  # no row may stop the file: say which and why
            return Row(line, None, f"body: cannot be checked ({type(error).__name__})")

    def _row(self, line: int, doc: RawDoc) -> Row:
        if isinstance(doc, Refusal):
            return Row(line, None, str(doc))
        if isinstance(doc, str):  # not a JSON object: raw, or refused with the schema's reason
            return Row(line, doc) if not self.options.validate else self._refused(line, doc)
        self._decorate(doc)
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        body.encode("utf-8")  # a lone surrogate (an escape in a JSONL line) cannot be sent
        if not self.options.validate:
            return Row(line, body)
        try:
            email = parse_message(body, message_id=f"line-{line}", defaults=self.options.defaults)
        except InvalidMessage as error:
            return Row(line, None, str(error))
        check = self.options.render_check
        if check is not None and (reason := check(email)) is not None:
            return Row(line, None, reason)
        if len(body.encode("utf-8")) > MAX_BODY_BYTES:
            return Row(line, None, f"body: at most {MAX_BODY_BYTES} bytes (SQS message size)")
        first = self.lines_by_id.setdefault(email.id, line)
        if first != line:
            return Row(line, None, f"id: same as line {first} (same recipient, same campaign)")
        return Row(line, body, id=email.id)

    def _refused(self, line: int, text: str) -> Row:
        try:
            parse_message(text, message_id=f"line-{line}", defaults=self.options.defaults)
        except InvalidMessage as error:
            return Row(line, None, str(error))
        return Row(line, None, "body: must be a JSON object")

    @functools.cached_property
    def _id_key(self) -> bytes:
        return self.options.id_key or local_id_key()

    def _decorate(self, doc: dict[str, Any]) -> None:
        options = self.options
        tags = doc.setdefault("tags", {})
        if isinstance(tags, dict):
            tags[CAMPAIGN_TAG] = options.campaign
        recipients = _recipients(doc)
        if "id" not in doc and recipients:
            doc["id"] = message_id(options.campaign, recipients, self._id_key)
        headers = doc.setdefault("headers", {})
        if options.unsubscribe_url and isinstance(headers, dict) and "id" in doc:
            for name, value in unsubscribe_headers(options.unsubscribe_url, str(doc["id"])).items():
                headers.setdefault(name, value)
            data = doc.setdefault("data", {})
            if isinstance(data, dict):  # the body links the same place
                data.setdefault(
                    "unsubscribe_url", unsubscribe_link(options.unsubscribe_url, str(doc["id"]))
                )
        if not headers:
            del doc["headers"]


def _recipients(doc: Mapping[str, Any]) -> list[str]:
    """The raw recipient strings of a row (empty when their shape is wrong)."""
    found: list[str] = []
    for name in ("to", "cc", "bcc"):
        value = doc.get(name, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return []
        found += value
    return found


def _open_text(path: Path) -> TextIO:
    """Bytes that are not UTF-8 come through as lone surrogates: refused row by row."""
    try:
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as error:
        raise CliError(f"{path}: {error.strerror}") from None


def _open_binary(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as error:
        raise CliError(f"{path}: {error.strerror}") from None


def _read_json_file(path: Path, option: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{option}: {path}: no such file") from None
    except (OSError, ValueError) as error:
        raise CliError(f"{option}: {path}: not a JSON file ({type(error).__name__})") from None
