"""The configuration set's open and click tracking (context ``open_tracking``,
``click_tracking``).

SES tracks opens (a pixel) and clicks (rewritten links) for a message when its configuration
set has an event destination for OPEN or CLICK events, or VDM engagement metrics are on. Turning
one off removes that event type from every event destination of the configuration set and turns
the set's VDM engagement metrics off, whatever the account's setting. A message can still turn
tracking on or off for itself with its ``tracking`` field (``ConfigurationOverrides``).

An aspect does it, so that it covers every event destination of the stack, whichever construct
adds it and whenever.
"""

from __future__ import annotations

import jsii
from aws_cdk import AspectPriority, Aspects, IAspect
from aws_cdk import aws_ses as ses
from constructs import Construct, IConstruct

OPEN, CLICK = "open", "click"  # as CloudFormation spells the event types


@jsii.implements(IAspect)
class _TrackingOff:
    def __init__(self, off: frozenset[str]) -> None:
        self._off = off

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, ses.CfnConfigurationSetEventDestination):
            events = node.event_destination.matching_event_types
            kept = [event for event in events if event not in self._off]
            node.add_property_override("EventDestination.MatchingEventTypes", kept)
        elif isinstance(node, ses.CfnConfigurationSet):
            node.add_property_override("VdmOptions.DashboardOptions.EngagementMetrics", "DISABLED")


def apply_tracking(scope: Construct, *, opens: bool, clicks: bool) -> None:
    """Filter OPEN / CLICK out of every event destination under `scope` where tracking is off."""
    off = frozenset(event for event, on in ((OPEN, opens), (CLICK, clicks)) if not on)
    if off:
        Aspects.of(scope).add(_TrackingOff(off), priority=AspectPriority.MUTATING)
