"""Which template data an SES (Handlebars) template needs, checked before the send.

SES accepts a templated send whose data lacks a variable, answers SUCCESS, then drops the
email as a Rendering Failure. ``required_variables`` lists the data paths whose absence
surely breaks rendering; ``missing_variables`` checks one message's data against them.

Rules (conservative: only what surely fails is required):

- A mustache that is just a path, ``{{x}}``, ``{{{x}}}`` or ``{{& x}}`` (``~`` allowed),
  outside every block, requires it: ``{{user.first}}`` -> ``user.first``. ``this.x``,
  ``./x``, ``@root.x`` and ``x/y`` are such paths; ``[first name]`` is one key and
  ``items.[0]`` a list index (path ``items.0``); a key holding a dot comes out bracketed.
- Nothing inside a block is required, nor its arguments: ``#if``/``#unless`` (every
  branch, ``else if``), ``#each``/``#with`` (relative to the item, rendered only when it is
  truthy: a missing target renders nothing or the ``else``), ``{{^x}}``, sections
  ``{{#x}}``, and any other block helper (SES documents Handlebars' built-ins only: if,
  unless, each, with, lookup, log; ``eq``/``gt``/``ifCond`` are Pinpoint/Connect helpers).
- A helper call with arguments, ``{{fmt when "x" k=v}}``, requires nothing (no evidence
  that SES fails on a missing argument). Neither do lone literals (strings, numbers,
  true/false/null/undefined), ``this``, ``.``, ``../x``, ``@index``/``@key``/``@first``/
  ``@last``, comments, raw blocks ``{{{{raw}}}}...{{{{/raw}}}}`` nor escaped ``\\{{x}}``.
- ``{{> p}}`` (no arguments) outside every block requires what the body of the inline
  partial ``{{#*inline "p"}}`` requires. Partials do not carry between the parts.
- ``missing_variables``: a null value is missing, ``""`` is present.

Evidence: the SES guide's conditional example sends a recipient without ``subscription``
to ``{{#if subscription}}{{#each subscription}}...{{else}}`` and shows the rendered email;
AWS's Rendering Failure knowledge-center article: each template variable needs a
case-sensitive counterpart in the data; aws-sdk-js issue 2239: a variable "missing,
undefined or null" is not delivered; moto's SES renderer fails on a missing or null variable
and renders a missing ``#each`` target as nothing. The tests check every rule against
handlebars.js in strict mode where the ``handlebars`` package is installed.

``scan`` is the tokenizer, shared with the local renderer (``bulkmail.render``).
"""

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Tag",
    "TemplateSyntaxError",
    "missing_variables",
    "required_variables",
    "scan",
    "split_path",
]

_LITERALS = frozenset({"true", "false", "null", "undefined"})


class TemplateSyntaxError(ValueError):
    """A template Handlebars would refuse to compile; the message names tags, never data."""


@dataclass(frozen=True)
class Tag:
    """One ``{{...}}`` tag, with its span in the text.

    ``kind``: "" (mustache), "{" (triple), "&", "#", "^", "/", ">" (partial), "else" (also
    ``{{^}}``; ``tokens`` then hold what follows, e.g. ``if y``), "!" (comment) or "raw"
    (a raw block, ``inner`` its text). ``modifier``: "*" or ">" after "#". ``tokens``: the
    words, strings and ``( ) = |`` inside. ``strip``: the ``~`` at its left and right.
    """

    kind: str
    modifier: str
    tokens: tuple[str, ...]
    start: int
    end: int
    line: int
    strip: tuple[bool, bool] = (False, False)
    inner: str = ""


def required_variables(*texts: str) -> frozenset[str]:
    """Top-level data paths (dotted) that the template parts (subject, text, html) require."""
    required: set[str] = set()
    for text in texts:
        if text:
            required |= _required(text)
    return frozenset(required)


