"""Where SendBulkEmail's per-call options meet the sender (DESIGN.md section 11): the
attachment bucket, tenants, the multi-region endpoint, sending authorization and tracking.

Each piece is its own construct (attachment_bucket.py, ses_tenants.py, ses_endpoint.py,
ses_tracking.py); this one creates those the context asks for, gives the function the
settings that name them, and grants it exactly what they need:

- ``s3:GetObject`` on the attachment bucket's objects;
- ``ses:SendBulkEmail`` on the other accounts' identities it is authorized to send from
  (``authorized_identity_arns``), on its tenants, and, with a multi-region endpoint, on the
  identities, configuration set and templates in the second Region;
- ``ses:ApplyTrackingConfigurationOverrides`` (a message's ``tracking``) on the identities and
  the configuration set.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from bulk_sender.names import Env
from stacks.attachment_bucket import AttachmentBucket
from stacks.sender_function import SenderFunction
from stacks.ses_endpoint import GlobalEndpoint
from stacks.ses_tenants import SesTenants
from stacks.ses_tracking import apply_tracking

SEND_ACTIONS = ("ses:SendBulkEmail",)
TRACKING_OVERRIDE_ACTIONS = ("ses:ApplyTrackingConfigurationOverrides",)
ATTACHMENT_READ_ACTIONS = ("s3:GetObject",)


@dataclass(frozen=True)
class EndpointOptions:
    """The multi-region endpoint: an existing one's id, or one to create (`create`) with its
    second Region, and the identities sendable from there (sending identities, and in the
    sandbox each recipient's)."""

    endpoint_id: str
    create: bool
    secondary_region: str
    second_region_identities: tuple[str, ...]


class SendOptions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        sender: SenderFunction,
        configuration_set_name: str,
        allowed_configuration_sets: tuple[str, ...],
        template_names: list[str],
        identity_arns: list[str],
        authorized_identity_arns: tuple[str, ...],
        open_tracking: bool,
        click_tracking: bool,
        tenants: tuple[str, ...],
        create_tenants: bool,
        endpoint: EndpointOptions,
        depends_on: list[Construct],
    ) -> None:
        super().__init__(scope, construct_id)
        function, role = sender.function, sender.role
        configuration_set_arns = self._configuration_set_arns(
            configuration_set_name, allowed_configuration_sets
        )
        acknowledgements = [self._attachments(sender)]
        self._grant_tracking_overrides(
            role,
            resource_arns=[*identity_arns, *authorized_identity_arns, *configuration_set_arns],
            opens=open_tracking,
            clicks=click_tracking,
        )
        self._grant_authorized_identities(role, authorized_identity_arns)
        self.tenants = None
        if tenants:
            function.add_environment(Env.ALLOWED_TENANTS, ",".join(tenants))
            acknowledgements += self._grant_tenants(
                role,
                tenants=tenants,
                create=create_tenants,
                resource_arns=[*identity_arns, *configuration_set_arns],
                template_names=template_names,
                depends_on=depends_on,
            )
        self.endpoint_id = self._endpoint(sender, endpoint)
        if endpoint.secondary_region:
            acknowledgements.append(
                self._grant_second_region(
                    endpoint.secondary_region,
                    role,
                    configuration_set_name=configuration_set_name,
                    allowed_configuration_sets=allowed_configuration_sets,
                    identities=endpoint.second_region_identities,
                )
            )
        Validations.of(role).acknowledge(*acknowledgements)

    def _configuration_set_arns(
        self, configuration_set_name: str, allowed_configuration_sets: tuple[str, ...]
    ) -> list[str]:
        """The stack's configuration set, and those a message may name besides."""
        stack = Stack.of(self)
        return [
            stack.format_arn(service="ses", resource="configuration-set", resource_name=name)
            for name in [configuration_set_name, *dict.fromkeys(allowed_configuration_sets)]
        ]

    def _grant_tracking_overrides(
        self, role: iam.IRole, *, resource_arns: list[str], opens: bool, clicks: bool
    ) -> None:
        """Per-message tracking overrides on these resources; the stack's tracking defaults."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ApplyPerMessageTrackingOverrides",
                actions=list(TRACKING_OVERRIDE_ACTIONS),
                resources=resource_arns,
            )
        )
        apply_tracking(Stack.of(self), opens=opens, clicks=clicks)

    @staticmethod
    def _grant_authorized_identities(
        role: iam.IRole, authorized_identity_arns: tuple[str, ...]
    ) -> None:
        """Sending from identities other accounts authorized (sending authorization)."""
        if authorized_identity_arns:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="SendBulkEmailFromAuthorizedIdentities",
                    actions=list(SEND_ACTIONS),
                    resources=list(authorized_identity_arns),
                )
            )

    def _attachments(self, sender: SenderFunction) -> Acknowledgment:
        """The attachment bucket, which the sender reads (GetObject only)."""
        self.attachment_bucket = AttachmentBucket(self, "Attachments").bucket
        sender.function.add_environment(Env.ATTACHMENT_BUCKET, self.attachment_bucket.bucket_name)
        sender.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadAttachmentFiles",
                actions=list(ATTACHMENT_READ_ACTIONS),
                resources=[self.attachment_bucket.arn_for_objects("*")],
            )
        )
        bucket_id = Stack.of(self).get_logical_id(self.attachment_bucket.node.default_child)
        return Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
            reason="Messages name any file of the stack's own attachment bucket in "
            "attachments[].key, so the function reads (GetObject only) that bucket's objects",
        )

    def _grant_tenants(
        self,
        role: iam.IRole,
        *,
        tenants: tuple[str, ...],
        create: bool,
        resource_arns: list[str],
        template_names: list[str],
        depends_on: list[Construct],
    ) -> list[Acknowledgment]:
        """Sending through the tenants: created here (with their resources), or existing."""
        stack = Stack.of(self)
        acknowledgements: list[Acknowledgment] = []
        if create:
            template_arns = [
                stack.format_arn(service="ses", resource="template", resource_name=name)
                for name in template_names
            ]
            self.tenants = SesTenants(
                self,
                "Tenants",
                tenants=tenants,
                resource_arns=[*resource_arns, *template_arns],
                depends_on=depends_on,
            )
            tenant_arns = [tenant.attr_arn for tenant in self.tenants.tenants.values()]
        else:
            # An existing tenant's ARN ends in an id SES gave it: its name, any id.
            tenant_arns = [
                stack.format_arn(service="ses", resource="tenant", resource_name=f"{name}/*")
                for name in tenants
            ]
            acknowledgements += [
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:"
                    f"<AWS::AccountId>:tenant/{name}/*]",
                    reason="An existing tenant's ARN ends in the id SES gave it at creation, "
                    "unknown to this stack: the statement names the tenant and allows any id",
                )
                for name in tenants
            ]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendBulkEmailThroughTheTenants",
                actions=list(SEND_ACTIONS),
                resources=tenant_arns,
            )
        )
        return acknowledgements

    def _endpoint(self, sender: SenderFunction, endpoint: EndpointOptions) -> str | None:
        """The multi-region endpoint the sender sends through, created here or existing."""
        endpoint_id = endpoint.endpoint_id or None
        if endpoint.create:
            endpoint_id = GlobalEndpoint(
                self, "GlobalEndpoint", secondary_region=endpoint.secondary_region
            ).endpoint_id
        if endpoint_id:
            sender.function.add_environment(Env.ENDPOINT_ID, endpoint_id)
        return endpoint_id

    @staticmethod
    def _grant_second_region(
        region: str,
        role: iam.IRole,
        *,
        configuration_set_name: str,
        allowed_configuration_sets: tuple[str, ...],
        identities: tuple[str, ...],
    ) -> Acknowledgment:
        """A global endpoint may hand a call to the second Region: the same identities,
        configuration set and templates must be sendable there."""
        stack = Stack.of(role)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(
                service="ses", region=region, resource=resource, resource_name=name
            )

        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendBulkEmailInTheSecondRegion",
                actions=list(SEND_ACTIONS),
                # What this Region's grant covers (sender_function.py), in the other Region.
                resources=[
                    *(arn("identity", identity) for identity in dict.fromkeys(identities)),
                    *(
                        arn("configuration-set", name)
                        for name in dict.fromkeys(
                            [configuration_set_name, *allowed_configuration_sets]
                        )
                    ),
                    arn("template", "*"),
                ],
            )
        )
        return Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:{region}:"
            "<AWS::AccountId>:template/*]",
            reason="Through the multi-region endpoint a call may be sent from the second "
            "Region, with any stored template a message names, as in this Region",
        )
