"""The sender function's code asset: ``lambda_src/`` plus pinned wheels.

The distributions in ``BUNDLED_DISTRIBUTIONS`` are bundled into the asset (not taken from the
public layer or the runtime) so that the versions running in Lambda are the ones pinned in
``requirements.txt``, the ones the tests ran, and a test can read them from the asset. The
bundle is built without Docker: ``pip install --target`` of binary wheels for the function's
Python version and architecture, then a copy of ``lambda_src/``. Docker is only the declared
fallback CDK requires; it is never used.

- Powertools: logging and metrics.
- email-validator (with dnspython and idna): the message schema's address checks.
- boto3/botocore: the request fields the sender sends (``TenantName``, ``EndpointId``,
  ``DefaultContent.Template.Attachments``, ``ConfigurationOverrides``) are newer than a
  runtime's SDK may be, and a botocore whose model lacks a member fails the call on
  serialising it (the client's own validation is off, core.ses_client): the pinned SDK has them.
- tzdata: the IANA zones `zoneinfo` reads (`bulk_sender.schedule`), whatever the runtime has.
- awscrt (the AWS CRT, ``botocore[crt]``): SigV4a, which a multi-region endpoint
  (``ENDPOINT_ID``) requires. Its wheel is a binary one, built for the function's architecture.
  Only a stack with a multi-region endpoint bundles it (``sigv4a=True``): botocore imports
  ``awscrt`` whenever it is installed, 11 MB on every cold start, and signs SigV4 no faster
  with it (bench/, issue 23).

The installed dependencies are cached under ``build/lambda-deps/`` by (pin, Python version,
platform), so a synth after the first needs neither the network nor pip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
REQUIREMENTS = REPO_ROOT / "requirements.txt"
DEPS_CACHE = REPO_ROOT / "build" / "lambda-deps"

# What the asset bundles besides lambda_src/, each at its requirements.txt pin.
BUNDLED_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "email-validator",
    "dnspython",
    "idna",
    "boto3",
    "botocore",
    "tzdata",
)
# Bundled too where the function signs SigV4a (a multi-region endpoint).
SIGV4A_DISTRIBUTIONS = ("awscrt",)
# Never part of the asset: bytecode of the machine that synthesizes.
ASSET_EXCLUDES = ("**/__pycache__", "**/*.pyc", "**/.pytest_cache")


def pinned_version(distribution: str, requirements: Path = REQUIREMENTS) -> str:
    """The version pinned with ``==`` for ``distribution`` in requirements.txt."""
    wanted = _normalise(distribution)
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?\s*==\s*([A-Za-z0-9.+!_-]+)", line)
        if match and _normalise(match.group(1)) == wanted:
            return match.group(3)
    raise ValueError(f"{requirements.name} pins no {distribution}==<version>")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_platform(architecture: lambda_.Architecture) -> str:
    if architecture.name == lambda_.Architecture.ARM_64.name:
        return "manylinux2014_aarch64"
    return "manylinux2014_x86_64"


def _python_version(runtime: lambda_.Runtime) -> str:
    match = re.fullmatch(r"python(\d+\.\d+)", runtime.name)
    if not match:
        raise ValueError(f"{runtime.name} is not a Python runtime")
    return match.group(1)


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(
        source,
        target,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"),
    )


@jsii.implements(ILocalBundling)
class _PipBundling:
    """Builds the asset on this machine: pinned wheels from pip, then lambda_src."""

    def __init__(self, requirements: list[str], python_version: str, platform: str) -> None:
        self._requirements = requirements
        self._python_version = python_version
        self._platform = platform

    def pip_command(self, target: str) -> list[str]:
        return [
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            target,
            "--platform",
            self._platform,
            "--implementation",
            "cp",
            "--python-version",
            self._python_version,
            "--only-binary=:all:",
            *self._requirements,
        ]

    def _dependencies(self) -> Path:
        pins = "-".join(self._requirements)
        key = re.sub(r"[^A-Za-z0-9.]+", "-", f"{pins}-py{self._python_version}")
        cached = DEPS_CACHE / f"{key}-{self._platform}"
        if cached.is_dir():
            return cached
        DEPS_CACHE.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=DEPS_CACHE))
        command = [sys.executable, "-m", *self.pip_command(str(building))]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise RuntimeError(
                f"bundling the function code: pip could not install {' '.join(self._requirements)} "
                f"for Python {self._python_version} ({self._platform}); PyPI must be reachable "
                f"on the first synth.\n{result.stderr.strip()}"
            )
        # Console scripts (jmespath's jp.py) have no use in Lambda.
        shutil.rmtree(building / "bin", ignore_errors=True)
        try:
            os.rename(building, cached)
        except OSError:
            # Another process (a parallel test worker) finished the same cache entry first.
            shutil.rmtree(building, ignore_errors=True)
        return cached

    def try_bundle(self, output_dir: str, options: object = None, /, **_more: object) -> bool:
        # jsii passes the BundlingOptions struct positionally; nothing in it is needed here.
        _copy_tree(self._dependencies(), Path(output_dir))
        _copy_tree(LAMBDA_SRC, Path(output_dir))
        return True


def bundled_distributions(*, sigv4a: bool) -> tuple[str, ...]:
    return BUNDLED_DISTRIBUTIONS + (SIGV4A_DISTRIBUTIONS if sigv4a else ())


def sender_code(
    runtime: lambda_.Runtime, architecture: lambda_.Architecture, *, sigv4a: bool = False
) -> lambda_.Code:
    """``lambda_src/`` with the bundled distributions at their requirements.txt pins (the
    AWS CRT with them where the function signs SigV4a: ``sigv4a``)."""
    requirements = [
        f"{name}=={pinned_version(name)}" for name in bundled_distributions(sigv4a=sigv4a)
    ]
    local = _PipBundling(requirements, _python_version(runtime), _pip_platform(architecture))
    # The Docker command mirrors the local one; its text (with the pin) is part of the asset
    # hash, so a new pin makes a new asset even where the local bundle is cached.
    docker_command = " ".join([*local.pip_command("/asset-output"), "&&", "cp -au . /asset-output"])
    return lambda_.Code.from_asset(
        str(LAMBDA_SRC),
        exclude=list(ASSET_EXCLUDES),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-{runtime.name}"),
            platform=architecture.docker_platform,
            command=["bash", "-c", docker_command],
            local=local,
        ),
    )
