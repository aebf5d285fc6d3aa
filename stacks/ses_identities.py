"""The sending identities: the domains or addresses the function may send from.

The list (context ``sending_identities``) always scopes the function's ``ses:SendBulkEmail``.
With ``create_sending_identities`` the stack also creates them: a domain with Easy DKIM (its
three CNAME records then go into the domain's DNS), an address by SES's verification email.
Leave it false for identities that already exist in the account.

The identities it creates are kept on ``cdk destroy`` (their DKIM records in DNS stay valid,
and a verified address stays verified); a domain's three DKIM CNAME records are stack outputs.
"""

from __future__ import annotations

import re

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ses as ses
from constructs import Construct


def is_address(identity: str) -> bool:
    return "@" in identity


def dkim_output_id(domain: str) -> str:
    """The stack output holding a domain's DKIM records: ``DkimRecords`` + the domain in
    PascalCase, e.g. ``DkimRecordsMailExampleCom`` for mail.example.com."""
    words = re.split(r"[^A-Za-z0-9]+", domain)
    return "DkimRecords" + "".join(word[:1].upper() + word[1:] for word in words)


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
        for created in self.identities.values():
            created.apply_removal_policy(RemovalPolicy.RETAIN)

    def dkim_records(self) -> dict[str, str]:
        """Per domain, its three Easy DKIM CNAME records: ``NAME CNAME VALUE``, comma-separated."""
        return {
            identity: ",".join(
                f"{name} CNAME {value}"
                for name, value in (
                    (created.dkim_dns_token_name1, created.dkim_dns_token_value1),
                    (created.dkim_dns_token_name2, created.dkim_dns_token_value2),
                    (created.dkim_dns_token_name3, created.dkim_dns_token_value3),
                )
            )
            for identity, created in self.identities.items()
            if not is_address(identity)
        }
