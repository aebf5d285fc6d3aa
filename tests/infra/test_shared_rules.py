"""The stack checks context with the rules the functions apply to their environment.

A value that passes synth but fails the function's settings would fail every invocation after
a deploy; one rule (``bulk_sender.names.Pattern``) read by both keeps them in step.
"""

import dataclasses

import aws_cdk as cdk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_sender.settings import Settings as FunctionSettings
from bulk_sender.settings import SettingsError as FunctionSettingsError
from stacks.settings import Settings, SettingsError
from tests.infra.conftest import cdk_context

STACK = Settings.from_node(cdk.App(context=cdk_context()).node)


def _stack_accepts(endpoint_id: str) -> bool:
    try:
        dataclasses.replace(STACK, endpoint_id=endpoint_id)._check_send_options()
    except SettingsError:
        return False
    return True


def _function_accepts(endpoint_id: str) -> bool:
    environ = {"DLQ_URL": "https://sqs.eu-west-1.amazonaws.com/1/dlq", "ENDPOINT_ID": endpoint_id}
    try:
        FunctionSettings.from_env(environ)
    except FunctionSettingsError:
        return False
    return True


@pytest.mark.parametrize(
    ("endpoint_id", "valid"),
    [
        ("abcd1234.ef5", True),
        ("a.b-c.d9", True),
        ("x" * 63, True),
        ("a..b", False),  # the value that once passed synth and failed every invocation
        ("a.", False),
        ("-bad", False),
        ("a-.b", False),
        ("a_b", False),
        ("x" * 64, False),
    ],
)
def test_the_stack_and_the_function_agree_on_an_endpoint_id(endpoint_id, valid):
    # Given an endpoint_id context value, and the same as the function's ENDPOINT_ID
    # Then both accept it, or both refuse it
    assert (_stack_accepts(endpoint_id), _function_accepts(endpoint_id)) == (valid, valid)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab9-._", min_size=1, max_size=70))
def test_no_endpoint_id_passes_synth_and_fails_the_function(endpoint_id):
    # Given any id made of DNS-ish characters
    # Then the stack accepts it exactly when the function does
    assert _stack_accepts(endpoint_id) == _function_accepts(endpoint_id)
