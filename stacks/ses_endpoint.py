"""The multi-region (global) endpoint: SES splits sending across this Region and a second one
and fails over between them (context ``endpoint_secondary_region``).

CloudFormation's AWS::SES::MultiRegionEndpoint returns only its name, and the sender needs
its id (``ENDPOINT_ID``): a custom resource reads it with GetMultiRegionEndpoint, allowed on
this endpoint only.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Names, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from aws_cdk import custom_resources as cr
from constructs import Construct

# The id CDK gives the singleton function behind every AwsCustomResource of a stack.
PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"


class GlobalEndpoint(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, secondary_region: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = Names.unique_id(self)[-64:]
        endpoint = ses.CfnMultiRegionEndpoint(
            self,
            "Endpoint",
            endpoint_name=name,
            details=ses.CfnMultiRegionEndpoint.DetailsProperty(
                route_details=[
                    ses.CfnMultiRegionEndpoint.RouteDetailsItemsProperty(region=secondary_region)
                ]
            ),
        )
        arn = stack.format_arn(service="ses", resource="multi-region-endpoint", resource_name=name)
        call = cr.AwsSdkCall(
            service="SESv2",
            action="GetMultiRegionEndpoint",
            parameters={"EndpointName": name},
            physical_resource_id=cr.PhysicalResourceId.of(name),
            output_paths=["EndpointId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "Id",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ses:GetMultiRegionEndpoint"], resources=[arn])]
            ),
            install_latest_aws_sdk=False,
        )
        lookup.node.add_dependency(endpoint)
        self.endpoint_id = lookup.get_response_field("EndpointId")
        # The custom resource's provider: CDK's one function per stack for AwsCustomResource.
        provider = stack.node.find_child(PROVIDER_ID)
        Validations.of(provider).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "service-role/AWSLambdaBasicExecutionRole]",
                reason="CDK's AwsCustomResource provider writes its logs with the basic execution "
                "role; its one other permission is GetMultiRegionEndpoint on this endpoint",
            )
        )
