"""The customer-managed KMS key that encrypts the ``Events`` and ``Alarms`` topics.

SES and CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its
policy cannot be changed), so both topics share one customer-managed key whose policy lets
``ses.amazonaws.com`` and ``cloudwatch.amazonaws.com`` use it (DESIGN section 7).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

PUBLISHING_SERVICES = ("ses.amazonaws.com", "cloudwatch.amazonaws.com")
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


class NotificationKey(Construct):
    """A rotating key; SES and CloudWatch may generate data keys with it to publish."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the bulk email sender's Events and Alarms SNS topics",
            enable_key_rotation=True,
            # Deleting the stack schedules the key's deletion (after KMS's waiting period).
            removal_policy=RemovalPolicy.DESTROY,
        )
        # In a key policy, "*" is this key. The topics' own policies decide who may publish;
        # this statement only lets the two publishing services encrypt what they publish.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSesAndCloudWatchToPublishToEncryptedTopics",
                principals=[iam.ServicePrincipal(service) for service in PUBLISHING_SERVICES],
                actions=list(PUBLISHER_KEY_ACTIONS),
                resources=["*"],
            )
        )
