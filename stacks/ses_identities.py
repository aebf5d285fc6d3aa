"""The sending identities: the domains or addresses the function may send from.

The list (context ``sending_identities``) always scopes the function's ``ses:SendBulkEmail``.
With ``create_sending_identities`` the stack also creates them: a domain with Easy DKIM (its
three CNAME records then go into the domain's DNS), an address by SES's verification email.
Leave it false for identities that already exist in the account.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ses as ses
from constructs import Construct


def is_address(identity: str) -> bool:
    return "@" in identity


def identity_arn(stack: Stack, identity: str) -> str:
    """The ARN SES authorizes a send against, for a domain or an address identity."""
    return stack.format_arn(service="ses", resource="identity", resource_name=identity)


class SendingIdentities(Construct):
    """SES email identities, associated with the sender's configuration set."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        identities: tuple[str, ...],
        configuration_set: ses.IConfigurationSet,
    ) -> None:
        super().__init__(scope, construct_id)
        self.identities = {
            identity: ses.EmailIdentity(
                self,
                identity,
                identity=(
                    ses.Identity.email(identity)
                    if is_address(identity)
                    else ses.Identity.domain(identity)
                ),
                # Easy DKIM is EmailIdentity's default for a domain.
                configuration_set=configuration_set,
            )
            for identity in identities
        }
