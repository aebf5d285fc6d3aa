"""SES email templates as files, one per template under ``templates/``: read and checked.

File format (``templates/<name>.json``; the template's name is the file stem, 1 to 64 of
``A-Z a-z 0-9 _ -``):

    {"subject": "...", "text": "...", "html": "..."}

``subject`` is required, and at least one of ``text`` and ``html``; no other keys. These are the
field names of a message's inline ``content`` (DESIGN section 3), and values use SES's
``{{variable}}`` syntax, filled from each message's ``data``.

The one reader of these files: the stack deploys them (``stacks/ses_templates.py``), the local
run creates them in the emulator and the CLI checks rows against them (``bulkmail``). No CDK
import here, so the CLI can use it. Both the stack and the local run store each under the name
``by_ses_name`` gives it (the context key ``template_prefix`` + the stem).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAMES_FILE = (
    Path(__file__).resolve().parent.parent / "lambda_src" / "bulk_sender" / "template_names.py"
)
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYS = frozenset({"subject", "text", "html"})


class TemplateFileError(ValueError):
    """A file under templates/ does not follow the template file format."""


@dataclass(frozen=True)
class EmailTemplate:
    """One template file, read and checked."""

    name: str
    subject: str
    text: str | None
    html: str | None

    @classmethod
    def from_file(cls, path: Path) -> EmailTemplate:
        name = path.stem
        if not _NAME_PATTERN.match(name):
            raise TemplateFileError(
                f"{path.name}: a template name (the file stem) is 1 to 64 of A-Z a-z 0-9 _ -"
            )
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise TemplateFileError(f"{path.name}: not valid JSON ({error.msg})") from None
        if not isinstance(body, dict):
            raise TemplateFileError(f"{path.name}: must hold a JSON object")
        unknown = sorted(set(body) - _KEYS)
        if unknown:
            raise TemplateFileError(f"{path.name}: unknown key {unknown[0]!r}")
        for key, value in body.items():
            if not isinstance(value, str) or not value:
                raise TemplateFileError(f"{path.name}: {key!r} must be a non-empty string")
        if "subject" not in body:
            raise TemplateFileError(f"{path.name}: 'subject' is required")
        if "text" not in body and "html" not in body:
            raise TemplateFileError(f"{path.name}: needs 'text', 'html' or both")
        return cls(name=name, subject=body["subject"], text=body.get("text"), html=body.get("html"))

    def ses_content(self) -> dict[str, str]:
        """The parts as SES's ``TemplateContent`` (Subject, Text, Html; absent ones left out)."""
        parts = {"Subject": self.subject, "Text": self.text, "Html": self.html}
        return {name: value for name, value in parts.items() if value}


def load_templates(directory: Path = TEMPLATES_DIR) -> tuple[EmailTemplate, ...]:
    """Every ``*.json`` template under ``directory``, sorted by name."""
    return tuple(EmailTemplate.from_file(path) for path in sorted(directory.glob("*.json")))


@functools.cache
def template_names() -> ModuleType:
    """The sender's own mapping, ``bulk_sender.template_names``, loaded by path (it imports
    nothing), so the stack names templates exactly as the sender does."""
    spec = importlib.util.spec_from_file_location("bulk_sender_template_names", TEMPLATE_NAMES_FILE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the sender's template names from {TEMPLATE_NAMES_FILE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def by_ses_name(templates: tuple[EmailTemplate, ...], prefix: str = "") -> dict[str, EmailTemplate]:
    """Each template under the name SES stores it as (``bulk_sender.template_names``).

    A name longer than SES's 64 characters, or two files under one name (compared ignoring
    case: on a case-insensitive checkout, macOS or Windows, they would be one file), is an
    error naming the files.
    """
    names = template_names()
    found: dict[str, EmailTemplate] = {}
    for template in templates:
        name = names.ses_template_name(template.name, prefix)
        if not names.fits(template.name, prefix):
            raise TemplateFileError(
                f"{template.name}.json: with template_prefix {prefix!r}, its SES name {name!r} "
                f"is longer than {names.MAX_NAME} characters"
            )
        same = next((other for other in found if other.lower() == name.lower()), None)
        if same is not None:
            raise TemplateFileError(
                f"{found[same].name}.json and {template.name}.json both map to the SES template "
                f"name {same!r}: rename one"
            )
        found[name] = template
    return found
