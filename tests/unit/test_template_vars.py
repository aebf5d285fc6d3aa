"""Pre-flight template check: which data an SES (Handlebars) template needs.

Each case is one Handlebars construct: Given a template, When its required variables are
listed, Then they are exactly the expected set. The same cases are checked against
handlebars.js 4.7.8 (the pinned `handlebars` package, transpiled to Python) in strict
mode: each variable listed as required really breaks rendering when it is absent.
"""

import copy
import itertools
from typing import Any

import pytest

from bulk_sender.template_vars import (
    TemplateSyntaxError,
    missing_variables,
    required_variables,
    scan,
)

F = frozenset

# id, template, expected required set, complete data for the oracle (None: not checked)
CASES: list[tuple[str, str, frozenset[str], dict[str, Any] | None]] = [
    # plain variables
    ("variable", "Hi {{name}}!", F({"name"}), {"name": "Ann"}),
    ("variable-spaces", "Hi {{ name }}!", F({"name"}), {"name": "Ann"}),
    (
        "nested-path",
        "{{user.first}} {{user.last}}",
        F({"user.first", "user.last"}),
        {"user": {"first": "A", "last": "B"}},
    ),
    ("slash-path", "{{user/first}}", F({"user.first"}), {"user": {"first": "A"}}),
    ("triple-stash", "{{{raw}}}", F({"raw"}), {"raw": "<b>"}),
    ("ampersand", "{{& raw}}", F({"raw"}), {"raw": "<b>"}),
    ("repeated", "{{a}} {{a}} {{b}}", F({"a", "b"}), {"a": 1, "b": 2}),
    ("segment-literal", "{{[first name]}}", F({"first name"}), {"first name": "A"}),
    ("list-index", "{{items.[0]}}", F({"items.0"}), {"items": ["x"]}),
    ("this-prefix", "{{this.name}} {{this/x}}", F({"name", "x"}), {"name": "A", "x": 1}),
    ("dot-prefix", "{{./name}}", F({"name"}), {"name": "A"}),
    ("root-data", "{{@root.name}}", F({"name"}), {"name": "A"}),
    ("this-alone", "{{this}} {{.}}", F(), None),
    (
        "whitespace-control",
        "{{~name~}} {{~{raw}~}} {{~& amp}}",
        F({"name", "raw", "amp"}),
        {"name": 1, "raw": 2, "amp": 3},
    ),
    ("no-tags", "Plain text, { braces } and }} alone.", F(), {}),
    # comments, raw blocks, escapes
    ("comment", "{{! not {{this}} }}{{name}}", F({"name"}), {"name": "A"}),
    ("long-comment", "{{!-- {{hidden}} }} --}}{{name}}{{~!-- x --~}}", F({"name"}), {"name": "A"}),
    ("raw-block", "{{{{raw}}}} {{literal}} {{/x}} {{{{/raw}}}}{{name}}", F({"name"}), None),
    ("escaped", r"\{{literal}} {{name}}", F({"name"}), {"name": "A"}),
    ("escaped-backslash", r"\\{{name}}", F({"name"}), {"name": "A"}),
    # literals and data variables
    ("at-data-top-level", "{{@index}} {{@key}} {{@root}}", F(), None),
    ("literals", "{{fmt 'a' \"b\" 1 -2.5 true false null undefined}}", F(), None),
    ("lone-literals", '{{"s"}} {{42}} {{true}} {{false}} {{null}} {{undefined}}', F(), None),
    (
        "at-data",
        "{{#each xs}}{{@index}}{{@key}}{{@first}}{{@last}}{{/each}}",
        F(),
        {"xs": [1]},
    ),
    # conditionals
    ("if", "{{#if flag}}{{a}}{{/if}}{{name}}", F({"name"}), {"flag": 1, "a": 1, "name": 1}),
    ("if-else", "{{#if flag}}{{a}}{{else}}{{b}}{{/if}}", F(), {"flag": 1, "a": 1, "b": 1}),
    (
        "else-if",
        "{{#if x}}{{a}}{{else if y}}{{b}}{{else}}{{c}}{{/if}}{{d}}",
        F({"d"}),
        {"x": 0, "y": 1, "a": 1, "b": 1, "c": 1, "d": 1},
    ),
    ("unless", "{{#unless off}}{{a}}{{/unless}}{{b}}", F({"b"}), {"off": 0, "a": 1, "b": 1}),
    ("caret-else", "{{#if x}}{{a}}{{^}}{{b}}{{/if}}", F(), {"x": 1, "a": 1, "b": 1}),
    ("inverse-section", "{{^empty}}{{a}}{{/empty}}", F(), {"empty": 0, "a": 1}),
    ("mustache-section", "{{#person}}{{name}}{{/person}}", F(), {"person": {"name": "A"}}),
    (
        "nested-blocks",
        "{{#if a}}{{#if b}}{{c}}{{/if}}{{d}}{{/if}}{{e}}",
        F({"e"}),
        {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1},
    ),
    ("condition-path", "{{#if user.vip}}VIP{{/if}}", F(), {"user": {"vip": True}}),
    # iteration and context
    (
        "each",
        "{{#each items}}{{this}} {{name}} {{@index}}{{/each}}",
        F(),
        {"items": [{"name": "a"}]},
    ),
    (
        "each-else",
        "{{#each items}}{{x}}{{else}}{{none}}{{/each}}{{total}}",
        F({"total"}),
        {"items": [], "none": 1, "total": 1},
    ),
    (
        "each-block-params",
        "{{#each items as |item i|}}{{item.name}}{{i}}{{/each}}",
        F(),
        {"items": [{"name": "a"}]},
    ),
    ("each-parent", "{{#each items}}{{../title}}{{/each}}", F(), {"items": [1], "title": "T"}),
    ("each-root", "{{#each items}}{{@root.title}}{{/each}}", F(), {"items": [1], "title": "T"}),
    ("with", "{{#with user}}{{first}}{{/with}}{{id}}", F({"id"}), {"user": {"first": 1}, "id": 1}),
    (
        "with-else",
        "{{#with user}}{{first}}{{else}}{{fallback}}{{/with}}",
        F(),
        {"user": {"first": 1}, "fallback": 1},
    ),
    # helpers
    (
        "helper-args",
        '{{fmt when "YYYY" tz=zone}} {{lookup user "first"}}',
        F(),
        {"when": 1, "zone": 1, "user": {"first": 1}},
    ),
    ("helper-subexpression", "{{#if (eq plan 'pro')}}{{a}}{{/if}}{{b}}", F({"b"}), None),
    (
        "comparison-blocks",
        "{{#eq a b}}{{x}}{{/eq}}{{#gt n 1}}{{y}}{{/gt}}{{#and p q}}{{z}}{{/and}}"
        "{{#or p q}}{{z}}{{/or}}{{#not p}}{{z}}{{/not}}{{#ne a b}}{{z}}{{/ne}}{{w}}",
        F({"w"}),
        None,
    ),
    ("ifcond", "{{#ifCond a '==' b}}{{x}}{{else}}{{y}}{{/ifCond}}{{z}}", F({"z"}), None),
    ("string-holds-braces", '{{fmt "}} {{x}}"}}{{name}}', F({"name"}), None),
    # inline partials (SES documents them)
    (
        "inline-partial",
        '{{#* inline "full"}}{{first}}{{#if last}} {{last}}{{/if}}{{/inline~}}\nHello {{> full}}!',
        F({"first"}),
        {"first": "A", "last": "B"},
    ),
    (
        "inline-partial-called-first",
        '{{> full}}{{#*inline "full"}}{{first}}{{/inline}}',
        F({"first"}),
        {"first": "A"},
    ),
    (
        "inline-partial-in-each",
        '{{#*inline "full"}}{{first}}{{/inline}}{{#each friends}}{{> full}}{{/each}}',
        F(),
        {"friends": [{"first": "A"}]},
    ),
    (
        "partial-calls-partial",
        '{{#*inline "a"}}{{x}}{{> b}}{{/inline}}{{#*inline "b"}}{{y}}{{/inline}}{{> a}}',
        F({"x", "y"}),
        {"x": 1, "y": 2},
    ),
    (
        "partial-with-context",
        '{{#*inline "p"}}{{first}}{{/inline}}{{> p user}}',
        F(),
        {"user": {"first": "A"}},
    ),
]


