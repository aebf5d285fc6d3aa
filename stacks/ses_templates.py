"""SES email templates, one file each under ``templates/``, deployed as ``AWS::SES::Template``.

File format (``templates/<name>.json``; the template's name is the file stem, 1 to 64 of
``A-Z a-z 0-9 _ -``):

    {"subject": "...", "text": "...", "html": "..."}

``subject`` is required, and at least one of ``text`` and ``html``; no other keys. These are the
field names of a message's inline ``content`` (DESIGN section 3), and values use SES's
``{{variable}}`` syntax, filled from each message's ``data``. The local run reads the same files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_ses as ses
from constructs import Construct

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
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


def load_templates(directory: Path = TEMPLATES_DIR) -> tuple[EmailTemplate, ...]:
    """Every ``*.json`` template under ``directory``, sorted by name."""
    return tuple(EmailTemplate.from_file(path) for path in sorted(directory.glob("*.json")))


class SesTemplates(Construct):
    """One ``AWS::SES::Template`` per file; its name is the file stem (producers name it)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, templates: tuple[EmailTemplate, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.templates = {
            template.name: ses.CfnTemplate(
                self,
                template.name,
                template=ses.CfnTemplate.TemplateProperty(
                    template_name=template.name,
                    subject_part=template.subject,
                    text_part=template.text,
                    html_part=template.html,
                ),
            )
            for template in templates
        }
