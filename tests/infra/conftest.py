"""The stack, synthesized once per test session and shared by every infrastructure test.

jsii start-up and asset bundling dominate CDK tests, so the default app (cdk.json's context,
exactly what ``cdk synth`` builds, with cdk-nag's AwsSolutions pack registered) is synthesized
once. A second, cheaper synth without bundling covers the optional settings. Under
pytest-xdist the first worker to need a synth makes it and the others read its result.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.bulk_email_stack import build

REPO = Path(__file__).resolve().parents[2]
CDK_JSON = REPO / "cdk.json"
DASHBOARD_PAGE = REPO / "docs" / "operations" / "dashboard.md"


# The optional settings the default context leaves off, given as the CLI's -c would (text).
VARIANT_CONTEXT = {
    "alarm_email": "ops@example.com",
    "create_sending_identities": "false",
    "sending_identities": "news@example.org,example.net",
    "default_from": "News <news@example.org>",
    "default_template": "welcome",
    "default_tags": '{"source":"newsletter"}',
    "batch_size": "300",
    # Sending options (DESIGN section 11): an existing endpoint, tenants, authorization.
    "tenants": "brand-a,brand-b",
    "authorized_identity_arns": "arn:aws:ses:eu-west-1:111122223333:identity/partner.example",
    "endpoint_id": "abcd1234.ef5",
    "endpoint_secondary_region": "us-east-1",
    "open_tracking": "false",
    "sandbox_recipients": "ann@example.org,news@example.org,verified.example",
    "allowed_configuration_sets": "marketing,alerts",
    "template_prefix": "shop-",
    "unsubscribe_secret_readers": "arn:aws:iam::123456789012:role/Ops*",
    # Skip asset bundling: this app's code asset is not under test.
    "aws:cdk:bundling-stacks": [],
}


def cdk_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]


@dataclass
class Synthesized:
    """One synthesized app: its template, its validation outcome, its cloud assembly."""

    context: dict[str, Any]
    stack_name: str
    outdir: Path
    template: dict[str, Any]
    validation_error: str | None
    validation_report: dict[str, Any]
    acknowledgements: dict[str, str] = field(default_factory=dict)

    @cached_property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "outdir": str(self.outdir)})

    @classmethod
    def from_json(cls, text: str) -> Synthesized:
        values = json.loads(text)
        return cls(**{**values, "outdir": Path(values["outdir"])})

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def one(self, resource_type: str, path_fragment: str = "") -> tuple[str, dict[str, Any]]:
        """The one resource of that type (whose logical id contains the fragment, if given)."""
        fragment = re.sub(r"[^A-Za-z0-9]", "", path_fragment)
        found = {k: v for k, v in self.resources(resource_type).items() if fragment in k}
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, resource_type: str, path_fragment: str) -> str:
        """The logical id of the resource of that type whose id contains the fragment."""
        found = [
            logical_id
            for logical_id in self.resources(resource_type)
            if re.sub(r"[^A-Za-z0-9]", "", path_fragment) in logical_id
        ]
        assert len(found) == 1, f"{resource_type} matching {path_fragment!r}: {found}"
        return found[0]


def synthesize(context: dict[str, Any], outdir: Path, *, nag: bool) -> Synthesized:
    app = cdk.App(context=context, outdir=str(outdir))
    stack = build(app)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # a failed validation still writes the template and report
        error = str(exc)
    report_path = outdir / "validation-report.json"
    acknowledgements = {
        rule: reason
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
    }
    return Synthesized(
        context=context,
        stack_name=stack.stack_name,
        outdir=outdir,
        template=json.loads(
            (outdir / f"{stack.stack_name}.template.json").read_text(encoding="utf-8")
        ),
        validation_error=error,
        validation_report=(
            json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
        ),
        acknowledgements=acknowledgements,
    )


def _once(
    factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Synthesized]
) -> Synthesized:
    """``make`` run once per test run, even across pytest-xdist workers."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make(factory.mktemp(name))
    import fcntl  # POSIX: the workers share a lock file in the run's base directory

    root = factory.getbasetemp().parent
    result = root / f"{name}.json"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            return Synthesized.from_json(result.read_text(encoding="utf-8"))
        synthesized = make(root / name)
        result.write_text(synthesized.to_json(), encoding="utf-8")
        return synthesized


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default app: cdk.json's context, bundled asset, cdk-nag registered."""
    return _once(
        tmp_path_factory, "cdk.out", lambda outdir: synthesize(cdk_context(), outdir, nag=True)
    )


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app with the optional settings on (alarm email, defaults, existing identities)."""
    context = {**cdk_context(), **VARIANT_CONTEXT}
    return _once(
        tmp_path_factory,
        "cdk.out.variant",
        lambda outdir: synthesize(context, outdir, nag=True),
    )


@pytest.fixture(scope="session")
def template(synth: Synthesized) -> dict[str, Any]:
    return synth.template


@pytest.fixture(scope="session")
def context() -> dict[str, Any]:
    return cdk_context()
