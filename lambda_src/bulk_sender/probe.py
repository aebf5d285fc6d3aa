"""The pause probe: restarts the sender's event source mapping once SES allows sending.

Runs on a schedule (every 5 minutes in the stack). It reads the pause marker the sender
wrote (pause.py); without one there is nothing to do. With one, it asks SES whether sending
is allowed now (`ses_refusal`): if so it enables the mapping, then deletes the marker (in
that order: a failure in between leaves the marker, and the next run finishes the job) and
logs `sending_resumed`; if not, it makes sure the mapping is stopped (the sender's own stop
may have failed) and waits for the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bulk_sender.pause import Marker, MarkerStore

log = logging.getLogger(__name__)

SENDING, PAUSED, RESUMED = "sending", "paused", "resumed"
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


def probe(
    *,
    ses: Any,
    mapping: Mapping,
    markers: MarkerStore,
    default_configuration_set: str | None,
    clock: Callable[[], float] = time.time,
) -> ProbeResult:
    """One run of the probe (see the module doc). AWS errors propagate: the run fails,
    Lambda logs it, and the next scheduled run tries again."""
    marker = markers.get()
    if marker is None:
        return ProbeResult(SENDING)
    refusal = _refusal(ses, marker, default_configuration_set)
    paused_for = max(0.0, clock() - marker.paused_at)
    if refusal:
        if mapping.enabled():
            mapping.set_enabled(False)
            log.warning("mapping_stopped_by_probe", extra={"reason": refusal})
        return ProbeResult(PAUSED, refusal, paused_for)
    mapping.set_enabled(True)
    markers.clear()
    log.warning(
        "sending_resumed",
        extra={"reason": marker.reason, "paused_seconds": round(paused_for)},
    )
    return ProbeResult(RESUMED, marker.reason, paused_for)


def _refusal(ses: Any, marker: Marker, default_configuration_set: str | None) -> str | None:
    refusal = ses_refusal(ses, default_configuration_set)
    if (
        refusal
        or not marker.configuration_set
        or marker.configuration_set == default_configuration_set
    ):
        return refusal
    return ses_refusal(ses, marker.configuration_set)
