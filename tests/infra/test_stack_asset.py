"""The function's code asset: lambda_src plus the Powertools pinned in requirements.txt."""

import gzip
import json
import re
from pathlib import Path

import pytest

from stacks.lambda_asset import bundled_distributions, pinned_version

REPO = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO / "lambda_src"


def _pin(distribution: str) -> str:
    """The version requirements.txt pins, read here independently of the stack's reader."""
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(distribution)}==(\S+)\s*$", text, re.MULTILINE)
    assert match, f"requirements.txt pins {distribution}"
    return match.group(1)


@pytest.fixture(scope="module")
def asset(synth) -> Path:
    _, function = synth.one("AWS::Lambda::Function", "Sender")
    key = function["Properties"]["Code"]["S3Key"]
    path = synth.outdir / f"asset.{key.removesuffix('.zip')}"
    assert path.is_dir(), f"the function's asset is staged at {path}"
    return path


def test_the_asset_runs_the_powertools_version_pinned_in_requirements(asset):
    # Given the pin in requirements.txt
    pin = _pin("aws-lambda-powertools")
    # When the bundled distribution's metadata and version module are read
    (dist_info,) = asset.glob("aws_lambda_powertools-*.dist-info")
    metadata = (dist_info / "METADATA").read_text(encoding="utf-8")
    version_module = (asset / "aws_lambda_powertools" / "shared" / "version.py").read_text(
        encoding="utf-8"
    )
    # Then both say the pinned version
    assert re.search(r"^Version: (\S+)$", metadata, re.MULTILINE).group(1) == pin
    assert re.search(r'VERSION = "([^"]+)"', version_module).group(1) == pin


def test_the_asset_holds_every_file_of_lambda_src_unchanged(asset):
    # Given the source files of the function (no bytecode)
    sources = [
        path
        for path in LAMBDA_SRC.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    assert (LAMBDA_SRC / "handler.py") in sources
    # Then each is in the asset, byte for byte, and the asset carries no bytecode
    for path in sources:
        bundled = asset / path.relative_to(LAMBDA_SRC)
        assert bundled.read_bytes() == path.read_bytes(), path
    assert not list(asset.rglob("__pycache__"))


def _bundled_version(asset: Path, distribution: str) -> str:
    (dist_info,) = asset.glob(f"{distribution}-*.dist-info")
    metadata = (dist_info / "METADATA").read_text(encoding="utf-8")
    return re.search(r"^Version: (\S+)$", metadata, re.MULTILINE).group(1)


def test_the_asset_runs_the_sdk_pinned_in_requirements(asset):
    # Given the request fields the sender sends (tenants, endpoints, attachments, tracking),
    # newer than a runtime's SDK may be: the asset carries the pinned boto3 and botocore
    for distribution in ("boto3", "botocore"):
        assert _bundled_version(asset, distribution) == _pin(distribution)
    # And its botocore knows every SendBulkEmail field the sender uses
    (path,) = (asset / "botocore" / "data" / "sesv2").glob("*/service-2.json*")
    text = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    shapes = json.loads(text)["shapes"]
    members = shapes["SendBulkEmailRequest"]["members"]
    assert {
        "TenantName",
        "EndpointId",
        "ConfigurationOverrides",
        "FromEmailAddressIdentityArn",
        "FeedbackForwardingEmailAddressIdentityArn",
    } <= set(members)
    assert "Attachments" in shapes["Template"]["members"]


def test_the_asset_bundles_the_pinned_time_zones_for_at_local(asset):
    # Given --at-local reads each recipient's IANA zone with zoneinfo, whatever the runtime has
    assert _bundled_version(asset, "tzdata") == _pin("tzdata")
    # Then the zones the enqueue path names are in the asset
    assert (asset / "tzdata" / "zoneinfo" / "Europe" / "Berlin").is_file()


def test_the_default_asset_leaves_the_aws_crt_out(asset):
    # Given no multi-region endpoint (the default): nothing signs SigV4a, and botocore
    # would import the CRT's 11 MB on every cold start were it installed
    assert not list(asset.glob("awscrt*"))
    assert not list(asset.glob("_awscrt*.so"))


def test_a_stack_with_a_multi_region_endpoint_bundles_the_pinned_aws_crt(synth, variant):
    # Given SigV4a (multi-region endpoints) needs the AWS CRT, a binary wheel
    assert "awscrt==" + _pin("awscrt") in " ".join(
        f"{name}=={pinned_version(name)}" for name in bundled_distributions(sigv4a=True)
    )
    assert "awscrt" not in bundled_distributions(sigv4a=False)

    # Then the sender's asset differs from the other functions' only where an endpoint is
    # set (the variant's `endpoint_id`): it carries the CRT there, and only there
    def keys(synthesized):
        functions = synthesized.resources("AWS::Lambda::Function")
        sender = next(v for k, v in functions.items() if k.startswith("SenderFunction"))
        status = next(v for k, v in functions.items() if k.startswith("StatusFunction"))
        return sender["Properties"]["Code"]["S3Key"], status["Properties"]["Code"]["S3Key"]

    default_sender, default_status = keys(synth)
    variant_sender, variant_status = keys(variant)
    assert default_sender == default_status
    assert variant_sender != variant_status


@pytest.mark.parametrize(
    ("distribution", "package"),
    [("email-validator", "email_validator"), ("dnspython", "dns"), ("idna", "idna")],
)
def test_the_asset_bundles_the_address_validator_at_its_pins(asset, distribution, package):
    # Given the pins in requirements.txt (the message schema validates addresses with
    # email-validator, which encodes domains with idna and imports dnspython)
    pin = _pin(distribution)
    # When the bundled distribution's metadata is read
    (dist_info,) = asset.glob(f"{distribution.replace('-', '_')}-*.dist-info")
    metadata = (dist_info / "METADATA").read_text(encoding="utf-8")
    # Then it is the pinned version, and its package is importable from the asset's root
    assert re.search(r"^Version: (\S+)$", metadata, re.MULTILINE).group(1) == pin
    assert (asset / package / "__init__.py").is_file()
