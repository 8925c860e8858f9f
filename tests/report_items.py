"""Read a report's diagnosis items (``li.diagnosis``) and its links, for the report tests."""

from __future__ import annotations

from html.parser import HTMLParser


class ReportItems(HTMLParser):
    """``items[(store, target, slot)] = {"pattern", "text"}``; ``links``: every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str, int], dict] = {}
        self.links: list[str] = []
        self._key: tuple[str, str, int] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("src", "href") if k in attrs]
        if tag == "li" and attrs.get("class") == "diagnosis":
            self._key = (attrs["data-store"], attrs["data-target"], int(attrs["data-slot"]))
            self.items[self._key] = {"pattern": attrs["data-pattern"], "text": ""}

    def handle_endtag(self, tag):
        if tag == "li":
            self._key = None

    def handle_data(self, data):
        if self._key is not None:
            self.items[self._key]["text"] += data

    def by_target(self) -> dict[tuple[str, int], dict]:
        """The items keyed by (target, slot), for a report of one store."""
        return {(target, slot): item for (_, target, slot), item in self.items.items()}


def read_report(html: str) -> ReportItems:
    """Parse a report's HTML."""
    parser = ReportItems()
    parser.feed(html)
    return parser
