"""The attachment bucket: the files messages attach (`attachments[].key`), read by the sender.

Private and encrypted: every public access blocked, objects owned by the bucket owner,
SSE-S3 at rest, TLS only. Kept when the stack is deleted (it holds the user's files).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_s3 as s3
from constructs import Construct


class AttachmentBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="The bucket holds campaign files that only this stack's sender reads, "
                "once per invocation; its reads are in the function's logs, and server access "
                "logs would need a second bucket that records nothing else",
            )
        )