@pytest.mark.parametrize(
    ("template", "expected"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES]
)
def test_required_variables_per_construct(template: str, expected: frozenset[str]) -> None:
    # Given a template using one construct; When its variables are listed
    required = required_variables(template)
    # Then exactly the paths needed outside any block are listed
    assert required == expected


def test_variables_of_all_parts_are_united() -> None:
    # Given a subject, a text and an HTML part (one of them empty)
    subject, text, html = "Hi {{name}}", "", "<p>{{order.id}}</p>{{#if x}}{{y}}{{/if}}"
    # When the variables of the whole template are listed
    required = required_variables(subject, text, html)
    # Then they are the union of the parts'
    assert required == F({"name", "order.id"})


def test_inline_partials_do_not_carry_between_parts() -> None:
    # Given a partial defined in the HTML part and called in the text part
    html, text = '{{#*inline "p"}}{{first}}{{/inline}}', "{{> p}}"
    # When the variables are listed; Then the text part's call requires nothing
    assert required_variables(html, text) == F()


def test_ses_guide_preferences_template() -> None:
    # Given the SES developer guide's conditional example (HTML part)
    html = (
        "<h1>Your Preferences</h1><p>Dear {{contact.firstName}},</p>"
        "{{#if subscription}}<ul>{{#each subscription}}<li>{{interest}}</li>{{/each}}</ul>"
        "<a href=https://www.example.com/p?id={{meta.userId}}>Preference Center</a>"
        "{{else}}<a href=https://www.example.com/p?id={{meta.userId}}>Preference Center</a>"
        "{{/if}}"
    )
    subject = "Subscription Preferences for {{contact.firstName}} {{contact.lastName}}"
    # When its variables are listed
    required = required_variables(subject, html)
    # Then the recipient without `subscription` (the guide's second one) is not refused
    assert required == F({"contact.firstName", "contact.lastName"})
    data = {"meta": {"userId": "1"}, "contact": {"firstName": "S", "lastName": "R"}}
    assert missing_variables(required, data) == []


