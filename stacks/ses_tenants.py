"""SES tenants (context ``tenants``): one per customer or brand, each with its own reputation
and automatic pause. With ``create_tenants`` the stack creates them and associates the sending
identities, the configuration set and the templates with each, since SES sends through a
tenant only with resources associated with it. The sender may name these tenants, and only
these (``ALLOWED_TENANTS``).
"""

from __future__ import annotations

from aws_cdk import aws_ses as ses
from constructs import Construct


class SesTenants(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tenants: tuple[str, ...],
        resource_arns: list[str],
        depends_on: list[Construct],
    ) -> None:
        super().__init__(scope, construct_id)
        self.tenants = {}
        for name in tenants:
            tenant = ses.CfnTenant(
                self,
                name,
                tenant_name=name,
                resource_associations=[
                    ses.CfnTenant.ResourceAssociationProperty(resource_arn=arn)
                    for arn in resource_arns
                ],
            )
            for construct in depends_on:
                tenant.node.add_dependency(construct)
            self.tenants[name] = tenant
