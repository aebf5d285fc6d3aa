"""Local rendering of an SES template part, so a user sees what a recipient gets.

A small Handlebars renderer over the Lambda's own tokenizer (``bulk_sender.template_vars``),
so ``template check`` and ``template render`` never disagree on what a template says.
It covers what SES documents: variables and paths (``this``, ``../``, ``@root``,
``@index``/``@key``/``@first``/``@last``, block parameters ``as |item i|``, ``.length``),
``#if``/``#unless``/``else``/``else if`` (``includeZero=true``), ``#each`` over lists and
objects, ``#with``, sections ``{{#x}}``/``{{^x}}``, ``lookup``, inline partials, comments,
raw blocks, ``\\{{`` escapes, ``~`` whitespace control and standalone block lines
(a standalone partial's lines are not re-indented).

Like SES, a plain ``{{x}}`` whose value is missing or null fails (``RenderError`` naming
the path and line, never a value), and nothing is HTML-escaped by default: the SES guide
says "SES doesn't escape HTML content when rendering the HTML template". ``escape=True``
gives Handlebars' own escaping of ``{{x}}`` (never of ``{{{x}}}`` or ``{{& x}}``).
Other helpers are refused: SES documents none beyond Handlebars' built-ins.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulk_sender.template_vars import Tag, TemplateSyntaxError, required_variables, scan, split_path

__all__ = ["RenderError", "TemplateSyntaxError", "render"]

_MISSING: Any = object()
_STANDALONE = ("#", "^", "/", "else", "!", ">")
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        "`": "&#x60;",
        "=": "&#x3D;",
    }
)
_LITERALS = {"true": True, "false": False, "null": None, "undefined": None}


class RenderError(ValueError):
    """A template that SES would not render with this data (names paths, never values)."""


def render(template_text: str, data: Mapping[str, Any], *, escape: bool = False) -> str:
    """One template part rendered with one recipient's data, as SES would."""
    required_variables(template_text)  # the same syntax checks and messages as the Lambda
    partials: dict[str, list[Any]] = {}
    nodes = _tree(_pieces(template_text), partials)
    out: list[str] = []
    _Renderer(partials, escape).run(nodes, _Scope(data, None, {"root": data}, {}), out)
    return "".join(out)


def _pieces(text: str) -> list[Any]:
    """Text and tags alternating (text first and last), whitespace control applied."""
    tags = list(scan(text))
    texts, pos = [], 0
    for tag in tags:
        texts.append(text[pos : tag.start])
        pos = tag.end
    texts.append(text[pos:])
    original = list(texts)  # a tag is standalone by the text as written
    for n, tag in enumerate(tags):
        _, line_opens, line_start = original[n].rpartition("\n")
        line_end, line_closes, _ = original[n + 1].partition("\n")
        alone = (line_opens or n == 0) and (line_closes or n + 1 == len(tags))
        blank = not (line_start.strip() or line_end.strip())
        if tag.strip[0]:
            texts[n] = texts[n].rstrip()
        if tag.strip[1]:
            texts[n + 1] = texts[n + 1].lstrip()
        if tag.kind in _STANDALONE and alone and blank:  # a block tag alone on its line
            texts[n] = texts[n].rstrip(" \t")
            first, newline, rest = texts[n + 1].partition("\n")
            texts[n + 1] = rest if newline and not first.strip() else texts[n + 1].lstrip(" \t")
    for n, piece in enumerate(texts):
        piece = piece.replace("\\{{", "{{")
        texts[n] = piece[:-1] if n < len(tags) and piece.endswith("\\\\") else piece
    return [p for pair in zip(texts, [*tags, ""], strict=True) for p in pair if p != ""]


@dataclass
class _Block:
    tag: Tag
    body: list[Any] = field(default_factory=list)
    inverse: list[Any] = field(default_factory=list)
    chained: bool = False  # an ``else if``: closed with the block it continues


def _tree(pieces: list[Any], partials: dict[str, list[Any]]) -> list[Any]:
    """Nest the pieces into blocks (the syntax was checked already)."""
    root: list[Any] = []
    current, stack = root, []  # stack: (block, list to return to on close)
    for piece in pieces:
        if isinstance(piece, str) or piece.kind not in ("#", "^", "else", "/", "!", "raw"):
            current.append(piece)
        elif piece.kind == "raw":
            current.append(piece.inner)
        elif piece.kind in ("#", "^"):
            block = _Block(piece)
            current.append(block)
            stack.append((block, current))
            current = block.body
            if piece.modifier == "*" and len(piece.tokens) > 1:
                partials[piece.tokens[1].strip("\"'")] = block.body
        elif piece.kind == "else":
            block = stack[-1][0]
            current = block.inverse
            if piece.tokens:  # {{else if y}}: a block inside the inverse, closed with this one
                chained = _Block(Tag("#", "", piece.tokens, piece.start, piece.end, piece.line))
                chained.chained = True
                current.append(chained)
                stack.append((chained, current))
                current = chained.body
        elif piece.kind == "/":
            while stack[-1][0].chained:
                stack.pop()
            current = stack.pop()[1]
    return root


@dataclass
class _Scope:
    this: Any
    parent: "_Scope | None"
    data: dict[str, Any]  # @root, @index, @key, @first, @last
    params: dict[str, Any]  # block parameters


def _truthy(value: Any, include_zero: bool = False) -> bool:
    if value is _MISSING or value is None or value is False or value == "" or value == []:
        return False
    return include_zero or isinstance(value, bool) or value != 0