# scan: the tokenizer the local renderer shares ------------------------------------------


@pytest.mark.parametrize(
    ("template", "kind", "modifier", "tokens", "strip"),
    [
        ("{{name}}", "", "", ("name",), (False, False)),
        ("{{~{raw}~}}", "{", "", ("raw",), (True, True)),
        ("{{& raw ~}}", "&", "", ("raw",), (False, True)),
        ("{{#each xs as |x|}}", "#", "", ("each", "xs", "as", "|", "x", "|"), (False, False)),
        ('{{#* inline "p"}}', "#", "*", ("inline", '"p"'), (False, False)),
        ("{{#> layout}}", "#", ">", ("layout",), (False, False)),
        ("{{^x}}", "^", "", ("x",), (False, False)),
        ("{{~else if y~}}", "else", "", ("if", "y"), (True, True)),
        ("{{^}}", "else", "", (), (False, False)),
        ("{{/if}}", "/", "", ("if",), (False, False)),
        ("{{> p user}}", ">", "", ("p", "user"), (False, False)),
        ('{{f (g a "}}") k=v}}', "", "", ("f", "(", "g", "a", '"}}"', ")", "k", "=", "v"),
         (False, False)),
        ("{{~!-- c --~}}", "!", "", (), (True, True)),
    ],
)  # fmt: skip
def test_scan_reads_each_tag_kind(
    template: str, kind: str, modifier: str, tokens: tuple[str, ...], strip: tuple[bool, bool]
) -> None:
    # Given one tag; When scanned; Then its kind, words and whitespace control are read
    (tag,) = scan(template)
    assert (tag.kind, tag.modifier, tag.tokens, tag.strip) == (kind, modifier, tokens, strip)
    assert (tag.start, tag.end, tag.line) == (0, len(template), 1)


def test_scan_gives_spans_lines_and_raw_text() -> None:
    # Given text, an escaped mustache, a raw block and a tag on line 3
    text = r"a \{{x}} {{{{raw}}}}{{y}}{{{{/raw}}}}" + "\n\n{{z}}"
    # When scanned
    tags = list(scan(text))
    # Then the escaped one is text, the raw block keeps its inside, lines are counted
    assert [(t.kind, t.tokens, t.line) for t in tags] == [("raw", ("raw",), 1), ("", ("z",), 3)]
    assert tags[0].inner == "{{y}}"
    assert text[tags[1].start : tags[1].end] == "{{z}}"


# missing_variables -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "A", "user": {"first": "B"}}, []),
        ({}, ["name", "user.first"]),
        ({"name": "A"}, ["user.first"]),
        ({"name": "A", "user": {}}, ["user.first"]),
        ({"name": "A", "user": "not an object"}, ["user.first"]),
        ({"name": "A", "user": None}, ["user.first"]),
        ({"name": None, "user": {"first": None}}, ["name", "user.first"]),
        ({"name": "", "user": {"first": 0}}, []),
        ({"Name": "A", "user": {"First": "B"}}, ["name", "user.first"]),
    ],
    ids=[
        "all-present",
        "empty",
        "no-parent",
        "no-child",
        "parent-scalar",
        "parent-null",
        "null-is-missing",
        "empty-and-zero-present",
        "case-sensitive",
    ],
)
def test_missing_variables_nested(data: dict[str, Any], expected: list[str]) -> None:
    # Given a template needing a top-level and a nested path
    required = required_variables("{{name}} {{user.first}}")
    # When one message's data is checked; Then the absent paths are listed, sorted
    assert missing_variables(required, data) == expected


