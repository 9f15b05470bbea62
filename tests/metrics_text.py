"""Reading a Prometheus scrape in tests."""

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by (name, its labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels) -> float:
    """A sample's value (0 when it is not there, as for a counter never incremented)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)
