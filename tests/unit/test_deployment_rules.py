"""What the deployment allows a message to name: its configuration sets
(ALLOWED_CONFIGURATION_SETS) and its templates' SES names (TEMPLATE_PREFIX)."""

import json

import pytest

from bulk_sender.core import BulkSender
from bulk_sender.message import Defaults, InvalidMessage, parse_message
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings, SettingsError
from bulk_sender.template_names import ses_template_name
from tests.unit.fakes import FakeSes, FakeSqs, message, record

DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
ARN = "arn:aws:ses:eu-west-1:123456789012:template/other"
ENV = {"DLQ_URL": DLQ, "CONFIGURATION_SET_NAME": "stack-set"}


def parse(doc, defaults):
    return parse_message(json.dumps(doc), message_id="sqs-1", defaults=defaults)


def sender(ses, sqs, **env):
    settings = Settings.from_env({**ENV, **env})
    return BulkSender(settings, ses=ses, sqs=sqs, limiter=Unpaced())


# --- configuration sets --------------------------------------------------------------------


def test_the_stacks_set_is_always_allowed_and_the_listed_ones_too():
    # Given ALLOWED_CONFIGURATION_SETS naming one other set than the stack's own
    settings = Settings.from_env({**ENV, "ALLOWED_CONFIGURATION_SETS": "marketing, ,alerts"})
    # Then the stack's set and the listed ones are allowed, blanks ignored
    assert settings.allowed_configuration_sets == {"stack-set", "marketing", "alerts"}
    # And without the variable any set is allowed (nothing to scope by)
    assert Settings.from_env(ENV).allowed_configuration_sets is None


def test_a_message_naming_another_set_is_invalid_with_that_reason():
    # Given a deployment that allows two sets
    defaults = Defaults(
        configuration_set="stack-set", configuration_sets=frozenset({"stack-set", "m"})
    )
    good = {"to": "ann@example.org", "from": "news@example.com", "template": "welcome"}
    # When messages name an allowed set, none, or another set
    assert parse({**good, "configuration_set": "m"}, defaults).configuration_set == "m"
    assert parse(good, defaults).configuration_set == "stack-set"
    with pytest.raises(InvalidMessage) as error:
        parse({**good, "configuration_set": "someone-elses"}, defaults)
    # Then the other set is refused, naming the rule and not the value
    assert str(error.value) == (
        "configuration_set: not one this sender may use (ALLOWED_CONFIGURATION_SETS)"
    )


def test_a_message_naming_another_set_is_dead_lettered_before_any_call():
    # Given a batch with one message naming a set the role may not use
    ses, sqs = FakeSes(), FakeSqs()
    records = [
        record(message(1), "m1"),
        record(message(2, configuration_set="someone-elses"), "m2"),
    ]
    # When the sender processes it
    result = sender(ses, sqs, ALLOWED_CONFIGURATION_SETS="stack-set").process(records)
    # Then that message is dead-lettered as InvalidMessage and never reaches SES
    assert sqs.dlq_codes() == {"m2": "InvalidMessage"}
    assert [r.get("ConfigurationSetName") for r in ses.requests] == ["stack-set"]
    assert result.failures == []


# --- template names ------------------------------------------------------------------------


def test_a_template_name_maps_to_the_prefixed_ses_name_and_an_arn_stays():
    assert ses_template_name("welcome", "") == "welcome"
    assert ses_template_name("welcome", "shop-") == "shop-welcome"
    assert ses_template_name(ARN, "shop-") == ARN


def test_the_sender_sends_and_fetches_the_prefixed_name():
    # Given TEMPLATE_PREFIX=shop- and the prefixed template in SES
    ses = FakeSes(templates={"shop-welcome": {"Subject": "Hi {{n}}", "Text": "Hello {{n}}"}})
    records = [record(message(1), "m1"), record(message(2, template=ARN), "m2")]
    # When a message names `welcome` and another the template's ARN
    sender(ses, FakeSqs(), TEMPLATE_PREFIX="shop-").process(records)
    # Then the named one is sent and fetched under the prefixed name, the ARN as it is
    sent = [r["DefaultContent"]["Template"] for r in ses.requests]
    assert sorted(t.get("TemplateName", t.get("TemplateArn")) for t in sent) == [
        ARN,
        "shop-welcome",
    ]
    assert sorted(ses.template_fetches) == ["other", "shop-welcome"]


def test_a_default_template_is_prefixed_too_and_the_length_is_checked():
    defaults = Defaults(from_address="news@example.com", template="welcome", template_prefix="a-")
    assert parse({"to": "ann@example.org"}, defaults).template == "a-welcome"
    with pytest.raises(InvalidMessage, match="template: with TEMPLATE_PREFIX, longer than"):
        parse({"to": "ann@example.org", "template": "t" * 63}, defaults)


@pytest.mark.parametrize("prefix", ["has space", "a/b", "x" * 64])
def test_a_bad_template_prefix_is_a_settings_error(prefix):
    with pytest.raises(SettingsError, match="TEMPLATE_PREFIX must be 0 to 63 of"):
        Settings.from_env({**ENV, "TEMPLATE_PREFIX": prefix})
