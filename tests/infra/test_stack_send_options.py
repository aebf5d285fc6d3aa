"""SendBulkEmail's per-call options in the stack (DESIGN.md section 11): the attachment
bucket, tenants, the multi-region endpoint, sending authorization and open/click tracking."""

import aws_cdk as cdk
import pytest

from stacks.settings import Settings, SettingsError
from tests.infra.cfn import arn_of, as_list, by_sid, granting, ref, text
from tests.infra.conftest import _once, cdk_context, synthesize

PARTNER = "arn:aws:ses:eu-west-1:111122223333:identity/partner.example"


def _sender(synth):
    functions = {
        logical_id: resource
        for logical_id, resource in synth.resources("AWS::Lambda::Function").items()
        if resource["Properties"].get("Handler") == "handler.lambda_handler"
    }
    ((logical_id, function),) = functions.items()
    return logical_id, function["Properties"]["Environment"]["Variables"]


def _policy(synth):
    return synth.resources("AWS::IAM::Policy")[synth.logical_id("AWS::IAM::Policy", "SenderRole")]


def _ses_arn(resource, region="${AWS::Region}"):
    return f"arn:${{AWS::Partition}}:ses:{region}:${{AWS::AccountId}}:{resource}"


def _nag_violations(synth):
    return [
        (violation["ruleName"], construct["constructPath"])
        for report in synth.validation_report.get("pluginReports", [])
        for violation in report.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]


@pytest.fixture(scope="module")
def endpoint_app(tmp_path_factory):
    """The app that creates its multi-region endpoint (no id given), cdk-nag registered."""
    context = {
        **cdk_context(),
        "endpoint_secondary_region": "us-east-1",
        "aws:cdk:bundling-stacks": [],
    }
    return _once(
        tmp_path_factory,
        "cdk.out.endpoint",
        lambda outdir: synthesize(context, outdir, nag=True),
    )


# -- attachments ----------------------------------------------------------------------------


def test_the_attachment_bucket_is_private_encrypted_and_tls_only(synth):
    # Given the default app's attachment bucket
    bucket, resource = synth.one("AWS::S3::Bucket", "SendOptionsAttachments")
    properties = resource["Properties"]
    # Then every public access is blocked, objects are the owner's, encrypted at rest
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # And its policy denies any request without TLS
    _, policy = synth.one("AWS::S3::BucketPolicy", "SendOptionsAttachments")
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # And the user's files survive the stack
    assert resource["DeletionPolicy"] == "Retain"
    # And the CLI finds it by its output
    assert synth.template["Outputs"]["AttachmentBucketName"]["Value"] == ref(bucket)


def test_the_function_reads_the_bucket_s_objects_and_nothing_else_in_s3(synth):
    bucket = synth.one("AWS::S3::Bucket", "SendOptionsAttachments")[0]
    _, env = _sender(synth)
    assert env["ATTACHMENT_BUCKET"] == ref(bucket)
    policy = _policy(synth)
    statement = by_sid(policy, "ReadAttachmentFiles")
    assert as_list(statement["Action"]) == ["s3:GetObject"]
    assert text(statement["Resource"]) == f"${{{bucket}.Arn}}/*"
    s3 = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "s3:" in str(s["Action"])
    ]
    assert s3 == [statement]


# -- defaults: no tenant, no endpoint, tracking on ------------------------------------------


def test_by_default_no_tenant_no_endpoint_and_opens_and_clicks_are_tracked(synth):
    _, env = _sender(synth)
    assert not {"ALLOWED_TENANTS", "ENDPOINT_ID"} & set(env)
    assert not synth.resources("AWS::SES::Tenant")
    assert not synth.resources("AWS::SES::MultiRegionEndpoint")
    cloudwatch = synth.resources("AWS::SES::ConfigurationSetEventDestination")[
        synth.logical_id("AWS::SES::ConfigurationSetEventDestination", "CloudWatch")
    ]
    events = cloudwatch["Properties"]["EventDestination"]["MatchingEventTypes"]
    assert {"open", "click"} <= set(events)