def test_missing_variables_deep_paths_lists_and_odd_keys() -> None:
    # Given paths through lists, deep objects and keys holding spaces or dots
    required = required_variables("{{a.b.c}} {{items.[1]}} {{[first name]}} {{[x.y]}}")
    assert required == F({"a.b.c", "items.1", "first name", "[x.y]"})
    # When the data has some of them; Then the others are named
    data = {"a": {"b": {"c": False}}, "items": ["only one"], "first name": "A", "x": {"y": 1}}
    assert missing_variables(required, data) == ["[x.y]", "items.1"]
    assert missing_variables(required, {**data, "items": [0, 1], "x.y": 1}) == []


def test_missing_variables_of_nothing_required() -> None:
    assert missing_variables(F(), {}) == []


# malformed templates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{#if x}}open", "{{#if}} opened on line 1 is never closed"),
        ("a\n{{#each xs}}\n{{/if}}", "{{/if}} on line 3 does not match {{#each}} opened on line 2"),
        ("{{#if a}}{{#with b}}{{/if}}{{/with}}", "{{/if}} on line 1 does not match {{#with}}"),
        ("text {{/if}}", "{{/if}} on line 1 closes no block"),
        ("{{else}}", "{{else}} outside a block on line 1"),
        ("{{^}}", "{{else}} outside a block on line 1"),
        ("{{name", "unclosed tag on line 1"),
        ("{{name}", "unclosed tag on line 1"),
        ("{{{name}}", "unclosed tag on line 1"),
        ('{{fmt "unterminated}}', "unclosed tag on line 1"),
        ("{{[first name}}", "unclosed tag on line 1"),
        ("{{}}", "empty tag on line 1"),
        ("{{  ~}}", "empty tag on line 1"),
        ("x\n\n{{!-- never closed }}", "unclosed comment on line 3"),
        ("{{! never closed", "unclosed comment on line 1"),
        ("{{{{raw}}}} {{x}}", "unclosed raw block {{{{raw}}}} opened on line 1"),
        ("{{{{raw}}", "malformed raw block on line 1"),
    ],
)
def test_malformed_template_is_refused(template: str, message: str) -> None:
    # Given a template Handlebars would not compile; When its variables are listed
    with pytest.raises(TemplateSyntaxError) as caught:
        required_variables("fine {{ok}}", template)
    # Then the error names the problem and where, and is a ValueError
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


# oracle: handlebars.js 4.7.8 in strict mode (the pinned `handlebars` package) --

# Cases where strict handlebars.js also fails with only the required data: the path is needed
# only when a condition picks that branch (`else`, `unless`), or by strict mode's own rules
# (sections, a missing parent in a condition, a partial's context) that SES is not known to
# share. This module under-reports there on purpose.
CONSERVATIVE = {
    "if-else", "else-if", "caret-else", "unless", "each-else", "with-else",
    "inverse-section", "mustache-section", "condition-path", "partial-with-context",
}  # fmt: skip


def _without(data: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of data with one required path removed."""
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node.pop(int(last))
    else:
        del node[last.strip("[]")]
    return data


def _only(paths: frozenset[str]) -> dict[str, Any]:
    """Data holding exactly the given paths (list indexes as lists)."""
    data: dict[str, Any] = {}
    for path in paths:
        segments = path.split(".")
        node: Any = data
        for part, child in itertools.pairwise(segments):
            node = node.setdefault(part, [] if child.isdigit() else {})
        if isinstance(node, list):
            node.extend(["v"] * (int(segments[-1]) + 1 - len(node)))
        else:
            node[segments[-1]] = "v"
    return data


def _fails(render: Any, data: dict[str, Any]) -> bool:
    try:
        render(data)
    except Exception:  # js2py raises its own JsException
        return True
    return False


def test_required_variables_agree_with_handlebars_js() -> None:
    import handlebars  # pinned in requirements-dev.txt: the oracle always runs
    import js2py

    hbs = handlebars.Handlebars.create()  # its own helpers, none shared between tests
    hbs.registerHelper("fmt", js2py.eval_js("(function () { return 'formatted'; })"))
    disagreements = []
    for case_id, template, expected, data in CASES:
        if data is None:
            continue
        render = hbs.compile(template, {"strict": True})
        # Given complete data, the template renders in strict mode
        if _fails(render, data):
            disagreements.append(f"{case_id}: fails with complete data")
        # When any one required path is removed, Then strict rendering fails
        disagreements += [
            f"{case_id}: renders without {path}"
            for path in expected
            if not _fails(render, _without(data, path))
        ]
        # When only the required paths are given, Then it renders (except the conservative)
        if _fails(render, _only(expected)) != (case_id in CONSERVATIVE):
            disagreements.append(f"{case_id}: only-required data, conservative mismatch")
    assert disagreements == []
