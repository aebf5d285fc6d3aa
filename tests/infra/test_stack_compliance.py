"""cdk-nag's AwsSolutions pack, cfn-lint, and the no-physical-names rule."""

from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

from stacks.template_files import TEMPLATES_DIR

# Properties that give a resource a physical name. Only SES template names may be set
# (producers name templates, DESIGN section 10); everything else gets a generated name.
NAME_PROPERTIES = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SES::ConfigurationSet": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Events::Rule": "Name",
    "AWS::Scheduler::Schedule": "Name",
}
# (CDK itself names inline IAM policies and log resource policies after the construct path;
# those names are generated, unique per stack, and never chosen here.)
# A minimum length for an acknowledgement's reason: a sentence, not a placeholder.
REASON_MIN_LENGTH = 40


def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(synth):
    # Given the app synthesized with cdk-nag's AwsSolutions pack registered
    # Then the synthesis passed its validation
    assert synth.validation_error is None, synth.validation_error
    # And the report holds no violation
    violations = [
        (violation["ruleName"], construct["constructPath"])
        for report in synth.validation_report.get("pluginReports", [])
        for violation in report.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]
    assert violations == []


def test_every_acknowledged_finding_has_a_real_reason(synth):
    # Given the acknowledgements recorded in the construct tree
    acknowledgements = synth.acknowledgements
    # Then there are only the IAM5 wildcards, the attachment bucket's access logs,
    # the unsubscribe endpoint's public routes (no login, no user pool), its execution logs
    # (they would hold tokens) and its secret's rotation, each with a reason that explains it
    bucket = synth.one("AWS::S3::Bucket", "SendOptionsAttachments")[0]
    campaigns = synth.one("AWS::S3::Bucket", "SchedulingBucket")[0]
    assert sorted(rule.split("::", 1)[1] for rule in acknowledgements) == [
        "AwsSolutions-APIG4",
        "AwsSolutions-APIG6",
        "AwsSolutions-COG4",
        "AwsSolutions-IAM5[Resource::*]",
        f"AwsSolutions-IAM5[Resource::<{campaigns}.Arn>/campaigns/*]",
        f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:template/*]",
        "AwsSolutions-S1",
        "AwsSolutions-SMG4",
    ]
    for rule, reason in acknowledgements.items():
        assert len(reason) >= REASON_MIN_LENGTH, rule
    assert "GetAccount" in acknowledgements["Annotation::AwsSolutions-IAM5[Resource::*]"]


def test_cfn_lint_finds_nothing_in_the_template(synth):
    # Given the synthesized template file
    path = synth.outdir / f"{synth.stack_name}.template.json"
    roles = {
        function: resource["Properties"]["Role"]["Fn::GetAtt"][0]
        for function, resource in synth.resources("AWS::Lambda::Function").items()
    }
    # When cfn-lint checks it
    matches = lint_file(Path(path), config=ManualArgs(regions=["eu-west-1", "us-east-1"]))
    # Then nothing is reported, except W3005 on the DependsOn that CDK always adds from a
    # function to its role (redundant with the Role GetAtt, harmless, not ours to remove)
    reported = [
        f"{match.rule.id} {match.message}"
        for match in matches
        if not (
            match.rule.id == "W3005"
            and any(
                f"'{role}'" in match.message and f"Resources/{function}/" in match.message
                for function, role in roles.items()
            )
        )
    ]
    assert reported == []


def test_no_resource_has_a_physical_name_but_the_templates(synth):
    # Given every resource of the template
    named = [
        (logical_id, resource["Type"])
        for logical_id, resource in synth.template["Resources"].items()
        if NAME_PROPERTIES.get(resource["Type"]) in resource.get("Properties", {})
    ]
    # Then none sets a name (CloudFormation generates them)
    assert named == []
    # And the only names chosen are the templates', which are their file stems
    names = sorted(
        resource["Properties"]["Template"]["TemplateName"]
        for resource in synth.resources("AWS::SES::Template").values()
    )
    assert names == sorted(path.stem for path in TEMPLATES_DIR.glob("*.json"))