def test_a_message_s_tracking_override_is_allowed_on_identities_and_configuration_set(synth):
    statement = by_sid(_policy(synth), "ApplyPerMessageTrackingOverrides")
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    assert as_list(statement["Action"]) == ["ses:ApplyTrackingConfigurationOverrides"]
    assert sorted(text(r) for r in as_list(statement["Resource"])) == sorted(
        [
            _ses_arn("identity/example.com"),
            _ses_arn(f"configuration-set/${{{configuration_set}}}"),
        ]
    )


# -- the variant: tenants, authorization, an existing endpoint, open tracking off ----------


def test_tenants_are_created_with_identities_configuration_set_and_templates(variant):
    # Given tenants brand-a and brand-b in the context
    tenants = variant.resources("AWS::SES::Tenant")
    configuration_set = variant.one("AWS::SES::ConfigurationSet")[0]
    # Then each exists, associated with every resource its sends may use: the identities, the
    # stack's and the allowed configuration sets, the templates (under template_prefix)
    expected = sorted(
        [
            _ses_arn("identity/news@example.org"),
            _ses_arn("identity/example.net"),
            _ses_arn(f"configuration-set/${{{configuration_set}}}"),
            _ses_arn("configuration-set/marketing"),
            _ses_arn("configuration-set/alerts"),
            _ses_arn("template/shop-welcome"),
        ]
    )
    assert sorted(t["Properties"]["TenantName"] for t in tenants.values()) == ["brand-a", "brand-b"]
    for tenant in tenants.values():
        associations = tenant["Properties"]["ResourceAssociations"]
        assert sorted(text(a["ResourceArn"]) for a in associations) == expected
        # And it is created after the templates and configuration set it names
        assert configuration_set in tenant["DependsOn"]
    # And the function may name them, and send through them only
    _, env = _sender(variant)
    assert env["ALLOWED_TENANTS"] == "brand-a,brand-b"
    statement = by_sid(_policy(variant), "SendBulkEmailThroughTheTenants")
    assert as_list(statement["Action"]) == ["ses:SendBulkEmail"]
    assert sorted(map(str, as_list(statement["Resource"]))) == sorted(
        str(arn_of(logical_id)) for logical_id in tenants
    )


def test_sending_authorization_grants_exactly_the_listed_identities(variant):
    policy = _policy(variant)
    statement = by_sid(policy, "SendBulkEmailFromAuthorizedIdentities")
    assert as_list(statement["Action"]) == ["ses:SendBulkEmail"]
    assert as_list(statement["Resource"]) == [PARTNER]
    # And the other account's identity appears in no other send statement
    others = [s for s in granting(policy, "ses:SendBulkEmail") if s is not statement]
    assert all(PARTNER not in as_list(s["Resource"]) for s in others)


def test_an_existing_endpoint_id_reaches_the_function_and_the_second_region_is_granted(variant):
    # Given endpoint_id and its second Region in the context
    _, env = _sender(variant)
    # Then the function sends through it, and no endpoint is created
    assert env["ENDPOINT_ID"] == "abcd1234.ef5"
    assert not variant.resources("AWS::SES::MultiRegionEndpoint")
    # And it may send there what it may send here: the identities, the sandbox's recipients,
    # every allowed configuration set, the templates (else a call routed there is refused
    # with AccessDenied and its whole group dead-lettered)
    statement = by_sid(_policy(variant), "SendBulkEmailInTheSecondRegion")
    configuration_set = variant.one("AWS::SES::ConfigurationSet")[0]
    assert sorted(text(r) for r in as_list(statement["Resource"])) == sorted(
        [
            _ses_arn("identity/news@example.org", "us-east-1"),
            _ses_arn("identity/example.net", "us-east-1"),
            _ses_arn("identity/ann@example.org", "us-east-1"),
            _ses_arn("identity/verified.example", "us-east-1"),
            _ses_arn(f"configuration-set/${{{configuration_set}}}", "us-east-1"),
            _ses_arn("configuration-set/marketing", "us-east-1"),
            _ses_arn("configuration-set/alerts", "us-east-1"),
            _ses_arn("template/*", "us-east-1"),
        ]
    )


