"""The configuration set's open and click tracking (context ``open_tracking``,
``click_tracking``).

SES tracks opens (a pixel) and clicks (rewritten links) for a message when its configuration
set has an event destination for OPEN or CLICK events, or VDM engagement metrics are on. Turning
one off removes that event type from every event destination of the configuration set and turns
the set's VDM engagement metrics off, whatever the account's setting. A message can still turn
tracking on or off for itself with its ``tracking`` field (``ConfigurationOverrides``).
"""

from __future__ import annotations

from aws_cdk import aws_ses as ses
from constructs import Construct

OPEN, CLICK = "open", "click"  # as CloudFormation spells the event types


def apply_tracking(scope: Construct, *, opens: bool, clicks: bool) -> None:
    """Filter OPEN / CLICK out of every event destination under `scope` where tracking is off."""
    off = {event for event, on in ((OPEN, opens), (CLICK, clicks)) if not on}
    if not off:
        return
    for construct in scope.node.find_all():
        if isinstance(construct, ses.CfnConfigurationSetEventDestination):
            destination = construct.event_destination
            kept = [event for event in destination.matching_event_types if event not in off]
            construct.add_property_override("EventDestination.MatchingEventTypes", kept)
        elif isinstance(construct, ses.CfnConfigurationSet):
            construct.add_property_override(
                "VdmOptions.DashboardOptions.EngagementMetrics", "DISABLED"
            )
