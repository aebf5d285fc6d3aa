"""`python -m bulkmail import pinpoint EXPORT... --out campaign.csv` (DESIGN.md section 12).

Reads the files of an Amazon Pinpoint endpoint export (CreateExportJob: newline-delimited JSON,
one EndpointResponse per line, gzipped or not) and writes a campaign CSV:

- EMAIL endpoints that are ACTIVE and not opted out become rows, one per address (compared
  case-insensitively; of several endpoints of one address, the latest EffectiveDate wins each
  column, the others fill what it lacks);
- columns: `email`, `timezone` (Demographic.Timezone: `enqueue --at-local` reads it), each
  `Attributes.X` as `X` and each `User.UserAttributes.X` as `user_X` (names outside
  `A-Za-z0-9_` have those characters replaced by `_`); Pinpoint's lists of strings are joined
  with ", ";
- endpoints with `OptOut: ALL` become suppressions (`--suppress`, with --local/--stack as
  `suppress add`); an address opted out on any endpoint is never a row;
- INACTIVE endpoints, other channels and unreadable lines are counted and skipped.

`--templates DIR` converts GetEmailTemplate answers (JSON files, with or without the
`EmailTemplateResponse` wrapper the CLI prints) into `templates/NAME.json` files, Pinpoint's
`{{Attributes.X}}`, `{{User.UserAttributes.X}}` and `{{Demographic.Timezone}}` references
mapped to the columns above.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from bulkmail import suppress as suppressions
from bulkmail import target
from bulkmail.errors import CliError

EMAIL_COLUMN = "email"
TIMEZONE_COLUMN = "timezone"
USER_PREFIX = "user_"
LIST_SEPARATOR = ", "
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_TAG = re.compile(r"(\{\{\{?)(.*?)(\}?\}\})", re.DOTALL)
_TEMPLATE_NAME = re.compile(r"[^A-Za-z0-9_-]")
GZIP_MAGIC = b"\x1f\x8b"


def attribute_column(name: str) -> str:
    return _UNSAFE.sub("_", name) or "_"


def user_attribute_column(name: str) -> str:
    return USER_PREFIX + _UNSAFE.sub("_", name)


@dataclass
class Import:
    """What an export holds: the rows by address, the opted-out addresses, what was skipped."""

    rows: dict[str, dict[str, str]] = field(default_factory=dict)  # lower-cased address
    dates: dict[str, str] = field(default_factory=dict)
    opted_out: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)
    endpoints: int = 0
    duplicates: int = 0

    def columns(self) -> list[str]:
        extra = sorted({c for row in self.rows.values() for c in row} - {EMAIL_COLUMN})
        rest = [c for c in extra if c != TIMEZONE_COLUMN]
        return [EMAIL_COLUMN, TIMEZONE_COLUMN, *rest]

    def add(self, endpoint: Mapping[str, Any]) -> None:
        self.endpoints += 1
        channel = str(endpoint.get("ChannelType") or "UNKNOWN")
        if channel != "EMAIL":
            self.skipped[f"channel {channel}"] += 1
            return
        address = endpoint.get("Address")
        if not isinstance(address, str) or "@" not in address:
            self.skipped["EMAIL without an address"] += 1
            return
        key = address.strip().lower()
        if str(endpoint.get("OptOut") or "NONE").upper() == "ALL":
            self.opted_out.add(key)
            return
        if str(endpoint.get("EndpointStatus") or "ACTIVE").upper() != "ACTIVE":
            self.skipped["INACTIVE"] += 1
            return
        row = {EMAIL_COLUMN: address.strip()}
        timezone = (endpoint.get("Demographic") or {}).get("Timezone")
        if isinstance(timezone, str) and timezone:
            row[TIMEZONE_COLUMN] = timezone
        for name, values in _lists(endpoint.get("Attributes")):
            row[attribute_column(name)] = values
        for name, values in _lists((endpoint.get("User") or {}).get("UserAttributes")):
            row[user_attribute_column(name)] = values
        date = str(endpoint.get("EffectiveDate") or "")
        if key in self.rows:
            self.duplicates += 1
            older, newer = (
                (self.rows[key], row) if date >= self.dates[key] else (row, self.rows[key])
            )
            row = {**older, **{k: v for k, v in newer.items() if v}}
            date = max(date, self.dates[key])
        self.rows[key] = row
        self.dates[key] = date

    def sendable(self) -> list[dict[str, str]]:
        """The rows, without any address opted out on one of its endpoints, in address order."""
        return [row for key, row in sorted(self.rows.items()) if key not in self.opted_out]


def _lists(value: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(value, dict):
        return
    for name, values in value.items():
        if isinstance(values, list):
            yield str(name), LIST_SEPARATOR.join(str(v) for v in values)
        elif values is not None:
            yield str(name), str(values)


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines of an export file, gunzipped if it is gzipped (by its bytes, not its name)."""
    try:
        with path.open("rb") as probe:
            gzipped = probe.read(2) == GZIP_MAGIC
        opener = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from enumerate(handle, 1)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise CliError(f"{path}: not a readable export file ({error})") from None


def read_exports(paths: Iterable[Path]) -> Import:
    found = Import()
    for path in paths:
        for _number, line in read_lines(path):
            if not line.strip():
                continue
            try:
                endpoint = json.loads(line)
            except ValueError:
                found.skipped["unreadable line"] += 1
                continue
            if not isinstance(endpoint, dict):
                found.skipped["unreadable line"] += 1
                continue
            found.add(endpoint)
    return found


