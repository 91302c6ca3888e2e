"""Finds text left in the other language: English function words in a Spanish page, Spanish ones in an English page.

A page's visible text is every text node outside <script>, <style>, <code> and any element marked
`translate="no"` (data: phase names, field names, detector names, JSON). Words that exist in both languages
("no", "a", "de"…) are left out of the lists, so a hit is a sentence, label or word nobody translated.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

ENGLISH_ONLY = frozenset(["the", "of", "and", "with", "from", "each", "every", "when", "which", "while", "this", "that", "these", "those", "are", "is", "was", "were", "has", "have", "its", "their", "after", "before", "only", "into", "than", "then", "not", "by", "for", "to", "on", "in", "at", "or", "be", "been", "it", "an", "off", "out", "until", "still", "also", "again", "how", "what", "why", "where", "there", "here", "does", "did", "should", "would", "could", "will", "can", "must", "per", "over", "under", "between", "without", "within", "your", "you", "yet", "already", "whose", "shown", "show"])
SPANISH_ONLY = frozenset(["el", "la", "los", "las", "que", "del", "por", "para", "una", "cada", "sin", "más", "está", "están", "también", "cuando", "desde", "hasta", "entre", "sobre", "según", "aquí", "ningún", "ninguna", "réplica", "réplicas", "fallo", "fallos", "ejecución", "veredicto", "tiempo", "mientras", "después", "antes", "cómo", "qué"])
SKIPPED = frozenset({"script", "style", "code", "svg", "title"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')
WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", re.UNICODE)  # fan-out, guide's: one word


class VisibleText(HTMLParser):
    """Collects the text nodes a reader sees, with the element path they sit in."""

    def __init__(self, root: dict[str, str] | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped here or above)
        self.root = root
        self.inside_root = root is None
        self.root_depth: int | None = None
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self.root and not self.inside_root and all(attributes.get(k) == v for k, v in self.root.items()):
            self.inside_root, self.root_depth = True, len(self.stack)
        if tag in VOID:
            return
        skipped = (bool(self.stack) and self.stack[-1][1]) or tag in SKIPPED or attributes.get("translate") == "no"
        self.stack.append((tag, skipped))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.stack:
            top, _skipped = self.stack.pop()
            if top == tag:
                break
        if self.root_depth is not None and len(self.stack) <= self.root_depth:
            self.inside_root, self.root_depth = False, None
            self.root = {"": "-"}  # only the first matching element

    def handle_data(self, data: str) -> None:
        if self.inside_root and not (self.stack and self.stack[-1][1]) and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str, root: dict[str, str] | None = None) -> list[str]:
    """The visible text nodes of a page, or of the first element whose attributes include `root`."""
    parser = VisibleText(root)
    parser.feed(html)
    return parser.texts


def leftovers(texts: list[str], lang: str) -> list[str]:
    """The texts that hold a word only the other language has ("es": English words; "en": Spanish words)."""
    other = ENGLISH_ONLY if lang == "es" else SPANISH_ONLY

    def words(text: str) -> list[str]:
        # text in double quotes is quoted as it is (the guide's "quorum not reached"); words in capitals are names
        # both languages use (ON, OFF, TTD)
        return [w for w in WORD.findall(QUOTED.sub(" ", text)) if not w.isupper()]

    return [t for t in texts if any(w.lower() in other for w in words(t))]
