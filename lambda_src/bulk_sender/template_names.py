"""The name SES stores a message's template under: the one mapping for every part.

A deployment may prefix every template name (context key ``template_prefix``, env
``TEMPLATE_PREFIX``), so two stacks in one account and Region do not collide. Producers keep
naming templates by their file stem (``welcome``); the stack deploys ``templates/welcome.json``
as ``<prefix>welcome``, the sender sends and fetches that name, the local run creates it, the
CLI looks it up in SES by it. A template given as an ARN already names the SES template.

No imports: the stack loads this file by path (``stacks/template_files.py``).
"""

from __future__ import annotations

import re

MAX_NAME = 64  # SES: 1 to 64 of A-Z a-z 0-9 _ -
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_-]{0,63}")


def ses_template_name(template: str, prefix: str) -> str:
    """``prefix + template`` for a name; an ARN as it is."""
    if template.startswith("arn:"):
        return template
    return prefix + template


def fits(template: str, prefix: str) -> bool:
    """Whether the name SES would store is at most 64 characters (an ARN always fits)."""
    return len(ses_template_name(template, prefix).rsplit("/", 1)[-1]) <= MAX_NAME
