"""`python -m bulkmail doctor`: the account and the stack, checked before a first campaign.

Each check reads (never writes) SES v2 and SNS and says `ok`, `warn` or `fail`, with what to do:
- the account: out of the sandbox (`GetAccount` ProductionAccessEnabled), sending enabled, not
  under enforcement, and its quota (a day's sends left, the rate);
- each sending identity (`sending_identities` in cdk.json, or --identity): verified for
  sending, and for a domain, DKIM signing verified (`DkimAttributes.Status` SUCCESS);
- the stack's configuration set: exists, sending not paused;
- the Alarms topic: someone confirmed a subscription.
The exit code is 1 when anything fails, else 0 (warnings included).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import ClientError

from bulkmail import ROOT, target

OK, WARN, FAIL = "ok", "warn", "fail"
SANDBOX_DAILY = 200  # the sandbox's quota (emails a day), and one a second
PENDING = "PendingConfirmation"


@dataclass(frozen=True)
class Finding:
    status: str  # ok, warn or fail
    subject: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.subject}: {self.detail}"


def check_account(ses: Any, *, sandbox_recipients: Sequence[str] | None) -> list[Finding]:
    account = ses.get_account()
    findings: list[Finding] = []
    if account.get("ProductionAccessEnabled"):
        findings.append(Finding(OK, "account", "out of the SES sandbox (production access)"))
    else:
        hint = (
            "set the context key sandbox_recipients to the verified addresses you test with"
            if not sandbox_recipients
            else f"sandbox_recipients lists {len(sandbox_recipients)} verified recipient(s)"
        )
        findings.append(
            Finding(
                WARN,
                "account",
                f"in the SES sandbox: mail only to verified addresses, {SANDBOX_DAILY} a day, "
                "1 a second; request production access in the SES console (Account "
                f"dashboard) before a real campaign; meanwhile {hint}",
            )
        )
    if account.get("SendingEnabled") is not False:
        findings.append(Finding(OK, "sending", "enabled for the account"))
    else:
        findings.append(
            Finding(
                FAIL,
                "sending",
                "paused for the account: the sender waits until it is enabled again (see the "
                "SES console's Reputation metrics, then `aws sesv2 put-account-sending-"
                "attributes --sending-enabled`)",
            )
        )
    enforcement = account.get("EnforcementStatus", "HEALTHY")
    if enforcement != "HEALTHY":
        status = FAIL if enforcement == "SHUTDOWN" else WARN
        findings.append(
            Finding(status, "enforcement", f"{enforcement}: read the SES console's notices")
        )
    findings.append(_quota(account.get("SendQuota") or {}))
    return findings


def _quota(quota: dict[str, Any]) -> Finding:
    daily = quota.get("Max24HourSend", 0.0)
    sent = quota.get("SentLast24Hours", 0.0)
    rate = quota.get("MaxSendRate", 0.0)
    text = f"{daily:,.0f} emails a day ({sent:,.0f} sent in the last 24 h), {rate:g} a second"
    if daily >= 0 and sent >= daily:
        return Finding(FAIL, "quota", f"{text}: spent; the sender waits for the window to roll")
    return Finding(OK, "quota", text)


def check_identities(
    ses: Any, identities: Iterable[str], *, role: str = "identity"
) -> list[Finding]:
    """Each identity verified (a domain's DKIM too); `role` names them in the lines."""
    findings = []
    for identity in identities:
        try:
            found = ses.get_email_identity(EmailIdentity=identity)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise
            findings.append(
                Finding(
                    FAIL,
                    f"{role} {identity}",
                    "not in SES in this Region: deploy the stack (create_sending_identities) or "
                    "create it in the SES console",
                )
            )
            continue
        findings.append(_identity(identity, found, role))
    return findings


def _identity(identity: str, found: dict[str, Any], role: str) -> Finding:
    """Not verified: fail. A domain verified but without DKIM verified: warn (mail is sent
    unsigned by the domain, and lands in spam more often)."""
    subject = f"{role} {identity}"
    domain = found.get("IdentityType", "DOMAIN") == "DOMAIN"
    dkim = found.get("DkimAttributes") or {}
    status = dkim.get("Status", "NOT_STARTED")
    records = (
        "; ".join(
            f"{token}._domainkey.{identity} CNAME {token}.dkim.amazonses.com"
            for token in dkim.get("Tokens") or []
        )
        or "the three CNAME records the SES console (or the stack's DKIM outputs) shows"
    )
    dns = f"DKIM {status}: add to the domain's DNS {records} (SES checks for up to 72 hours)"
    if not found.get("VerifiedForSendingStatus"):
        how = dns if domain else "follow the link in the email SES sent to it"
        return Finding(FAIL, subject, f"not verified for sending: {how}")
    if domain and status != "SUCCESS":
        return Finding(WARN, subject, f"verified, but {dns}")
    return Finding(OK, subject, "verified" + (", DKIM signing on" if domain else ""))


def check_configuration_set(ses: Any, name: str | None) -> list[Finding]:
    if not name:
        return [Finding(WARN, "configuration set", "unknown: give --stack, --local or its name")]
    try:
        found = ses.get_configuration_set(ConfigurationSetName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NotFoundException":
            raise
        return [Finding(FAIL, f"configuration set {name}", "does not exist: deploy the stack")]
    if (found.get("SendingOptions") or {}).get("SendingEnabled") is False:
        return [
            Finding(
                FAIL,
                f"configuration set {name}",
                "sending paused: `aws sesv2 put-configuration-set-sending-options "
                f"--configuration-set-name {name} --sending-enabled`",
            )
        ]
    return [Finding(OK, f"configuration set {name}", "exists, sending enabled")]


def check_alarm_subscription(sns: Any, topic_arn: str | None) -> list[Finding]:
    if not topic_arn:
        return [Finding(WARN, "alarms", "topic unknown: give --stack, --local or its ARN")]
    subscriptions = []
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    for page in pages:
        subscriptions += page.get("Subscriptions", [])
    confirmed = [s for s in subscriptions if s.get("SubscriptionArn") != PENDING]
    if confirmed:
        return [Finding(OK, "alarms", f"{len(confirmed)} confirmed subscription(s)")]
    if subscriptions:
        return [Finding(WARN, "alarms", "subscription pending: confirm the email SNS sent")]
    return [
        Finding(WARN, "alarms", "nobody is subscribed: set alarm_email in cdk.json and redeploy")
    ]


def _checked(subject: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    """A check AWS refuses to answer (access denied, ...) fails by itself, not the rest."""
    try:
        return check()
    except ClientError as error:
        info = error.response.get("Error", {})
        return [Finding(FAIL, subject, f"cannot check: {info.get('Code')}: {info.get('Message')}")]


def context_defaults(path: Path = ROOT / "cdk.json") -> dict[str, Any]:
    """cdk.json's context: the identities the stack sends from, the sandbox's recipients."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("context", {})
    except (OSError, ValueError):
        return {}


def doctor(
    stack: target.StackOption = None,
    local: target.LocalOption = False,
    identity: Annotated[
        list[str] | None,
        typer.Option(
            "--identity",
            help="A sending identity to check (default: cdk.json's sending_identities).",
        ),
    ] = None,
    configuration_set: Annotated[
        str | None, typer.Option(help="The configuration set (default: the stack's output).")
    ] = None,
    alarms_topic_arn: Annotated[
        str | None, typer.Option(help="The Alarms topic (default: the stack's output).")
    ] = None,
) -> None:
    """Check the account and the stack before a first campaign.

    Sandbox, sending enabled, quota, each sending identity verified (and a domain's DKIM),
    the configuration set, and a confirmed subscription to the alarms. Each line says ok,
    warn or fail and what to do; exit code 1 if anything fails.

    Example:

        python -m bulkmail doctor --stack BulkEmailSender
    """
    outputs = target.outputs(stack=stack, local=local)
    context = context_defaults()
    identities = identity or list(context.get("sending_identities") or [])
    ses, sns = boto3.client("sesv2"), boto3.client("sns")
    recipients = list(context.get("sandbox_recipients") or [])
    account = _checked("account", lambda: check_account(ses, sandbox_recipients=recipients))
    in_sandbox = any(f.subject == "account" and f.status != OK for f in account)
    set_name = configuration_set or outputs.get(target.CONFIGURATION_SET)
    topic = alarms_topic_arn or outputs.get(target.ALARMS_TOPIC)
    findings = [
        *account,
        *_checked("identities", lambda: check_identities(ses, identities)),
        *_checked(
            "sandbox recipients",
            lambda: (
                check_identities(ses, recipients, role="sandbox recipient") if in_sandbox else []
            ),
        ),
        *_checked("configuration set", lambda: check_configuration_set(ses, set_name)),
        *_checked("alarms", lambda: check_alarm_subscription(sns, topic)),
    ]
    for finding in findings:
        typer.echo(finding.line())
    failed = sum(finding.status == FAIL for finding in findings)
    warned = sum(finding.status == WARN for finding in findings)
    verdict = "ready for a first campaign" if not failed else "fix what failed first"
    typer.echo(f"doctor: {failed} failed, {warned} warning(s): {verdict}")
    if failed:
        raise typer.Exit(1)
