"""Draws the dashboard's layout as text, from the synthesized template (not by hand).

    python -m stacks.dashboard_diagram [cdk.out/<stack>.template.json]

prints the picture docs/operations/dashboard.md shows; ``make synth`` first writes the
template. Each box is a widget at its place on CloudWatch's 24-column grid, with its title and
its legend.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

GRID_COLUMNS = 24
CHARS_PER_COLUMN = 4
DASHBOARD_TYPE = "AWS::CloudWatch::Dashboard"


def _placeholder(token: Any) -> str:
    """Text standing for a CloudFormation intrinsic inside the body (never a quote)."""
    if isinstance(token, dict) and "Ref" in token:
        return f"${{{token['Ref']}}}"
    if isinstance(token, dict) and "Fn::GetAtt" in token:
        return "${" + ".".join(str(part) for part in token["Fn::GetAtt"]) + "}"
    return "${?}"


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    """The one dashboard's body, its intrinsics (region, names) replaced by placeholders."""
    dashboards = [
        resource
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == DASHBOARD_TYPE
    ]
    if len(dashboards) != 1:
        raise ValueError(f"expected one {DASHBOARD_TYPE}, found {len(dashboards)}")
    body = dashboards[0]["Properties"]["DashboardBody"]
    if isinstance(body, dict) and "Fn::Join" in body:
        separator, parts = body["Fn::Join"]
        body = separator.join(
            part if isinstance(part, str) else _placeholder(part) for part in parts
        )
    return json.loads(body)


def _title(widget: dict[str, Any]) -> str:
    properties = widget.get("properties", {})
    if widget.get("type") == "text":
        first = properties.get("markdown", "").strip().splitlines()[:1]
        return first[0].lstrip("#").strip() if first else "(text)"
    return properties.get("title", "(untitled)")


def _label(metric: list[Any]) -> str:
    """A metric's legend: its label, else its name; a search shows what splits its lines."""
    options = metric[-1] if metric and isinstance(metric[-1], dict) else {}
    label = options.get("label")
    dynamic = re.fullmatch(r"\$\{PROP\('Dim\.([^']+)'\)\}", label or "")
    if dynamic:
        return f"one line per {dynamic.group(1)}"
    if label:
        return label
    return str(metric[1]) if len(metric) > 1 else "expression"


def _detail(widget: dict[str, Any]) -> str:
    kind = widget.get("type")
    properties = widget.get("properties", {})
    if kind == "metric":
        return ", ".join(_label(metric) for metric in properties.get("metrics", []))
    if kind == "log":
        return "log query (table)"
    if kind == "alarm":
        count = len(properties.get("alarms", []))
        return f"alarm status, {count} alarms"
    return "text"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def render(body: dict[str, Any]) -> str:
    """The layout as text: one box per widget, columns to scale, rows compressed."""
    widgets = body.get("widgets", [])
    # Row boundaries in grid units; each band between two is drawn 2 or 3 lines high.
    edges = sorted({w["y"] for w in widgets} | {w["y"] + w["height"] for w in widgets})
    line_of: dict[int, int] = {}
    line = 0
    for index, edge in enumerate(edges):
        line_of[edge] = line
        if index + 1 < len(edges):
            line += 3 if edges[index + 1] - edge >= 3 else 2
    width = GRID_COLUMNS * CHARS_PER_COLUMN + 1
    canvas = [[" "] * width for _ in range(line + 1)]

    def put(row: int, column: int, char: str) -> None:
        current = canvas[row][column]
        if current == "+" or (current in "-|" and char in "-|" and current != char):
            canvas[row][column] = "+"
        else:
            canvas[row][column] = char

    for widget in sorted(widgets, key=lambda w: (w["y"], w["x"])):
        left = widget["x"] * CHARS_PER_COLUMN
        right = (widget["x"] + widget["width"]) * CHARS_PER_COLUMN
        top = line_of[widget["y"]]
        bottom = line_of[widget["y"] + widget["height"]]
        for column in range(left + 1, right):
            put(top, column, "-")
            put(bottom, column, "-")
        for row in range(top + 1, bottom):
            put(row, left, "|")
            put(row, right, "|")
        for row, column in ((top, left), (top, right), (bottom, left), (bottom, right)):
            canvas[row][column] = "+"
        inner = right - left - 3
        texts = [_fit(_title(widget), inner)]
        if bottom - top >= 3:
            texts.append(_fit(_detail(widget), inner))
        for offset, text in enumerate(texts, start=1):
            for position, char in enumerate(text):
                canvas[top + offset][left + 2 + position] = char
    return "\n".join("".join(row).rstrip() for row in canvas) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    if argv:
        path = Path(argv[0])
    else:
        found = sorted(Path("cdk.out").glob("*.template.json"))
        if not found:
            print("no cdk.out/*.template.json: run `make synth` first", file=sys.stderr)
            return 2
        path = found[0]
    template = json.loads(path.read_text(encoding="utf-8"))
    sys.stdout.write(render(dashboard_body(template)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
