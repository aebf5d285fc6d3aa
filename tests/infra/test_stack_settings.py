"""Context settings, template files and the dashboard picture, without synthesizing."""

import dataclasses
import json
import re

import aws_cdk as cdk
import pytest

from stacks.dashboard_diagram import render
from stacks.lambda_asset import pinned_version
from stacks.settings import Settings, SettingsError
from stacks.template_files import EmailTemplate, TemplateFileError, by_ses_name, load_templates
from tests.infra.conftest import cdk_context


def _settings(**overrides):
    return Settings.from_node(cdk.App(context={**cdk_context(), **overrides}).node)


def test_cdk_json_holds_exactly_the_settings_keys():
    # Given cdk.json's context without CDK's feature flags
    keys = {key for key in cdk_context() if not key.startswith("@")}
    # Then its keys are the settings' fields: one default each, in one place
    assert keys == {field.name for field in dataclasses.fields(Settings)}


def test_a_missing_key_is_an_error_that_names_it():
    # Given a context without batch_size
    context = {key: value for key, value in cdk_context().items() if key != "batch_size"}
    # When the settings are read
    with pytest.raises(SettingsError, match="'batch_size' is missing"):
        Settings.from_node(cdk.App(context=context).node)


def test_command_line_text_is_read_as_the_key_type():
    # Given values as `cdk deploy -c key=value` passes them: text
    settings = _settings(
        batch_size="500",
        create_sending_identities="false",
        sending_identities='["a.example", "b@example.org"]',
        max_send_rate="12.5",
        default_tags='{"campaign":"spring"}',
    )
    # Then each has its type
    assert settings.batch_size == 500
    assert settings.create_sending_identities is False
    assert settings.sending_identities == ("a.example", "b@example.org")
    assert settings.max_send_rate == 12.5
    assert settings.default_tags == {"campaign": "spring"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "'batch_size' must be between"),
        ({"max_concurrency": 1}, "'max_concurrency' must be between 2"),
        ({"function_timeout_seconds": 20}, "'function_timeout_seconds' must be between 30"),
        ({"log_retention_days": 10}, "retention period"),
        ({"max_batching_window_seconds": 0}, "at least 1 when 'batch_size' is above 10"),
        ({"sending_identities": []}, "at least one"),
        ({"default_tags": {"bad tag": "x"}}, "'default_tags'"),
        ({"alarm_email": "not an address"}, "'alarm_email'"),
        ({"retry_backoff_max_seconds": 10}, "must not be below"),
        ({"log_level": "LOUD"}, "'log_level'"),
    ],
)
def test_values_the_stack_cannot_use_are_refused_with_the_key(overrides, message):
    # Given a context value out of range
    # When the settings are read
    # Then the error names the key and the rule
    with pytest.raises(SettingsError, match=re.escape(message)):
        _settings(**overrides)


def test_the_visibility_timeout_is_six_timeouts_plus_the_window():
    # Given a timeout and a batching window
    settings = _settings(function_timeout_seconds=100, max_batching_window_seconds=7)
    # Then the queue hides a batch for 6 timeouts plus the window
    assert settings.queue_visibility_timeout_seconds == 607


def test_the_powertools_pin_is_read_from_requirements(tmp_path):
    # Given a requirements file with comments, extras and other pins
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# runtime\nboto3==1.0.0\naws_lambda_powertools[tracer] == 9.8.7  # pinned\n",
        encoding="utf-8",
    )
    # Then the distribution's pin is found whatever its spelling
    assert pinned_version("aws-lambda-powertools", requirements) == "9.8.7"
    with pytest.raises(ValueError, match="pins no"):
        pinned_version("typer", requirements)


def test_the_shipped_templates_load():
    # Given templates/
    # Then every file loads, the sample among them
    names = [template.name for template in load_templates()]
    assert "welcome" in names


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("ok", {"subject": "s"}, "needs 'text', 'html' or both"),
        ("ok", {"text": "t"}, "'subject' is required"),
        ("ok", {"subject": "s", "text": "t", "Html": "h"}, "unknown key 'Html'"),
        ("ok", {"subject": "", "text": "t"}, "'subject' must be a non-empty string"),
        ("bad name", {"subject": "s", "text": "t"}, "template name"),
        ("ok", ["subject"], "JSON object"),
    ],
)
def test_a_template_file_out_of_format_is_refused(tmp_path, name, body, message):
    # Given a template file that breaks the format
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    # When it is loaded
    # Then the error names the file and the rule
    with pytest.raises(TemplateFileError, match=re.escape(message)):
        EmailTemplate.from_file(path)