def write_csv(path: Path, found: Import) -> int:
    rows = found.sendable()
    columns = found.columns()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


# --- templates -------------------------------------------------------------------------------


def map_references(text: str) -> str:
    """Pinpoint's variable paths inside `{{...}}` tags, as the CSV's columns."""

    def tag(match: re.Match[str]) -> str:
        inner = re.sub(
            r"User\.UserAttributes\.([A-Za-z0-9_\-]+)",
            lambda m: user_attribute_column(m.group(1)),
            match.group(2),
        )
        inner = re.sub(
            r"(?<![\w.])Attributes\.([A-Za-z0-9_\-]+)",
            lambda m: attribute_column(m.group(1)),
            inner,
        )
        inner = inner.replace("Demographic.Timezone", TIMEZONE_COLUMN)
        return match.group(1) + inner + match.group(3)

    return _TAG.sub(tag, text)


@dataclass
class ConvertedTemplate:
    name: str
    content: dict[str, str]
    notes: list[str]


def convert_template(answer: Mapping[str, Any], source: str) -> ConvertedTemplate:
    template = answer.get("EmailTemplateResponse", answer)
    if not isinstance(template, dict) or "TemplateName" not in template:
        raise CliError(f"{source}: not a GetEmailTemplate answer (no TemplateName)")
    name = _TEMPLATE_NAME.sub("_", str(template["TemplateName"]))[:64]
    content = {"subject": map_references(str(template.get("Subject") or ""))}
    for part, key in (("text", "TextPart"), ("html", "HtmlPart")):
        if template.get(key):
            content[part] = map_references(str(template[key]))
    notes = []
    if not content["subject"]:
        notes.append("no subject: give one before deploying")
    if template.get("DefaultSubstitutions"):
        notes.append(
            "has DefaultSubstitutions, which SES templates do not: give those values as columns"
        )
    if template.get("Headers"):
        notes.append("has Headers: not carried over")
    return ConvertedTemplate(name=name, content=content, notes=notes)


def convert_templates(directory: Path, out: Path) -> list[ConvertedTemplate]:
    if not directory.is_dir():
        raise CliError(f"--templates {directory}: not a directory")
    converted = []
    for path in sorted(directory.glob("*.json")):
        try:
            answer = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CliError(f"{path}: not JSON ({error})") from None
        if not isinstance(answer, dict):
            raise CliError(f"{path}: not a GetEmailTemplate answer")
        converted.append(convert_template(answer, str(path)))
    out.mkdir(parents=True, exist_ok=True)
    for template in converted:
        (out / f"{template.name}.json").write_text(
            json.dumps(template.content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return converted


# --- the command -----------------------------------------------------------------------------

app = typer.Typer(
    help=(
        "Bring an audience from elsewhere.\n\nExample: python -m bulkmail import pinpoint "
        "export/*.gz --out campaign.csv"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command("pinpoint")
def pinpoint(
    exports: Annotated[
        list[Path],
        typer.Argument(
            metavar="EXPORT...",
            help="Files of a Pinpoint endpoint export (newline-delimited JSON, gzipped or not).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The campaign CSV to write.")],
    suppress: Annotated[
        bool,
        typer.Option(
            "--suppress",
            help="Add the endpoints opted out of everything (OptOut ALL) to the suppression "
            "list (list `all`), with --stack or --local.",
        ),
    ] = False,
    stack: target.StackOption = None,
    local: target.LocalOption = False,
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            metavar="DIR",
            help="A directory of GetEmailTemplate answers (JSON) to convert into template files.",
        ),
    ] = None,
    templates_out: Annotated[
        Path, typer.Option("--templates-out", help="Where the converted templates go.")
    ] = Path("templates"),
) -> None:
    """Turn a Pinpoint endpoint export into a campaign CSV, suppressions and templates.

    EMAIL endpoints that are ACTIVE and not opted out become rows (one per address), with
    `timezone` from Demographic.Timezone (for `enqueue --at-local`), each Attributes.X as
    column X and each User.UserAttributes.X as user_X. OptOut ALL endpoints are suppressions
    (--suppress adds them, as `suppress add` would). Other channels and INACTIVE endpoints are
    counted and skipped.

    Example:

        python -m bulkmail import pinpoint export/*.gz --out campaign.csv \\
            --suppress --stack BulkEmailSender --templates pinpoint-templates/
    """
    if suppress and not (stack or local):
        raise CliError("--suppress needs the suppression list: --stack NAME or --local")
    found = read_exports(exports)
    written = write_csv(out, found)
    typer.echo(
        f"endpoints {found.endpoints}: {written} rows written to {out} "
        f"({found.duplicates} duplicate endpoints of an address merged), "
        f"{len(found.opted_out)} opted out"
    )
    for reason, count in sorted(found.skipped.items()):
        typer.echo(f"skipped: {reason} {count}")
    if found.opted_out and suppress:
        unsubscribes = suppressions.from_stack(stack, local=local)
        assert unsubscribes is not None
        new = sum(
            unsubscribes.table.add(unsubscribes.hash(address), "all", source="pinpoint-import")
            for address in sorted(found.opted_out)
        )
        typer.echo(f"suppressed {new} on list all ({len(found.opted_out) - new} already were)")
    elif found.opted_out:
        typer.echo(
            "the opted-out addresses are not in the CSV; add them to the suppression list "
            "with --suppress --stack NAME (or --local)"
        )
    if templates is not None:
        for template in convert_templates(templates, templates_out):
            typer.echo(f"template {template.name}: {templates_out / template.name}.json")
            for note in template.notes:
                typer.echo(f"  note: {note}")
