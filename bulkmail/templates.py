"""SES templates for the CLI's pre-flight checks (issue 8): loaded from files, else from SES.

A template NAME is `templates/NAME.json` ({"subject", "text", "html"}, the stack's source),
or, when there is no such file, SES's own (sesv2 GetEmailTemplate; an ARN is fetched by its
name). `RowCheck` checks each campaign row like the Lambda's pre-flight (`bulk_sender.
preflight`): the row's `data` must hold every variable its template requires outside
conditionals; a template that cannot be loaded is reported once and its rows are not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bulk_sender.message import Email
from bulk_sender.preflight import TemplateCheck
from bulk_sender.template_names import ses_template_name
from bulk_sender.template_vars import required_variables
from bulkmail.errors import CliError
from stacks.template_files import EmailTemplate, TemplateFileError

DEFAULT_DIR = Path("templates")
# The project's own templates: where DEFAULT_DIR points when run from another directory
# (bin/bulkmail works from anywhere).
PROJECT_DIR = Path(__file__).resolve().parent.parent / "templates"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TemplateDataError(CliError):
    """The data does not render with the template (exit code 1, like a refused row)."""

    exit_code = 1


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    text: str
    html: str
    source: str  # the file, or "SES"

    @property
    def parts(self) -> dict[str, str]:
        return {"subject": self.subject, "text": self.text, "html": self.html}

    def required(self) -> frozenset[str]:
        """The data paths it requires outside conditionals (TemplateSyntaxError if malformed)."""
        return required_variables(self.subject, self.text, self.html)


class TemplateStore:
    """Templates by name: `DIR/NAME.json`, else SES (the client is made on first need) under
    the name the sender uses there: `prefix` (the stack's template_prefix) + NAME."""

    def __init__(
        self,
        directory: Path = DEFAULT_DIR,
        *,
        region: str | None = None,
        ses: Any = None,
        prefix: str = "",
    ) -> None:
        if directory == DEFAULT_DIR and not directory.is_dir() and PROJECT_DIR.is_dir():
            directory = PROJECT_DIR  # run from elsewhere: the project's own templates/
        self.directory = directory
        self._region = region
        self._ses = ses
        self._prefix = prefix

    def load(self, name_or_arn: str) -> Template:
        name = name_or_arn.rsplit("/", 1)[-1]
        if not _NAME.fullmatch(name):
            raise CliError(f"template {name_or_arn!r}: not a template name ([A-Za-z0-9_-]{{1,64}})")
        path = self.directory / f"{name}.json"
        if path.is_file():
            return _from_file(path)
        # An ARN names the SES template itself; a name is stored under the prefix.
        ses_name = name if name_or_arn.startswith("arn:") else ses_template_name(name, self._prefix)
        try:
            content = self._client().get_email_template(TemplateName=ses_name)["TemplateContent"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise
            region = self._client().meta.region_name
            where = f"SES (as {ses_name})" if ses_name != name else "SES"
            raise CliError(
                f"template {name}: not in {self.directory}/ nor in {where} ({region})"
            ) from None
        return Template(
            name,
            content.get("Subject") or "",
            content.get("Text") or "",
            content.get("Html") or "",
            "SES",
        )

    def _client(self) -> Any:
        if self._ses is None:
            self._ses = boto3.client("sesv2", region_name=self._region)
        return self._ses


def _from_file(path: Path) -> Template:
    try:
        file = EmailTemplate.from_file(path)
    except (OSError, TemplateFileError) as error:
        raise CliError(f"template: {error}") from None
    return Template(file.name, file.subject, file.text or "", file.html or "", str(path))


def load_json_object(path: Path, what: str) -> dict[str, Any]:
    """One JSON object from a file, or a one-line CliError."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{what}: {path}: no such file") from None
    except (OSError, ValueError) as error:
        raise CliError(f"{what}: {path}: not a JSON file ({type(error).__name__})") from None
    if not isinstance(doc, dict):
        raise CliError(f"{what}: {path}: must be one JSON object")
    return doc


def row_check(
    store: TemplateStore, warn: Callable[[str], None], allow_empty: Iterable[str] = ()
) -> Callable[[Email], str | None]:
    """The Lambda's pre-flight check (`bulk_sender.preflight.TemplateCheck`) on campaign rows:
    None when a row's data renders, else the refusal `data: lacks a, b required by NAME`. A
    template that cannot be loaded is reported once through `warn`; its rows pass unchecked.

    Beyond the Lambda's: a variable the template requires whose value is empty (or blanks)
    would render "Welcome, !": refused (`data: name is empty, required by NAME`) unless it is
    in `allow_empty` (`--allow-empty name`)."""
    allowed = frozenset(allow_empty)
    required: dict[object, frozenset[str]] = {}

    def needs(email: Email) -> tuple[str, frozenset[str]]:
        if email.content is not None:
            key: object = email.content
            name = "inline content"
            parts: tuple[str, ...] = (
                email.content.subject,
                email.content.text or "",
                email.content.html or "",
            )
        else:
            # bulk_sender.message gives every Email a template or content, never neither
            assert email.template is not None
            name = key = email.template.rsplit("/", 1)[-1]
            parts = ()
        if key not in required:
            try:
                required[key] = required_variables(*parts) if parts else store.load(name).required()
            except Exception:  # reported by the Lambda's check: not checked here either
                required[key] = frozenset()
        return name, required[key]

    def empty_of(email: Email) -> str | None:
        name, paths = needs(email)
        empty = sorted(p for p in paths - allowed if _is_blank(_value_at(email.data, p)))
        if not empty:
            return None
        names = ", ".join(empty)
        return (
            f"data: {names} {'is' if len(empty) == 1 else 'are'} empty, required by {name} "
            f"(--allow-empty {empty[0]} to send it empty)"
        )

    def fetch(name: str) -> tuple[str, str, str]:
        template = store.load(name)
        return template.subject, template.text, template.html

    def skipped(name: str, reason: str) -> None:
        reason = reason.removeprefix(f"template {name}: ")
        warn(f"template {name} cannot be checked ({reason}): its rows are not checked")

    check = TemplateCheck(fetch=fetch, on_skip=skipped, ttl=float("inf"))
    return lambda email: ((failed := check(email)) and failed[1]) or empty_of(email)


def _value_at(data: Any, path: str) -> Any:
    for segment in path.split("."):
        if not isinstance(data, dict) or segment not in data:
            return None
        data = data[segment]
    return data


def _is_blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()
