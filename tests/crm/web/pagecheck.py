"""Checks on rendered pages shared by the web tests: no markup shown to people as text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# An escaped tag in the HTML source is a tag people see as text ("<p class=...>").
ESCAPED_TAG = re.compile(r"&lt;\s*/?\s*[a-zA-Z][a-zA-Z0-9-]*[\s>/&]")
TAG_IN_TEXT = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9-]*[\s>/]")


class _VisibleText(HTMLParser):
    """The text a browser shows (entities decoded), without scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag in ("script", "style", "template"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return " ".join(parser.parts)


def markup_shown_as_text(html: str) -> list[str]:
    """Every place where a tag would be shown as text, with some context."""
    found = [html[max(0, m.start() - 60) : m.end() + 60] for m in ESCAPED_TAG.finditer(html)]
    text = visible_text(html)
    found += [text[max(0, m.start() - 60) : m.end() + 60] for m in TAG_IN_TEXT.finditer(text)]
    return found


def assert_no_markup_shown(response, where: str) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code < 500, f"{where}: {response.status_code}"
    shown = markup_shown_as_text(html)
    assert shown == [], f"{where} shows markup as text: {shown[:3]}"
    return html
