"""Which template data an SES (Handlebars) template needs, checked before the send.

SES accepts a templated send whose data lacks a variable, answers SUCCESS, then drops
the email with a Rendering Failure. ``required_variables`` lists the data paths whose
absence would do that; ``missing_variables`` compares them with one message's data.

Rules (a path is "required" only where its absence surely breaks rendering):

- A plain mustache that is only a path, ``{{name}}``, ``{{{name}}}``, ``{{& name}}``
  (any ``~`` whitespace control), standing outside every block, requires that path:
  ``{{user.first}}`` -> ``user.first``; ``this.x``, ``./x``, ``@root.x`` and ``user/x``
  are the same paths; ``[first name]`` is a key with a space, ``items.[0]`` a list index.
- Nothing inside any block is required, nor the block's arguments: ``#if``/``#unless``
  (both branches, ``else if`` too), ``#each``/``#with`` (relative to the item and
  rendered only if it is truthy; a missing target renders nothing or the ``else``),
  ``{{^x}}``, mustache sections ``{{#x}}``, and any other block helper. SES documents
  only Handlebars' built-in helpers (if, unless, each, with, lookup, log); comparison
  helpers such as ``eq``/``gt``/``ifCond`` are Pinpoint/Connect features, and would be
  blocks here all the same.
- A helper call with arguments, ``{{fmt when "x" k=v}}``, requires nothing: neither the
  helper's name nor its arguments (no evidence that a missing argument fails SES).
- Lone literals (``{{"s"}}``, ``{{42}}``, ``{{true}}``, ``null``, ``undefined``), ``this``,
  ``.``, ``../x`` and ``@index``/``@key``/``@first``/``@last`` require nothing.
- Comments, raw blocks ``{{{{raw}}}}...{{{{/raw}}}}`` and escaped ``\\{{x}}`` are text.
- An inline partial ``{{#*inline "p"}}...{{/inline}}`` (SES documents these) adds what its
  body requires wherever ``{{> p}}`` (no arguments) stands outside every block. Partials
  do not carry between the subject, text and HTML parts.

``missing_variables`` treats a ``null`` value as missing and ``""`` as present.

Evidence: the SES guide's example sends a recipient without ``subscription`` to a template
with ``{{#if subscription}}{{#each subscription}}`` and that recipient gets the ``else``
branch; AWS's knowledge-center page on Rendering Failures: every variable in the template
needs a case-sensitive counterpart in the data; aws-sdk-js issue 2239: a variable that is
"missing, undefined or null" is not delivered; moto's SES renderer raises
MissingRenderingAttribute on a missing or null variable and renders a missing ``#each``
target as nothing. handlebars.js in strict mode throws exactly on the required mustaches
above (the tests check it where that package is installed).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TemplateSyntaxError", "missing_variables", "required_variables"]

_LITERALS = frozenset({"true", "false", "null", "undefined"})


class TemplateSyntaxError(ValueError):
    """A template Handlebars would refuse to compile; the message names tags, never data."""


def required_variables(*texts: str) -> frozenset[str]:
    """Top-level data paths (dotted) that the given template parts require."""
    required: set[str] = set()
    for text in texts:
        if text:
            required |= _Parser(text).run()
    return frozenset(required)


def missing_variables(required: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """The required paths that ``data`` lacks (absent or null), sorted."""
    return sorted(path for path in required if not _present(data, _split_path(path)))


def _present(value: Any, segments: list[str]) -> bool:
    for segment in segments:
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return False
    return value is not None


def _split_path(path: str) -> list[str]:
    """``a.b``, ``a/b`` and ``a.[b c]`` into segments, brackets removed."""
    segments, current, i = [], "", 0
    while i < len(path):
        if path[i] == "[":
            end = path.find("]", i)
            end = len(path) if end == -1 else end
            current, i = current + path[i + 1 : end], end + 1
        elif path[i] in "./":
            segments.append(current)
            current, i = "", i + 1
        else:
            current, i = current + path[i], i + 1
    segments.append(current)
    return segments


def _data_path(word: str) -> str | None:
    """The data path a lone mustache word stands for, or None (literal, this, @data)."""
    if word[0] in "\"'" or word in _LITERALS or word.lstrip("-").replace(".", "", 1).isdigit():
        return None
    if word.startswith("@"):
        if not word.startswith(("@root.", "@root/")):
            return None
        word = word[6:]
    if word in ("this", ".") or word.startswith(".."):
        return None
    word = word.removeprefix("this.").removeprefix("this/").removeprefix("./")
    segments = _split_path(word)
    return ".".join(f"[{s}]" if any(c in s for c in "./[]") else s for s in segments)


def _tag(inside: str) -> str:
    return "{{" + inside + "}}"


@dataclass
class _Block:
    name: str
    opener: str  # as written, for messages: "#if", "^x", "#*inline"
    line: int
    sink: set[str] | None  # where the body's requirements go; None: not required


class _Parser:
    """One pass over one template part: a tag scanner and a stack of open blocks."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0
        self.top: set[str] = set()
        self.stack: list[_Block] = []
        self.partials: dict[str, set[str]] = {}
        self.calls: list[tuple[set[str], str]] = []
        self._line, self._line_pos = 1, 0

    def run(self) -> set[str]:
        while (start := self._next_open()) != -1:
            if self.text.startswith("{{{{", start):
                self._raw_block(start)
            else:
                self._tag(start)
        if self.stack:
            block = self.stack[-1]
            raise TemplateSyntaxError(
                f"{_tag(block.opener)} opened on line {block.line} is never closed"
            )
        changed = True  # partials may call partials, defined before or after: a fixpoint
        while changed:
            changed = False
            for sink, name in self.calls:
                extra = self.partials.get(name, set()) - sink
                changed = changed or bool(extra)
                sink |= extra
        return self.top

    def line(self, pos: int) -> int:
        self._line += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def _next_open(self) -> int:
        text, pos = self.text, self.pos
        while (i := text.find("{{", pos)) != -1:
            if i > 0 and text[i - 1] == "\\" and not (i > 1 and text[i - 2] == "\\"):
                pos = i + 2  # \{{ is text up to the next {{
                continue
            return i
        return -1

    def _raw_block(self, start: int) -> None:
        line = self.line(start)
        tokens, end = self._scan(start + 4, line)
        if not tokens or not self.text.startswith("}}}}", end):
            raise TemplateSyntaxError(f"malformed raw block on line {line}")
        close = self.text.find("{{{{/" + tokens[0] + "}}}}", end)
        if close == -1:
            raise TemplateSyntaxError(
                f"unclosed raw block {_tag(_tag(tokens[0]))} opened on line {line}"
            )
        self.pos = close + len(tokens[0]) + 9

    def _tag(self, start: int) -> None:
        text, line = self.text, self.line(start)
        i = start + 3 if text.startswith("~", start + 2) else start + 2
        if text.startswith("!", i):  # {{! short }} ends at }}, {{!-- long --}} may hold }}
            end = text.find("}}", i)
            if text.startswith("!--", i):
                found = [e for e in (text.find("--}}", i + 1), text.find("--~}}", i + 1)) if e >= 0]
                end = text.find("}}", min(found)) if found else -1
            if end == -1:
                raise TemplateSyntaxError(f"unclosed comment on line {line}")
            self.pos = end + 2
            return
        kind = text[i] if text[i : i + 1] in ("{", "&", "#", "^", "/", ">") else ""
        i += len(kind)
        modifier = text[i] if kind == "#" and text[i : i + 1] in ("*", ">") else ""
        tokens, end = self._scan(i + len(modifier), line)
        if kind == "{":
            if not text.startswith("}", end):
                raise TemplateSyntaxError(f"unclosed tag on line {line}")
            end += 1
        end += 1 if text.startswith("~", end) else 0
        if not text.startswith("}}", end):
            raise TemplateSyntaxError(f"unclosed tag on line {line}")
        self.pos = end + 2
        self._handle(kind, modifier, tokens, line)

    def _handle(self, kind: str, modifier: str, tokens: list[str], line: int) -> None:
        sink = self.stack[-1].sink if self.stack else self.top
        if (kind == "^" and not tokens) or (kind == "" and tokens[:1] == ["else"]):
            if not self.stack:
                raise TemplateSyntaxError(f"{_tag('else')} outside a block on line {line}")
            return
        if not tokens:
            raise TemplateSyntaxError(f"empty tag on line {line}")
        if kind in ("#", "^"):
            inner: set[str] | None = None
            if modifier == "*" and tokens[0] == "inline" and len(tokens) > 1:
                inner = self.partials.setdefault(tokens[1].strip("\"'"), set())
            self.stack.append(_Block(tokens[0], kind + modifier + tokens[0], line, inner))
        elif kind == "/":
            if not self.stack:
                raise TemplateSyntaxError(f"{_tag('/' + tokens[0])} on line {line} closes no block")
            block = self.stack.pop()
            if block.name != tokens[0]:
                raise TemplateSyntaxError(
                    f"{_tag('/' + tokens[0])} on line {line} does not match"
                    f" {_tag(block.opener)} opened on line {block.line}"
                )
        elif sink is not None and len(tokens) == 1:
            if kind == ">":
                self.calls.append((sink, tokens[0].strip("\"'")))
            elif (path := _data_path(tokens[0])) is not None:
                sink.add(path)

    def _scan(self, i: int, line: int) -> tuple[list[str], int]:
        """Split a tag's inside into words, strings and ( ) = |, up to its closing brace."""
        text, tokens, word = self.text, [], ""
        while i < len(text):
            c = text[i]
            if c == "}" or (c == "~" and text.startswith("}", i + 1)):
                return tokens + ([word] if word else []), i
            if c in "\"'" or c == "[":
                end = text.find("]" if c == "[" else c, i + 1)
                while c != "[" and end != -1 and text[end - 1] == "\\":
                    end = text.find(c, end + 1)
                if end == -1:
                    break
                if c == "[":
                    word += text[i : end + 1]
                else:
                    tokens.append(text[i : end + 1])
                i = end + 1
            elif c.isspace() or c in "()=|":
                tokens += ([word] if word else []) + ([] if c.isspace() else [c])
                word, i = "", i + 1
            else:
                word, i = word + c, i + 1
        raise TemplateSyntaxError(f"unclosed tag on line {line}")