def test_open_tracking_off_removes_open_events_and_vdm_engagement(variant):
    # Given open_tracking false (click_tracking left on)
    destinations = variant.resources("AWS::SES::ConfigurationSetEventDestination")
    # Then no event destination tracks opens; clicks still are
    events = [
        d["Properties"]["EventDestination"]["MatchingEventTypes"] for d in destinations.values()
    ]
    assert all("open" not in e for e in events)
    assert any("click" in e for e in events)
    # And the configuration set's VDM engagement metrics are off, whatever the account says
    _, configuration_set = variant.one("AWS::SES::ConfigurationSet")
    assert configuration_set["Properties"]["VdmOptions"] == {
        "DashboardOptions": {"EngagementMetrics": "DISABLED"}
    }


def test_the_variant_is_cdk_nag_clean_too(variant):
    assert variant.validation_error is None, variant.validation_error
    assert _nag_violations(variant) == []


# -- the app that creates its endpoint ------------------------------------------------------


def test_the_stack_creates_the_endpoint_and_gives_the_function_its_id(endpoint_app):
    # Given a second Region and no endpoint id
    endpoint, resource = endpoint_app.one("AWS::SES::MultiRegionEndpoint")
    # Then the endpoint splits sending with that Region
    assert resource["Properties"]["Details"] == {"RouteDetails": [{"Region": "us-east-1"}]}
    name = resource["Properties"]["EndpointName"]
    # And a custom resource reads its id, which the function gets as ENDPOINT_ID
    lookup, custom = endpoint_app.one("Custom::AWS")
    assert endpoint in custom["DependsOn"]
    _, env = _sender(endpoint_app)
    assert env["ENDPOINT_ID"] == {"Fn::GetAtt": [lookup, "EndpointId"]}
    # And the custom resource may read that endpoint, and do nothing else
    (policy,) = [
        p
        for logical_id, p in endpoint_app.resources("AWS::IAM::Policy").items()
        if not any(
            role in logical_id
            for role in ("SenderRole", "UnsubscribeRole", "StatusRole", "Pause", "Scheduling")
        )
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ses:GetMultiRegionEndpoint"
    assert text(statement["Resource"]) == _ses_arn(f"multi-region-endpoint/{name}")
    # And the app stays cdk-nag clean
    assert endpoint_app.validation_error is None, endpoint_app.validation_error
    assert _nag_violations(endpoint_app) == []


# -- context checks -------------------------------------------------------------------------


def _settings(**overrides):
    return Settings.from_node(cdk.App(context={**cdk_context(), **overrides}).node)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"authorized_identity_arns": ["arn:aws:ses:eu-west-1:1:identity/x"]}, "identity ARN"),
        ({"authorized_identity_arns": [PARTNER.replace("partner.example", "*")]}, "identity ARN"),
        ({"tenants": ["brand a"]}, "'tenants' holds a name"),
        ({"endpoint_id": "-bad"}, "'endpoint_id' is not"),
        ({"endpoint_secondary_region": "mars"}, "'endpoint_secondary_region' is not"),
        ({"open_tracking": "maybe"}, "'open_tracking' must be true or false"),
    ],
)
def test_send_option_keys_the_stack_cannot_use_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message):
        _settings(**overrides)


def test_an_endpoint_is_created_only_for_a_second_region_without_an_id():
    assert _settings(endpoint_secondary_region="us-east-1").create_endpoint
    assert not _settings(endpoint_secondary_region="us-east-1", endpoint_id="ab.c").create_endpoint
    assert not _settings().create_endpoint
