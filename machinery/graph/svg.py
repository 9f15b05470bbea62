"""SVG drawn in pure Python: a layered layout, top to bottom.

Each node sits in the layer after the deepest node control reaches it from (longest path from
the inputs), nodes of a layer side by side. Control edges are straight arrows; a value that
skips layers is drawn as a dashed curve on the right, labelled with its fields. The document is
built with ElementTree, which escapes every text and attribute.
"""

import xml.etree.ElementTree as ET

from machinery.graph.build import Graph
from machinery.graph.style import caption

NODE_W = 200
NODE_H = 58
LAYER_GAP = 56
COLUMN_GAP = 36
MARGIN = 24
LINE_H = 15
MAX_CHARS = 28
SKIP_SPACING = 22
FONT = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"


def layers(graph: Graph) -> dict[str, int]:
    """The layer of each node: one more than the deepest node control comes to it from."""
    incoming: dict[str, list[str]] = {node.id: [] for node in graph.nodes}
    for edge in graph.edges:
        if edge.control and edge.target in incoming and edge.source in incoming:
            incoming[edge.target].append(edge.source)
    depth: dict[str, int] = {}

    def depth_of(node_id: str, seen: frozenset = frozenset()) -> int:
        if node_id in depth:
            return depth[node_id]
        sources = [s for s in incoming[node_id] if s not in seen]
        value = 1 + max((depth_of(s, seen | {node_id}) for s in sources), default=-1)
        depth[node_id] = value
        return value

    for node in graph.nodes:
        depth_of(node.id)
    return depth


def shorten(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_svg(graph: Graph, fills: dict[str, tuple[str, str]]) -> str:
    depth = layers(graph)
    rows: dict[int, list[str]] = {}
    for node in graph.nodes:
        rows.setdefault(depth[node.id], []).append(node.id)
    widest = max((len(row) for row in rows.values()), default=1)
    inner_w = widest * NODE_W + (widest - 1) * COLUMN_GAP
    skips = [
        edge
        for edge in graph.edges
        if not edge.control and edge.source in depth and edge.target in depth
    ]
    width = MARGIN * 2 + inner_w + (len(skips) * SKIP_SPACING + 120 if skips else 0)
    height = MARGIN * 2 + len(rows) * NODE_H + max(len(rows) - 1, 0) * LAYER_GAP
    place: dict[str, tuple[float, float]] = {}
    for layer, row in sorted(rows.items()):
        row_w = len(row) * NODE_W + (len(row) - 1) * COLUMN_GAP
        x = MARGIN + (inner_w - row_w) / 2
        y = MARGIN + layer * (NODE_H + LAYER_GAP)
        for node_id in row:
            place[node_id] = (x, y)
            x += NODE_W + COLUMN_GAP

    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "font-family": FONT,
            "font-size": "12",
        },
    )
    title = f"Workflow {graph.workflow}"
    if graph.event is not None:
        title += f", event {graph.event['event_id']} ({graph.event['status']})"
    ET.SubElement(svg, "title").text = title
    defs = ET.SubElement(svg, "defs")
    marker = ET.SubElement(
        defs,
        "marker",
        {
            "id": "arrow",
            "viewBox": "0 0 10 10",
            "refX": "10",
            "refY": "5",
            "markerWidth": "7",
            "markerHeight": "7",
            "orient": "auto-start-reverse",
        },
    )
    ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": "#546e7a"})

    edges = ET.SubElement(svg, "g", {"class": "edges"})
    for edge in graph.edges:
        if edge.source not in place or edge.target not in place or not edge.control:
            continue
        sx, sy = place[edge.source]
        tx, ty = place[edge.target]
        x1, y1 = sx + NODE_W / 2, sy + NODE_H
        x2, y2 = tx + NODE_W / 2, ty
        group = ET.SubElement(edges, "g", {"class": "edge control"})
        ET.SubElement(
            group,
            "path",
            {
                "d": f"M {x1:.1f} {y1:.1f} C {x1:.1f} {y1 + 24:.1f}, {x2:.1f} {y2 - 24:.1f}, "
                f"{x2:.1f} {y2:.1f}",
                "fill": "none",
                "stroke": "#546e7a",
                "stroke-width": "1.5",
                "marker-end": "url(#arrow)",
            },
        )
        if edge.caption:
            text = ET.SubElement(
                group,
                "text",
                {
                    "x": f"{(x1 + x2) / 2 + 8:.1f}",
                    "y": f"{(y1 + y2) / 2 + 4:.1f}",
                    "fill": "#37474f",
                },
            )
            text.text = shorten(edge.caption, 40)
    for number, edge in enumerate(skips):
        sx, sy = place[edge.source]
        tx, ty = place[edge.target]
        lane = MARGIN + inner_w + 20 + number * SKIP_SPACING
        y1, y2 = sy + NODE_H / 2, ty + NODE_H / 2
        group = ET.SubElement(edges, "g", {"class": "edge data"})
        ET.SubElement(
            group,
            "path",
            {
                "d": f"M {sx + NODE_W:.1f} {y1:.1f} C {lane:.1f} {y1:.1f}, {lane:.1f} {y2:.1f}, "
                f"{tx + NODE_W:.1f} {y2:.1f}",
                "fill": "none",
                "stroke": "#90a4ae",
                "stroke-width": "1.2",
                "stroke-dasharray": "5 4",
                "marker-end": "url(#arrow)",
            },
        )
        if edge.caption:
            text = ET.SubElement(
                group,
                "text",
                {"x": f"{lane + 4:.1f}", "y": f"{(y1 + y2) / 2:.1f}", "fill": "#607d8b"},
            )
            text.text = shorten(edge.caption, 24)

    nodes = ET.SubElement(svg, "g", {"class": "nodes"})
    for node in graph.nodes:
        x, y = place[node.id]
        fill, stroke = fills[node.id]
        classes = f"node {node.kind}" + (f" {node.outcome}" if node.outcome else "")
        group = ET.SubElement(nodes, "g", {"class": classes, "data-node": node.id})
        lines = caption(node)
        ET.SubElement(group, "title").text = "\n".join(lines)
        rounded = "20" if node.kind in ("inputs", "outputs") else "6"
        ET.SubElement(
            group,
            "rect",
            {
                "x": f"{x:.1f}",
                "y": f"{y:.1f}",
                "width": str(NODE_W),
                "height": str(NODE_H),
                "rx": rounded,
                "fill": fill,
                "stroke": stroke,
                "stroke-width": "1.5",
            },
        )
        shown = lines[:3]
        top = y + NODE_H / 2 - (len(shown) - 1) * LINE_H / 2 + 4
        for row, line in enumerate(shown):
            text = ET.SubElement(
                group,
                "text",
                {
                    "x": f"{x + NODE_W / 2:.1f}",
                    "y": f"{top + row * LINE_H:.1f}",
                    "text-anchor": "middle",
                    "fill": "#263238" if row == 0 else "#546e7a",
                    "font-weight": "600" if row == 0 else "400",
                    "font-size": "13" if row == 0 else "11",
                },
            )
            text.text = shorten(line)
    return ET.tostring(svg, encoding="unicode", xml_declaration=False)