def test_the_picture_draws_each_widget_at_its_place():
    # Given a body of a full-width text widget above two half-width graphs
    body = {
        "widgets": [
            {
                "type": "text",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 2,
                "properties": {"markdown": "# Top"},
            },
            {
                "type": "metric",
                "x": 0,
                "y": 2,
                "width": 12,
                "height": 6,
                "properties": {"title": "Left", "metrics": [["NS", "A", {"label": "Alpha"}]]},
            },
            {
                "type": "metric",
                "x": 12,
                "y": 2,
                "width": 12,
                "height": 6,
                "properties": {"title": "Right", "metrics": [["NS", "B"]]},
            },
        ]
    }
    # When it is drawn
    lines = render(body).splitlines()
    # Then the title row spans the width and the graphs sit side by side with their legends
    assert lines[0] == "+" + "-" * 95 + "+"
    assert lines[1].startswith("| Top")
    assert lines[2] == "+" + "-" * 47 + "+" + "-" * 47 + "+"
    assert lines[3].startswith("| Left")
    assert "| Right" in lines[3]
    assert lines[4].startswith("| Alpha")
    assert "| B" in lines[4]
    assert lines[5] == lines[2]


# --- deploy-time checks (issue 13) ---------------------------------------------------------


@pytest.mark.parametrize(
    "identity",
    [
        "example.com",
        "news@example.org",
        "mail.example.net",
        "Shop.Example.COM.",
        "a@b.example",
        "x.test",
        "y.invalid",
        "localhost",
        "dev.localhost",
    ],
)
def test_a_reserved_example_domain_is_a_placeholder(identity):
    settings = _settings(sending_identities=[identity, "mail.acme-shop.com"])
    assert settings.placeholder_identities == (identity,)


def test_a_real_domain_is_no_placeholder():
    settings = _settings(sending_identities=["mail.acme-shop.com", "news@examples.com", "test.io"])
    assert settings.placeholder_identities == ()
    assert settings.check_placeholders(deploying=True) is None


def test_synth_warns_about_the_placeholder_and_deploy_refuses_it(capsys, tmp_path):
    from app import DEPLOY_ENV, main

    # Given cdk.json's context, whose sending identity is the placeholder example.com
    settings = _settings()
    # When synthesizing, a warning says what to put there
    warning = settings.check_placeholders(deploying=False)
    assert "'sending_identities' holds the placeholder example.com" in warning
    assert "make deploy refuses it" in warning
    # When deploying (make deploy sets BULKMAIL_DEPLOY=1), the app stops with one line
    app = cdk.App(context=cdk_context(), outdir=str(tmp_path))
    assert main(app, {DEPLOY_ENV: "1"}) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: context key 'sending_identities' holds the placeholder")
    assert "-c sending_identities=" in err
    # And nothing was synthesized
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("batch_size", "many", "error: context key 'batch_size' must be an integer"),
        ("template_prefix", "shop/", "error: context key 'template_prefix' must be 0 to 63 of"),
        ("allowed_configuration_sets", "ok,no way", "'allowed_configuration_sets' holds a name"),
        ("sandbox_recipients", "a b@example.org", "'sandbox_recipients' holds an entry"),
        ("sandbox_recipients", "[1, 2]", "'sandbox_recipients' must be a list of strings"),
        ("sending_identities", "a.io,A.io", "'sending_identities' names a.io twice"),
    ],
)
def test_a_bad_context_value_is_one_line_naming_the_key(capsys, tmp_path, key, value, error):
    from app import main

    # Given a context value the stack cannot use, as -c passes it
    app = cdk.App(context={**cdk_context(), key: value}, outdir=str(tmp_path))
    # When the app runs
    assert main(app, {}) == 1
    # Then it says so in one line naming the key, never a traceback
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert error in err
    assert "Traceback" not in err


def test_two_template_files_mapping_to_one_ses_name_are_refused(tmp_path):
    # Given two files whose names differ only in case
    body = json.dumps({"subject": "Hi", "text": "Hello"})
    (tmp_path / "welcome.json").write_text(body, encoding="utf-8")
    (tmp_path / "Welcome.json").write_text(body, encoding="utf-8")
    templates = load_templates(tmp_path)
    # When they are named for SES, prefixed
    with pytest.raises(TemplateFileError) as error:
        by_ses_name(templates, "shop-")
    # Then the error names both files and the name they share
    assert str(error.value) == (
        "Welcome.json and welcome.json both map to the SES template name 'shop-Welcome': rename one"
    )


def test_a_prefix_that_makes_a_name_too_long_is_refused_naming_the_file(tmp_path):
    (tmp_path / ("t" * 60 + ".json")).write_text('{"subject": "s", "text": "t"}', "utf-8")
    templates = load_templates(tmp_path)
    assert list(by_ses_name(templates, "abc")) == ["abc" + "t" * 60]
    with pytest.raises(TemplateFileError, match=r"^t{60}\.json: with template_prefix 'shop-'"):
        by_ses_name(templates, "shop-")