def missing_variables(required: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """The required paths that ``data`` lacks (absent or null), sorted."""
    return sorted(path for path in required if not _present(data, _segments(path)))


@functools.lru_cache(maxsize=1024)
def _segments(path: str) -> tuple[str, ...]:
    """split_path, once per path: a template's paths are checked for every message."""
    return tuple(split_path(path))


def split_path(path: str) -> list[str]:
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


def _present(value: Any, segments: Sequence[str]) -> bool:
    for segment in segments:
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and _is_index(segment) and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return False
    return value is not None


def _is_index(segment: str) -> bool:
    """An array index as Handlebars reads one: ASCII digits ("²" is a digit to Python)."""
    return segment.isascii() and segment.isdigit()


def _data_path(word: str) -> str | None:
    """The data path a lone mustache word stands for, or None (literal, this, @data)."""
    if word[0] in "\"'()=|" or word in _LITERALS or word.lstrip("-").replace(".", "", 1).isdigit():
        return None
    if word.startswith("@"):
        if not word.startswith(("@root.", "@root/")):
            return None
        word = word[6:]
    if word in ("this", ".") or word.startswith(".."):
        return None
    word = word.removeprefix("this.").removeprefix("this/").removeprefix("./")
    segments = split_path(word)
    return ".".join(f"[{s}]" if any(c in s for c in "./[]") else s for s in segments)


def _braced(inside: str) -> str:
    return "{{" + inside + "}}"


def _required(text: str) -> set[str]:
    """One template part: the tags, a stack of open blocks and where requirements go."""
    top: set[str] = set()
    stack: list[tuple[Tag, set[str] | None]] = []  # None: the body requires nothing
    partials: dict[str, set[str]] = {}
    calls: list[tuple[set[str], str]] = []
    for tag in scan(text):
        sink, tokens = (stack[-1][1] if stack else top), tag.tokens
        if tag.kind == "else" and not stack:
            raise TemplateSyntaxError(f"{_braced('else')} outside a block on line {tag.line}")
        if tag.kind in ("#", "^"):
            inner = None
            if tag.modifier == "*" and tokens[0] == "inline" and len(tokens) > 1:
                inner = partials.setdefault(tokens[1].strip("\"'"), set())
            stack.append((tag, inner))
        elif tag.kind == "/":
            closer = _braced("/" + tokens[0])
            if not stack:
                raise TemplateSyntaxError(f"{closer} on line {tag.line} closes no block")
            opened = stack.pop()[0]
            if opened.tokens[0] != tokens[0]:
                raise TemplateSyntaxError(
                    f"{closer} on line {tag.line} does not match {_opener(opened)}"
                    f" opened on line {opened.line}"
                )
        elif sink is not None and len(tokens) == 1 and tag.kind in ("", "{", "&", ">"):
            if tag.kind == ">":
                calls.append((sink, tokens[0].strip("\"'")))
            elif (path := _data_path(tokens[0])) is not None:
                sink.add(path)
    if stack:
        opened = stack[-1][0]
        raise TemplateSyntaxError(f"{_opener(opened)} opened on line {opened.line} is never closed")
    changed = True  # partials may call partials, defined before or after: a fixpoint
    while changed:
        changed = False
        for sink, name in calls:
            extra = partials.get(name, set()) - sink
            changed = changed or bool(extra)
            sink |= extra
    return top


def _opener(tag: Tag) -> str:
    return _braced(tag.kind + tag.modifier + tag.tokens[0])


def scan(text: str) -> Iterator[Tag]:
    """The tags of a template in order; raises TemplateSyntaxError on a malformed tag."""
    pos, line, line_pos = 0, 1, 0
    while (start := _next_open(text, pos)) != -1:
        line, line_pos = line + text.count("\n", line_pos, start), start
        if text.startswith("{{{{", start):
            tag = _raw_block(text, start, line)
        else:
            tag = _tag(text, start, line)
        pos = tag.end
        yield tag


def _next_open(text: str, pos: int) -> int:
    while (i := text.find("{{", pos)) != -1:
        if i > 0 and text[i - 1] == "\\" and not (i > 1 and text[i - 2] == "\\"):
            pos = i + 2  # \{{ is text up to the next {{
            continue
        return i
    return -1


def _raw_block(text: str, start: int, line: int) -> Tag:
    tokens, end = _scan(text, start + 4, line)
    if not tokens or not text.startswith("}}}}", end):
        raise TemplateSyntaxError(f"malformed raw block on line {line}")
    close = text.find("{{{{/" + tokens[0] + "}}}}", end)
    if close == -1:
        raise TemplateSyntaxError(
            f"unclosed raw block {_braced(_braced(tokens[0]))} opened on line {line}"
        )
    stop = close + len(tokens[0]) + 9
    return Tag("raw", "", tuple(tokens), start, stop, line, inner=text[end + 4 : close])


def _tag(text: str, start: int, line: int) -> Tag:
    left = text.startswith("~", start + 2)
    i = start + 2 + left
    if text.startswith("!", i):  # {{! short }} ends at }}, {{!-- long --}} may hold }}
        end = text.find("}}", i)
        if text.startswith("!--", i):
            found = [e for e in (text.find("--}}", i + 1), text.find("--~}}", i + 1)) if e >= 0]
            end = text.find("}}", min(found)) if found else -1
        if end == -1:
            raise TemplateSyntaxError(f"unclosed comment on line {line}")
        return Tag("!", "", (), start, end + 2, line, (left, text[end - 1] == "~"))
    kind = text[i] if text[i : i + 1] in ("{", "&", "#", "^", "/", ">") else ""
    i += len(kind)
    modifier = text[i] if kind == "#" and text[i : i + 1] in ("*", ">") else ""
    tokens, end = _scan(text, i + len(modifier), line)
    if kind == "{":
        if not text.startswith("}", end):
            raise TemplateSyntaxError(f"unclosed tag on line {line}")
        end += 1
    right = text.startswith("~", end)
    if not text.startswith("}}", end + right):
        raise TemplateSyntaxError(f"unclosed tag on line {line}")
    if (kind == "^" and not tokens) or (kind == "" and tokens[:1] == ["else"]):
        kind, tokens = "else", tokens[1:]
    elif not tokens:
        raise TemplateSyntaxError(f"empty tag on line {line}")
    return Tag(kind, modifier, tuple(tokens), start, end + right + 2, line, (left, right))


def _scan(text: str, i: int, line: int) -> tuple[list[str], int]:
    """Split a tag's inside into words, strings and ( ) = |, up to its closing brace."""
    tokens: list[str] = []
    word = ""
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
