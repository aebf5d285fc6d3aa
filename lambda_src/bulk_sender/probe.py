"""The pause probe: restarts the sender's event source mapping once SES allows sending.

Runs on a schedule (every 5 minutes in the stack). It reads the pause marker the sender
wrote (pause.py); without one there is nothing to do. With one, it asks SES whether sending
is allowed now (`ses_refusal`): if so it enables the mapping, then deletes the marker only if
it is still the one it read (same token: a sender that paused again meanwhile renewed it,
and its stop must stay backed), and logs `sending_resumed`; if not, it makes sure the
mapping is stopped (the sender's own stop may have failed) and waits for the next run. A
marker naming a configuration set the probe cannot check (deleted, or no longer allowed) is
reported (`pause_marker_unactionable`, metric PauseMarkersUnactionable) and does not hold
the other sets back: the probe decides by the account and the stack's set alone. The whole
state machine: docs/concepts/pause.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from bulk_sender.names import LogEvent
from bulk_sender.pause import Marker, MarkerStore

log = logging.getLogger(__name__)

SENDING, PAUSED, RESUMED = "sending", "paused", "resumed"
# SES's answers for a configuration set that does not exist (any more).
MISSING_SET_CODES = frozenset({"NotFoundException", "ConfigurationSetDoesNotExistException"})
ENABLED_STATES = frozenset({"Enabled", "Enabling", "Creating", "Updating"})


class Mapping(Protocol):
    def enabled(self) -> bool: ...
    def set_enabled(self, enabled: bool) -> None: ...


class MappingById:
    """The sender's event source mapping, by the UUID the stack gives the probe."""

    def __init__(self, lambda_client: Any, uuid: str) -> None:
        self._lambda = lambda_client
        self._uuid = uuid

    def enabled(self) -> bool:
        state = self._lambda.get_event_source_mapping(UUID=self._uuid).get("State", "")
        return state in ENABLED_STATES

    def set_enabled(self, enabled: bool) -> None:
        self._lambda.update_event_source_mapping(UUID=self._uuid, Enabled=enabled)


def ses_refusal(ses: Any, configuration_set: str | None) -> str | None:
    """Why SES would refuse a send now (a pause code), or None if it allows sending."""
    account = ses.get_account()
    if account.get("SendingEnabled") is False:
        return "ACCOUNT_SENDING_PAUSED"
    quota = account.get("SendQuota") or {}
    limit = float(quota.get("Max24HourSend", -1))
    if limit >= 0 and float(quota.get("SentLast24Hours", 0)) >= limit:
        return "ACCOUNT_DAILY_QUOTA_EXCEEDED"
    if configuration_set:
        options = ses.get_configuration_set(ConfigurationSetName=configuration_set).get(
            "SendingOptions"
        )
        if (options or {}).get("SendingEnabled") is False:
            return "CONFIGURATION_SET_SENDING_PAUSED"
    return None


@dataclass(frozen=True)
class ProbeResult:
    state: str  # sending (no pause), paused (SES still refuses), resumed (restarted now)
    reason: str = ""  # the pause's reason (paused, resumed) or SES's refusal now
    paused_seconds: float = 0.0
    # The marker named a configuration set the probe could not check (deleted or no longer
    # allowed): reported, and decided without it.
    unactionable: str | None = None


def probe(
    *,
    ses: Any,
    mapping: Mapping,
    markers: MarkerStore,
    default_configuration_set: str | None,
    allowed_configuration_sets: frozenset[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> ProbeResult:
    """One run of the probe (see the module doc). AWS errors propagate: the run fails,
    Lambda logs it, and the next scheduled run tries again."""
    marker = markers.get()
    if marker is None:
        return ProbeResult(SENDING)
    refusal, unactionable = _refusal(
        ses, marker, default_configuration_set, allowed_configuration_sets
    )
    paused_for = max(0.0, clock() - marker.paused_at)
    if refusal:
        if mapping.enabled():
            mapping.set_enabled(False)
            log.warning("mapping_stopped_by_probe", extra={"reason": refusal})
        return ProbeResult(PAUSED, refusal, paused_for, unactionable)
    mapping.set_enabled(True)
    if not markers.clear(marker):
        # A sender paused again after the read (its stop may come after our start): its
        # renewed marker stands, and the next run decides again.
        log.warning("pause_renewed_while_resuming", extra={"reason": marker.reason})
        return ProbeResult(PAUSED, marker.reason, paused_for, unactionable)
    log.warning(
        LogEvent.SENDING_RESUMED,
        extra={"reason": marker.reason, "paused_seconds": round(paused_for)},
    )
    return ProbeResult(RESUMED, marker.reason, paused_for, unactionable)


def _refusal(
    ses: Any,
    marker: Marker,
    default_configuration_set: str | None,
    allowed_configuration_sets: frozenset[str] | None,
) -> tuple[str | None, str | None]:
    """(SES's refusal now or None, the marker's set if it cannot be checked)."""
    refusal = ses_refusal(ses, default_configuration_set)
    named = marker.configuration_set
    if refusal or not named or named == default_configuration_set:
        return refusal, None
    if allowed_configuration_sets is not None and named not in allowed_configuration_sets:
        return None, _unactionable(named, "not an allowed configuration set")
    try:
        return ses_refusal(ses, named), None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in MISSING_SET_CODES:
            raise
        return None, _unactionable(named, "configuration set not found")


def _unactionable(configuration_set: str, why: str) -> str:
    log.error(
        LogEvent.PAUSE_MARKER_UNACTIONABLE,
        extra={"configuration_set": configuration_set, "why": why},
    )
    return configuration_set
