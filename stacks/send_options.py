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

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from bulk_sender.names import Env
from stacks.attachment_bucket import AttachmentBucket
from stacks.sender_function import SenderFunction
from stacks.ses_endpoint import GlobalEndpoint
from stacks.ses_tenants import SesTenants
from stacks.ses_tracking import apply_tracking
from stacks.settings import Settings

SEND_ACTIONS = ("ses:SendBulkEmail",)
TRACKING_OVERRIDE_ACTIONS = ("ses:ApplyTrackingConfigurationOverrides",)
ATTACHMENT_READ_ACTIONS = ("s3:GetObject",)


class SendOptions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        sender: SenderFunction,
        configuration_set_name: str,
        template_names: list[str],
        identity_arns: list[str],
        depends_on: list[Construct],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        function, role = sender.function, sender.role
        configuration_set_arn = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=configuration_set_name
        )
        # And those a message may name besides (allowed_configuration_sets).
        configuration_set_arns = [configuration_set_arn] + [
            stack.format_arn(service="ses", resource="configuration-set", resource_name=name)
            for name in dict.fromkeys(settings.allowed_configuration_sets)
        ]

        self.attachment_bucket = AttachmentBucket(self, "Attachments").bucket
        function.add_environment(Env.ATTACHMENT_BUCKET, self.attachment_bucket.bucket_name)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadAttachmentFiles",
                actions=list(ATTACHMENT_READ_ACTIONS),
                resources=[self.attachment_bucket.arn_for_objects("*")],
            )
        )
        bucket_id = stack.get_logical_id(self.attachment_bucket.node.default_child)
        acknowledgements = [
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                reason="Messages name any file of the stack's own attachment bucket in "
                "attachments[].key, so the function reads (GetObject only) that bucket's objects",
            )
        ]

        role.add_to_policy(
            iam.PolicyStatement(
                sid="ApplyPerMessageTrackingOverrides",
                actions=list(TRACKING_OVERRIDE_ACTIONS),
                resources=[
                    *identity_arns,
                    *settings.authorized_identity_arns,
                    *configuration_set_arns,
                ],
            )
        )
        apply_tracking(stack, opens=settings.open_tracking, clicks=settings.click_tracking)

        if settings.authorized_identity_arns:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="SendBulkEmailFromAuthorizedIdentities",
                    actions=list(SEND_ACTIONS),
                    resources=list(settings.authorized_identity_arns),
                )
            )

        self.tenants = None
        if settings.tenants:
            function.add_environment(Env.ALLOWED_TENANTS, ",".join(settings.tenants))
            if settings.create_tenants:
                template_arns = [
                    stack.format_arn(service="ses", resource="template", resource_name=name)
                    for name in template_names
                ]
                self.tenants = SesTenants(
                    self,
                    "Tenants",
                    tenants=settings.tenants,
                    resource_arns=[*identity_arns, *configuration_set_arns, *template_arns],
                    depends_on=depends_on,
                )
                tenant_arns = [tenant.attr_arn for tenant in self.tenants.tenants.values()]
            else:
                # An existing tenant's ARN ends in an id SES gave it: its name, any id.
                tenant_arns = [
                    stack.format_arn(service="ses", resource="tenant", resource_name=f"{name}/*")
                    for name in settings.tenants
                ]
                acknowledgements += [
                    Acknowledgment(
                        id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:"
                        f"<AWS::AccountId>:tenant/{name}/*]",
                        reason="An existing tenant's ARN ends in the id SES gave it at creation, "
                        "unknown to this stack: the statement names the tenant and allows any id",
                    )
                    for name in settings.tenants
                ]
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="SendBulkEmailThroughTheTenants",
                    actions=list(SEND_ACTIONS),
                    resources=tenant_arns,
                )
            )

        self.endpoint_id = settings.endpoint_id or None
        if settings.create_endpoint:
            self.endpoint_id = GlobalEndpoint(
                self, "GlobalEndpoint", secondary_region=settings.endpoint_secondary_region
            ).endpoint_id
        if self.endpoint_id:
            function.add_environment(Env.ENDPOINT_ID, self.endpoint_id)
        if settings.endpoint_secondary_region:
            acknowledgements.append(
                self._grant_second_region(settings, role, configuration_set_name)
            )
        Validations.of(role).acknowledge(*acknowledgements)

    @staticmethod
    def _grant_second_region(
        settings: Settings, role: iam.IRole, configuration_set_name: str
    ) -> Acknowledgment:
        """A global endpoint may hand a call to the second Region: the same identities,
        configuration set and templates must be sendable there."""
        stack = Stack.of(role)
        region = settings.endpoint_secondary_region

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
                    *(
                        arn("identity", identity)
                        for identity in dict.fromkeys(
                            settings.sending_identities + settings.sandbox_recipients
                        )
                    ),
                    *(
                        arn("configuration-set", name)
                        for name in dict.fromkeys(
                            [configuration_set_name, *settings.allowed_configuration_sets]
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
