"""The moto patches are written for one moto version and refuse any other."""

import re
from pathlib import Path

import pytest

from bulkmail.local import moto_patches
from bulkmail.local.moto_patches import MotoVersionError, check_moto_version

REQUIREMENTS_DEV = Path(__file__).resolve().parents[2] / "requirements-dev.txt"


def test_another_moto_version_is_refused_with_one_line_naming_both():
    # Given a moto other than the one the patches were written for
    # When the patches check it
    with pytest.raises(MotoVersionError) as refused:
        check_moto_version("5.3.0")
    # Then one line names both versions and what to run
    message = str(refused.value)
    assert "\n" not in message
    assert f"moto {moto_patches.MOTO_VERSION}" in message
    assert "moto 5.3.0" in message
    assert "make setup" in message
    assert refused.value.exit_code == 2  # the CLI prints it as one line, exit 2


def test_install_patches_nothing_under_another_moto(monkeypatch):
    # Given patches written for a moto that is not the installed one
    monkeypatch.setattr(moto_patches, "MOTO_VERSION", "0.0.1")

    class Operations:
        def must_not_be_installed(self):
            raise AssertionError

    # When they are installed, Then they are refused before anything is patched
    with pytest.raises(MotoVersionError):
        moto_patches.install(ses_v2=Operations, routes=["/v2/nowhere$"], region="eu-west-1")
    assert not hasattr(moto_patches.SESV2Response, "must_not_be_installed")


def test_the_patches_are_for_the_moto_the_project_pins_and_runs():
    # Given requirements-dev.txt's moto pin
    pinned = re.search(r"^moto\[server\]==(\S+)", REQUIREMENTS_DEV.read_text(), re.MULTILINE)
    # Then it is the patches' version, and the installed moto passes the check
    assert pinned
    assert pinned.group(1) == moto_patches.MOTO_VERSION
    check_moto_version()
