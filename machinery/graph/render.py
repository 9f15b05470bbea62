"""A graph written out: JSON (a dict), Mermaid, Graphviz DOT or SVG text."""

import json

from machinery.graph.build import Graph
from machinery.graph.style import COLORS, caption, colors
from machinery.graph.svg import to_svg

FORMATS = ("json", "mermaid", "dot", "svg")
MEDIA_TYPES = {
    "json": "application/json",
    "mermaid": "text/plain; charset=utf-8",
    "dot": "text/vnd.graphviz; charset=utf-8",
    "svg": "image/svg+xml",
}


def render(graph: Graph, format: str) -> str | dict:
    """The graph in `format`, one of FORMATS: a dict for json, text for the others."""
    if format == "json":
        return graph.as_dict()
    if format == "mermaid":
        return to_mermaid(graph)
    if format == "dot":
        return to_dot(graph)
    if format == "svg":
        return to_svg(graph, colors(graph))
    raise ValueError(f"Unknown graph format {format!r}.")


def _mermaid_text(text: str) -> str:
    # Mermaid reads entity codes (#quot;) in quoted labels; nothing there can close the quotes
    # or open markup.
    for character, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(character, code)
    return text.replace("&", "#amp;").replace("\n", " ")


def to_mermaid(graph: Graph) -> str:
    ids = {node.id: f"n{number}" for number, node in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    for node in graph.nodes:
        label = "<br/>".join(_mermaid_text(line) for line in caption(node))
        opening, closing = ("([", "])") if node.kind in ("inputs", "outputs") else ("[", "]")
        lines.append(f'    {ids[node.id]}{opening}"{label}"{closing}')
    for edge in graph.edges:
        arrow = "-->" if edge.control else "-.->"
        label = _mermaid_text(edge.caption)
        labelled = f'{arrow}|"{label}"|' if label else arrow
        lines.append(f"    {ids[edge.source]} {labelled} {ids[edge.target]}")
    fills = colors(graph)
    for node in graph.nodes:
        if node.outcome in COLORS:
            fill, stroke = fills[node.id]
            lines.append(f"    style {ids[node.id]} fill:{fill},stroke:{stroke}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return escaped.replace("\n", " ").replace("\r", " ")


def to_dot(graph: Graph) -> str:
    name = _dot_text(graph.workflow)
    lines = [
        f'digraph "{name}" {{',
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    fills = colors(graph)
    for node in graph.nodes:
        label = "\\n".join(_dot_text(line) for line in caption(node))
        fill, stroke = fills[node.id]
        lines.append(
            f'    "{_dot_text(node.id)}" [label="{label}", fillcolor="{fill}", color="{stroke}"];'
        )
    for edge in graph.edges:
        attributes = [f'label="{_dot_text(edge.caption)}"'] if edge.caption else []
        if not edge.control:
            attributes.append("style=dashed")
        listed = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f'    "{_dot_text(edge.source)}" -> "{_dot_text(edge.target)}"{listed};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_json_text(graph: Graph) -> str:
    return json.dumps(graph.as_dict(), indent=2, ensure_ascii=False) + "\n"