def _text(value: Any) -> str:
    """A value as JavaScript (Handlebars) writes it."""
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return "[object Object]" if isinstance(value, Mapping) else str(value)


def _walk(value: Any, segments: list[str]) -> Any:
    for segment in segments:
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, (list, str)) and segment == "length":
            value = len(value)
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
    return value


class _Renderer:
    def __init__(self, partials: dict[str, list[Any]], escape: bool) -> None:
        self.partials, self.escape = partials, escape

    def run(self, nodes: list[Any], scope: _Scope, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, _Block):
                self.block(node, scope, out)
            elif node.kind == ">":
                self.partial(node, scope, out)
            else:
                self.mustache(node, scope, out)

    def value(self, token: str, scope: _Scope, line: int) -> Any:
        """A parameter's value: a literal, a data variable or a path; _MISSING if absent."""
        if token[0] in "\"'":
            return token[1:-1].replace("\\" + token[0], token[0])
        if token in _LITERALS:
            return _LITERALS[token]
        if token.lstrip("-").replace(".", "", 1).isdigit():
            return float(token) if "." in token else int(token)
        if token[0] in "()=|":
            raise RenderError(f"subexpressions and hash arguments are not supported (line {line})")
        if token.startswith("@"):
            segments = split_path(token[1:])
            return _walk(scope.data.get(segments[0], _MISSING), segments[1:])
        while token.startswith(("../", "..")):
            scope, token = scope.parent or scope, token[3:]
        if token in ("this", ".", ""):
            return scope.this
        for prefix in ("this.", "this/", "./"):
            if token.startswith(prefix):
                return _walk(scope.this, split_path(token[len(prefix) :]))
        segments = split_path(token)
        if segments[0] in scope.params:
            return _walk(scope.params[segments[0]], segments[1:])
        return _walk(scope.this, segments)

    def mustache(self, tag: Tag, scope: _Scope, out: list[str]) -> None:
        head, args = tag.tokens[0], tag.tokens[1:]
        if head == "lookup" and len(args) == 2:
            value = _walk(
                self.value(args[0], scope, tag.line), [_text(self.value(args[1], scope, tag.line))]
            )
        elif head == "log":
            return
        elif args:
            raise RenderError(f"helper {head!r} on line {tag.line} is not supported")
        elif head[0] in "\"'-0123456789" or head in _LITERALS:  # {{"a b"}}: the key "a b"
            value = _walk(scope.this, [_text(self.value(head, scope, tag.line))])
        else:
            value = self.value(head, scope, tag.line)
            if value is _MISSING or value is None:
                raise RenderError(f"{head} on line {tag.line} is missing from the data")
        text = _text(value)
        out.append(text.translate(_ESCAPES) if self.escape and tag.kind == "" else text)

    def partial(self, tag: Tag, scope: _Scope, out: list[str]) -> None:
        name = tag.tokens[0].strip("\"'")
        if name not in self.partials:
            raise RenderError(f"partial {name!r} on line {tag.line} is not defined")
        if len(tag.tokens) > 1:
            value = self.value(tag.tokens[1], scope, tag.line)
            scope = _Scope(value, scope, scope.data, scope.params)
        self.run(self.partials[name], scope, out)

    def block(self, block: _Block, scope: _Scope, out: list[str]) -> None:
        tag = block.tag
        name, args = tag.tokens[0], list(tag.tokens[1:])
        names: list[str] = []
        if "as" in args and args[args.index("as") + 1 : args.index("as") + 2] == ["|"]:
            at = args.index("as")
            names, args = [t for t in args[at + 2 :] if t != "|"], args[:at]
        if tag.modifier == "*":
            return
        if tag.modifier == ">":
            self.run(self.partials.get(name, block.body), scope, out)
            return
        if tag.kind == "^":
            truthy = _truthy(self.value(name, scope, tag.line))
            self.run(block.inverse if truthy else block.body, scope, out)
            return
        target = self.value(args[0], scope, tag.line) if args else _MISSING
        if name in ("if", "unless"):
            shown = _truthy(target, "includeZero" in args) != (name == "unless")
            self.run(block.body if shown else block.inverse, scope, out)
        elif name == "each":
            self.each(block, target, names, scope, out)
        elif name == "with":
            if _truthy(target, include_zero=True):
                params = {**scope.params, **dict(zip(names, [target], strict=False))}
                self.run(block.body, _Scope(target, scope, scope.data, params), out)
            else:
                self.run(block.inverse, scope, out)
        elif args:
            raise RenderError(f"block helper {name!r} on line {tag.line} is not supported")
        else:  # a section {{#x}}: a list iterates, a truthy value becomes the context
            value = self.value(name, scope, tag.line)
            if isinstance(value, list) and value:
                self.each(block, value, names, scope, out)
            elif value is True:
                self.run(block.body, scope, out)
            elif _truthy(value):
                self.run(block.body, _Scope(value, scope, scope.data, scope.params), out)
            else:
                self.run(block.inverse, scope, out)

    def each(
        self, block: _Block, target: Any, names: list[str], scope: _Scope, out: list[str]
    ) -> None:
        if isinstance(target, Mapping):
            items = list(target.items())
        elif isinstance(target, list):
            items = list(enumerate(target))
        else:
            items = []
        if not items:
            self.run(block.inverse, scope, out)
        for index, (key, item) in enumerate(items):
            data = {
                **scope.data,
                "index": index,
                "key": key,
                "first": index == 0,
                "last": index == len(items) - 1,
            }
            params = {**scope.params, **dict(zip(names, [item, key], strict=False))}
            self.run(block.body, _Scope(item, scope, data, params), out)
