"""How a graph looks in every format: the colours of outcomes and the lines written in a node."""

from machinery.graph.build import Graph, Node

# Fill and stroke by outcome (an event's graph), shared by every format that draws colours.
COLORS = {
    "succeeded": ("#d8f0dc", "#2e7d32"),
    "failed": ("#f9d6d5", "#c62828"),
    "running": ("#fff1c2", "#b07d00"),
    "waiting": ("#e3ecfb", "#1f5fbf"),
    "not_reached": ("#f0f0f0", "#8a8a8a"),
}
PLAIN = ("#ffffff", "#37474f")
ENDS = ("#eceff1", "#37474f")


def colors(graph: Graph) -> dict[str, tuple[str, str]]:
    """Fill and stroke of each node, by id."""
    chosen = {}
    for node in graph.nodes:
        if node.outcome in COLORS:
            chosen[node.id] = COLORS[node.outcome]
        else:
            chosen[node.id] = ENDS if node.kind in ("inputs", "outputs") else PLAIN
    return chosen


def caption(node: Node) -> list[str]:
    """The lines written in a node: its label, then what it is, then how it went."""
    lines = [node.label]
    if node.detail:
        lines.append(node.detail)
    facts = []
    if node.outcome is not None and node.step is not None:
        facts.append(node.outcome.replace("_", " "))
    if node.duration_ms is not None:
        facts.append(f"{node.duration_ms:.0f} ms")
    if node.attempts and node.attempts > 1:
        facts.append(f"{node.attempts} attempts")
    if node.status_code is not None:
        facts.append(f"HTTP {node.status_code}")
    if facts:
        lines.append(" · ".join(facts))
    return lines
