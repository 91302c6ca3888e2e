"""Finds text left in the other language, and numbers written the other language's way.

A page's visible text is every text node outside <script>, <style>, <code> and any element marked
`translate="no"` (data: phase names, field names, detector names, JSON). Words that exist in both languages
("no", "a", "de"…) are left out of the lists, so a hit is a sentence, label or word nobody translated. In Spanish
text, the words the glossary (docs/glossary.md) replaces are hits too ("pedidos" for órdenes, "requests" for
solicitudes), and so is a Python boolean printed raw ("True"). A number is a hit when it is written the other
language's way: a decimal point (or a comma between thousands) in Spanish, a decimal comma (or a point between
thousands) in English. Tokens that are not numbers — times (12:03:04.567), versions (3.11.7), addresses
(127.0.0.1), names with digits (inventory-2, 20261130T112356Z) — are passed over.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

ENGLISH_ONLY = frozenset(["the", "of", "and", "with", "from", "each", "every", "when", "which", "while", "this", "that", "these", "those", "are", "is", "was", "were", "has", "have", "its", "their", "after", "before", "only", "into", "than", "then", "not", "by", "for", "to", "on", "in", "at", "or", "be", "been", "it", "an", "off", "out", "until", "still", "also", "again", "how", "what", "why", "where", "there", "here", "does", "did", "should", "would", "could", "will", "can", "must", "per", "over", "under", "between", "without", "within", "your", "you", "yet", "already", "whose", "shown", "show"])
SPANISH_ONLY = frozenset(["el", "la", "los", "las", "que", "del", "por", "para", "una", "cada", "sin", "más", "está", "están", "también", "cuando", "desde", "hasta", "entre", "sobre", "según", "aquí", "ningún", "ninguna", "réplica", "réplicas", "fallo", "fallos", "ejecución", "veredicto", "tiempo", "mientras", "después", "antes", "cómo", "qué"])
# Words the glossary replaces in Spanish text (the guide's words instead): each with the word to use.
NOT_THE_GUIDES = {"pedido": "orden", "pedidos": "órdenes", "request": "solicitud", "requests": "solicitudes",
                  "namespace": "espacio de nombres", "namespaces": "espacios de nombres", "bridge": "puente",
                  "petición": "solicitud", "peticiones": "solicitudes", "rollback": "reversión", "timeout": "tiempo de espera", "True": "sí", "False": "no", "None": "-"}
# (the phase `baseline` keeps its name: a sentence says "línea base", a table names the phase)
SKIPPED = frozenset({"script", "style", "code", "svg", "title"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')
# a path or a URL is a name, whatever letters a random folder name holds (/tmp/faultlab-tests-dfc9at8e: "at")
PATH = re.compile(r"(?<!\S)(?:/|[a-z]+://)\S*")
# fan-out, guide's, avg_ttd_ms (a field name), request_metrics (a table): one word each
WORD = re.compile(r"[^\W\d_]+(?:[-'_][^\W\d_]+)*", re.UNICODE)


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
        return [w for w in WORD.findall(PATH.sub(" ", QUOTED.sub(" ", text))) if not w.isupper()]

    return [t for t in texts if any(w.lower() in other for w in words(t))]


def _words(text: str) -> list[str]:
    return WORD.findall(PATH.sub(" ", QUOTED.sub(" ", text)))


def not_the_guides(texts: list[str]) -> list[str]:
    """Spanish texts that use a word the glossary replaces ("pedidos", "requests", "True"), or the English "voter"
    for the votador outside a name (voter-svc, the process `voter`, /voting/stats are names)."""
    found = []
    for text in texts:
        words = _words(text)
        if any((w if w in ("True", "False", "None") else w.lower()) in NOT_THE_GUIDES for w in words) or re.search(r"\b(el|del|al|un|the)\s+voter\b(?!-)", text):
            found.append(text)
    return found


NUMBER = re.compile(r"(?<![\w.,:/@#+-])\d+(?:[.,]\d+)+(?![\w:/@-]|[.,]\d)")


def _fits(token: str, decimal: str, group: str) -> bool:
    """Whether a token with separators is a number written with this decimal mark and thousands mark."""
    whole, _, fraction = token.partition(decimal)
    if group in fraction or (fraction and not fraction.isdigit()):
        return False
    return bool(re.fullmatch(r"\d{1,3}(?:" + re.escape(group) + r"\d{3})+|\d+", whole))


def _a_number(token: str) -> bool:
    """Whether a token of digits and separators can be a number at all (one decimal mark at most, groups of three):
    3.11.7 (a version) and 127.0.0.1 (an address) cannot."""
    return _fits(token, ".", ",") or _fits(token, ",", ".")


def mixed_numbers(texts: list[str], lang: str) -> list[str]:
    """The numbers written the other language's way in these texts ("91.2" or "1,234" in Spanish, "91,2" in
    English), each with the text it is in."""
    decimal, group = (",", ".") if lang == "es" else (".", ",")
    found = []
    for text in texts:
        for token in NUMBER.findall(text):
            if _a_number(token) and not _fits(token, decimal, group):
                found.append(f"{token!r} in {text!r}")
    return found
