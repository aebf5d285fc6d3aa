"""The docs site: generated pages current, every setting and command documented, links alive.

`make docs` also builds the site with `mkdocs build --strict`, which fails on a broken link
between pages; these tests cover what the build cannot see.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest
import typer.main

from bulkmail.cli import app
from docs import gen

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def _context_without_flags() -> dict[str, object]:
    return {key: value for key, value in gen.cdk_context().items() if not key.startswith("@")}


def test_every_generated_page_is_what_the_code_generates():
    # Given the pages as the generator writes them from the code now
    fresh = gen.pages()
    # Then the committed pages are the same (else: run `make docs-gen` and commit)
    stale = [str(path.relative_to(REPO)) for path in gen.stale(fresh)]
    assert not stale, f"stale generated pages {stale}: run `make docs-gen` and commit them"


def test_the_configuration_page_shows_every_context_key_with_its_cdk_json_default():
    # Given the committed configuration page and cdk.json
    page = gen.CONFIG_PAGE.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| `([^`]*)` \|", page, re.MULTILINE))
    # Then it shows each key (and only the keys) with the default cdk.json holds
    context = _context_without_flags()
    assert set(rows) == set(context)
    for key, value in context.items():
        assert rows[key] == json.dumps(value), key


def test_the_configuration_page_documents_every_environment_variable():
    # Given the committed configuration page
    page = gen.CONFIG_PAGE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", page, re.MULTILINE))
    # Then every variable names.Env holds is there
    assert documented == set(gen.env_names())


def test_a_context_key_without_a_description_stops_the_generator_naming_it():
    # Given cdk.json with a key stacks/settings_docs.py does not describe
    context = {**gen.cdk_context(), "brand_new_key": 1}
    # When the configuration page is generated
    with pytest.raises(gen.StaleSettings, match=r"'brand_new_key'.*stacks/settings_docs\.py"):
        gen.configuration_page(context=context)


def test_a_description_of_a_variable_that_no_longer_exists_stops_the_generator():
    # Given a description of a variable names.Env does not hold
    docs = gen.settings_docs()
    stale = types.SimpleNamespace(
        CONTEXT=docs.CONTEXT, ENVIRONMENT={**docs.ENVIRONMENT, "GONE_VARIABLE": "old"}
    )
    # When the configuration page is generated
    with pytest.raises(gen.StaleSettings, match="'GONE_VARIABLE'"):
        gen.configuration_page(docs=stale)


def test_the_cli_reference_has_every_command_and_option():
    # Given the committed CLI reference and the typer app's command tree
    page = gen.CLI_PAGE.read_text(encoding="utf-8")
    root = typer.main.get_command(app)

    def walk(command, path):
        yield command, path
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                yield from walk(sub, f"{path} {name}")

    # Then each command has its section, and each of its options a row, with its help
    for command, path in walk(root, gen.PROG):
        section = page.split(f"\n## `{path}`\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            option = param.opts[0].startswith("-")
            name = param.opts[0] if option else (param.metavar or param.name.upper())
            assert name in section, (path, name)
            if getattr(param, "help", None):
                assert gen._escape(param.help)[:40] in section, (path, name)


def test_the_alarms_page_says_what_each_alarm_means_and_what_to_do():
    from stacks.monitoring import RUNBOOK

    # Given the committed alarms page
    page = gen.ALARMS_PAGE.read_text(encoding="utf-8")
    # Then each alarm has its section, its meaning and its action
    for alarm_id, runbook in RUNBOOK.items():
        assert f"## {runbook.title}\n" in page
        assert f"Alarm `{alarm_id}`." in page
        assert " ".join(runbook.meaning.split())[:60] in page


def test_every_relative_link_of_the_readme_names_a_file_that_exists():
    # Given the README's links (mkdocs checks the site's pages, not the README)
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link and not link.startswith("mailto:")]
    assert local, "the README links into docs/"
    # Then each names a file of the repository
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing


def test_the_readme_is_a_front_page_with_the_two_commands_and_two_first_campaigns():
    # Given the README
    text = README.read_text(encoding="utf-8")
    # Then it opens with the two commands and walks a first campaign locally and on AWS
    assert "make demo" in text.split("\n## ", 1)[0]
    assert "make test" in text.split("\n## ", 1)[0]
    for heading in ("How it works", "A first campaign locally", "A first campaign on AWS"):
        assert f"\n## {heading}\n" in text
    assert "\n## Where to read on\n" in text
    # And it stays a front page (DESIGN.md section 12): the rest lives in docs/
    assert len(text.splitlines()) <= 250


def test_every_page_of_the_site_is_in_its_navigation():
    # Given the pages under docs/ and the site's navigation
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md"))
    # Then a reader can reach each page from the navigation
    assert [page for page in pages if page not in nav] == []


def test_the_deploy_guide_sets_the_sandbox_keys_before_the_deploy_step():
    # Given the deployment guide, as a new account's owner reads it, top to bottom
    guide = (REPO / "docs" / "guides" / "deployment.md").read_text(encoding="utf-8")
    deploy = guide.index("\n## 2. Deploy\n")
    # Then the sandbox's settings come before the first deploy, and no placeholder sender
    for key in ("sending_identities", "sandbox_recipients", "alarm_email", "batch_size"):
        assert guide.index(f'"{key}"') < deploy, key
    assert "@example.com" not in guide
    assert "Node.js 22+" in guide
