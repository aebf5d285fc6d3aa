"""Local rendering of an SES template part: what a recipient gets.

Given a template and one recipient's data, When rendered, Then the text is exactly the
expected one. handlebars.js 4.7.8 (the pinned `handlebars` package) renders the same
cases are rendered by it too, with HTML escaping on, and must agree.
"""

from typing import Any

import pytest

from bulkmail.render import RenderError, TemplateSyntaxError, render

USER = {"first": "Ann", "last": "Lee"}

# id, template, data, expected (escape=False, as SES renders)
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("variable", "Hi {{name}}!", {"name": "Ann"}, "Hi Ann!"),
    ("nested-path", "{{user.first}} {{user/last}}", {"user": USER}, "Ann Lee"),
    ("this-and-root", "{{this.a}} {{./a}} {{@root.a}}", {"a": 1}, "1 1 1"),
    ("segment-literal", "{{[first name]}} {{items.[1]}}", {"first name": "A", "items": [0, 9]},
     "A 9"),
    ("length", "{{items.length}} {{word.length}}", {"items": [1, 2], "word": "abc"}, "2 3"),
    ("no-escape-by-default", "{{h}} {{{h}}} {{& h}}", {"h": "<b>&"}, "<b>& <b>& <b>&"),
    ("values", "{{t}} {{f}} {{i}} {{x}} {{l}} {{o}} {{e}}",
     {"t": True, "f": False, "i": 2.0, "x": 1.5, "l": ["a", "b"], "o": {"k": 1}, "e": ""},
     "true false 2 1.5 a,b [object Object] "),
    ("literals", '{{lookup user "first"}} {{lookup items 1}}', {"user": USER, "items": [0, 9]},
     "Ann 9"),
    ("lookup-missing", '{{lookup user "nope"}}.', {"user": USER}, "."),
    # conditionals
    ("if", "{{#if a}}yes{{/if}}.", {"a": 1}, "yes."),
    ("if-else", "{{#if a}}yes{{else}}no{{/if}}", {"a": 0}, "no"),
    ("if-missing", "{{#if a}}yes{{else}}no{{/if}}", {}, "no"),
    ("if-include-zero", "{{#if a includeZero=true}}yes{{else}}no{{/if}}", {"a": 0}, "yes"),
    ("falsy-values", "{{#if a}}1{{/if}}{{#if b}}2{{/if}}{{#if c}}3{{/if}}{{#if d}}4{{/if}}"
     "{{#if e}}5{{/if}}", {"a": "", "b": [], "c": None, "d": False, "e": {}}, "5"),
    ("else-if", "{{#if a}}A{{else if b}}B{{else if c}}C{{else}}D{{/if}}", {"c": 1}, "C"),
    ("unless", "{{#unless a}}U{{else}}V{{/unless}}", {}, "U"),
    ("caret-else", "{{#if a}}A{{^}}B{{/if}}", {}, "B"),
    ("inverse-section", "{{^a}}none{{/a}}{{^b}}none{{else}}some{{/b}}", {"a": [], "b": [1]},
     "nonesome"),
    ("section", "{{#user}}{{first}}{{/user}}{{#flag}}{{name}}{{/flag}}{{#xs}}{{.}}{{/xs}}",
     {"user": USER, "flag": True, "name": "N", "xs": [1, 2]}, "AnnN12"),
    # iteration and context
    ("each-list", "{{#each xs}}{{@index}}{{this}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}},"
     "{{/each}}", {"xs": ["a", "b", "c"]}, "0aF,1b,2cL,"),
    ("each-object", "{{#each m}}{{@key}}={{this}};{{/each}}", {"m": {"x": 1, "y": 2}}, "x=1;y=2;"),
    ("each-else", "{{#each xs}}{{this}}{{else}}empty{{/each}}", {"xs": []}, "empty"),
    ("each-missing", "[{{#each xs}}{{this}}{{/each}}]", {}, "[]"),
    ("each-items", "{{#each people}}{{first}} {{/each}}", {"people": [USER, {"first": "Bo"}]},
     "Ann Bo "),
    ("each-block-params", "{{#each xs as |x i|}}{{i}}:{{x.n}} {{/each}}",
     {"xs": [{"n": "a"}, {"n": "b"}]}, "0:a 1:b "),
    ("each-parent", "{{#each xs}}{{../title}}{{this}}{{/each}}", {"xs": [1, 2], "title": "T"},
     "T1T2"),
    ("each-nested", "{{#each rows}}{{#each this}}{{this}}{{/each}};{{/each}}",
     {"rows": [[1, 2], [3]]}, "12;3;"),
    ("with", "{{#with user}}{{first}} {{../title}}{{/with}}", {"user": USER, "title": "T"},
     "Ann T"),
    ("with-else", "{{#with user}}{{first}}{{else}}nobody{{/with}}", {}, "nobody"),
    ("block-params-nested", "{{#each xs as |x|}}{{#each ../ys}}{{x}}{{this}} {{/each}}{{/each}}",
     {"xs": ["a"], "ys": [1, 2]}, "a1 a2 "),
    ("with-block-params", "{{#with user as |u|}}{{u.last}}{{/with}}", {"user": USER}, "Lee"),
    # text handling
    ("comments", "a{{! one }}b{{!-- two }} --}}c", {}, "abc"),
    ("raw-block", "{{{{raw}}}}{{not}} {{#a}}{{{{/raw}}}}", {}, "{{not}} {{#a}}"),
    ("escaped", r"\{{name}} \\{{name}}", {"name": "A"}, r"{{name}} \A"),
    ("whitespace-control", "a  {{~name~}}  b {{#if x~}}  c  {{~/if}} d", {"name": "N", "x": 1},
     "aNb c d"),
    ("standalone-lines", "List:\n{{#each xs}}\n  - {{this}}\n{{/each}}\nEnd\n", {"xs": [1, 2]},
     "List:\n  - 1\n  - 2\nEnd\n"),
    ("standalone-else", "{{#if a}}\nyes\n{{else}}\nno\n{{/if}}\n", {"a": 0}, "no\n"),
    ("not-standalone", "x {{#if a}}y{{/if}}\n", {"a": 1}, "x y\n"),
    ("standalone-crlf", "{{#if a}}\r\nyes\r\n{{else}}\r\nno\r\n{{/if}}\r\nend", {"a": 1},
     "yes\r\nend"),
    ("standalone-nested", "{{#each xs}}\n{{#if this}}\nT\n{{else if ../b}}\nB\n{{/if}}\n{{/each}}",
     {"xs": [1, 0], "b": 1}, "T\nB\n"),
    ("standalone-comment", "a\n  {{! one }}\n  {{!-- two --}}  \nb", {}, "a\nb"),
    ("standalone-partial", '{{#*inline "p"}}\nP{{x}}\n{{/inline}}\n{{> p}}\n', {"x": 1}, "P1\n"),
    ("literal-as-key", '{{"a b"}} {{1}}', {"a b": "A", "1": "one"}, "A one"),
    ("big-number", "{{n}} {{f}} {{big}} {{neg}}", {"n": 0, "f": 0.1, "big": 1e21, "neg": -3},
     "0 0.1 1e+21 -3"),
    # inline partials (the SES guide's example)
    ("inline-partial", '{{#* inline "fullName"}}{{first}}{{#if last}} {{last}}{{/if}}{{/inline~}}\n'
     "Hello {{> fullName}}!{{#each friends}} [{{> fullName}}]{{/each}}",
     {"first": "Ann", "friends": [USER, {"first": "Bo"}]}, "Hello Ann! [Ann Lee] [Bo]"),
    ("partial-context", '{{#*inline "p"}}{{first}}{{/inline}}{{> p user}}', {"user": USER}, "Ann"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("template", "data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_render_per_construct(template: str, data: dict[str, Any], expected: str) -> None:
    # Given a template and one recipient's data; When rendered as SES would
    text = render(template, data)
    # Then the recipient gets exactly this
    assert text == expected


def test_escape_on_request_only_for_double_stash() -> None:
    # Given a value holding HTML; When rendered with Handlebars' escaping
    text = render("{{h}}|{{{h}}}|{{& h}}", {"h": "<a href='x'>&\"`=</a>"}, escape=True)
    # Then only {{h}} is escaped, as handlebars.js does
    escaped = "&lt;a href&#x3D;&#x27;x&#x27;&gt;&amp;&quot;&#x60;&#x3D;&lt;/a&gt;"
    assert text == f"{escaped}|<a href='x'>&\"`=</a>|<a href='x'>&\"`=</a>"


@pytest.mark.parametrize(
    ("template", "data", "message"),
    [
        ("Hi {{name}}", {}, "name on line 1 is missing from the data"),
        ("Hi\n{{user.first}}", {"user": {}}, "user.first on line 2 is missing from the data"),
        ("{{name}}", {"name": None}, "name on line 1 is missing from the data"),
        ("{{#each xs}}{{n}}{{/each}}", {"xs": [{"n": 1}, {}]}, "n on line 1 is missing"),
        ("{{#if a}}{{b}}{{/if}}", {"a": 1}, "b on line 1 is missing"),
        ("{{fmt when}}", {"when": 1}, "helper 'fmt' on line 1 is not supported"),
        ("{{#eq a b}}x{{/eq}}", {}, "block helper 'eq' on line 1 is not supported"),
        ("{{> nowhere}}", {}, "partial 'nowhere' on line 1 is not defined"),
        ("{{#if (eq a b)}}x{{/if}}", {}, "subexpressions and hash arguments are not supported"),
    ],
)
def test_render_refuses_what_ses_would_not_render(
    template: str, data: dict[str, Any], message: str
) -> None:
    # Given data lacking a variable, or a helper SES does not document; When rendered
    with pytest.raises(RenderError) as caught:
        render(template, data)
    # Then the error names the path or helper and the line, never a data value
    assert str(caught.value).startswith(message)


def test_render_refuses_a_malformed_template_as_the_lambda_does() -> None:
    # Given a block never closed; When rendered; Then the Lambda's syntax error is raised
    with pytest.raises(TemplateSyntaxError, match=r"\{\{#if\}\} opened on line 1 is never closed"):
        render("{{#if a}}x", {"a": 1})


def test_render_does_not_change_the_data() -> None:
    data = {"xs": [{"n": 1}], "user": USER}
    before = repr(data)
    render("{{#each xs}}{{n}}{{/each}}{{#with user}}{{first}}{{/with}}", data)
    assert repr(data) == before


def test_render_agrees_with_handlebars_js() -> None:
    import handlebars  # pinned in requirements-dev.txt: the oracle always runs
    import js2py

    hbs = handlebars.Handlebars.create()  # its own helpers, none shared between tests
    hbs.registerHelper("raw", js2py.eval_js("(function (options) { return options.fn(); })"))
    disagreements = []
    for case_id, template, data, _expected in CASES:
        # Given a case; When both render it with HTML escaping; Then the texts are equal
        theirs = str(hbs.compile(template)(data))
        ours = render(template, data, escape=True)
        if ours != theirs:
            disagreements.append(f"{case_id}: {ours!r} != {theirs!r}")
    assert disagreements == []
