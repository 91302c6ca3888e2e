"""`make catalogs`: extract the messages, update the es and en gettext catalogs, compile them (Babel's API).

Messages come from faultlab's Python sources (`_`, `N_`, `ngettext`), report.html's and study.html's Jinja templates,
and argparse (its "usage:", "options", errors: the CLI's help is translated whole). The English catalog says each
message as its msgid; the Spanish one is written by hand in `src/faultlab/locale/es/LC_MESSAGES/faultlab.po`. Run it
after changing a message, translate what it leaves empty in es, run it again to compile. tests/unit/test_i18n.py fails
while a message is missing or untranslated, or a .mo is older than its .po.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "faultlab"
LOCALE = PACKAGE / "locale"
DOMAIN = "faultlab"
LANGUAGES = ("en", "es")
METHODS = [("**.py", "python"), ("lab/templates/**.html", "jinja2"), ("lab/study/templates/**.html", "jinja2")]
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "NP_": (1, 2)}  # N_: a message; NP_: its singular and plural


def extract() -> Catalog:
    """Every message of the package and of argparse, as a template (no translations)."""
    template = Catalog(project="faultlab", domain=DOMAIN, fuzzy=False)
    for _file, _line, message, comments, context in extract_from_dir(PACKAGE, METHODS, keywords=KEYWORDS):
        template.add(message, None, auto_comments=comments, context=context)
    for _line, message, _comments, context in extract_from_file("python", argparse.__file__, keywords=KEYWORDS):
        if message and message not in template:
            template.add(message, None, auto_comments=["argparse"], context=context)
    return template


def path(lang: str, suffix: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.{suffix}"


def update(template: Catalog, lang: str) -> Catalog:
    """The language's catalog with every message of the template (new ones empty; English ones as their msgid)."""
    po = path(lang, "po")
    if po.exists():
        with open(po, "rb") as handle:
            catalog = read_po(handle, locale=lang, domain=DOMAIN)
    else:
        catalog = Catalog(locale=lang, domain=DOMAIN, project="faultlab", fuzzy=False, copyright_holder="faultlab",
                          header_comment=f"# faultlab's messages ({lang}): the msgids are the English text; "
                                         "`make catalogs` keeps this file in step with the sources.")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    if lang == "en":
        for message in catalog:
            if message.id and not translated(message):
                message.string = message.id
    return catalog


def translated(message: Any) -> bool:
    """Whether a catalog entry says its message (every plural form, for a plural one)."""
    if isinstance(message.string, str):
        return bool(message.string)
    return bool(message.string) and all(message.string)


def save(catalog: Catalog, lang: str) -> None:
    po, mo = path(lang, "po"), path(lang, "mo")
    po.parent.mkdir(parents=True, exist_ok=True)
    with open(po, "wb") as handle:
        write_po(handle, catalog, width=120, no_location=True, sort_output=True, omit_header=False)
    with open(mo, "wb") as handle:
        write_mo(handle, catalog)


def main() -> int:
    with open(LOCALE / f"{DOMAIN}.pot", "wb") as handle:
        write_po(handle, extract(), width=120, no_location=True, sort_output=True)
    untranslated = 0
    for lang in LANGUAGES:
        catalog = update(extract(), lang)  # a template of its own: the English catalog fills its messages in
        save(catalog, lang)
        empty = [m.id for m in catalog if m.id and not translated(m)]
        untranslated += len(empty)
        print(f"{lang}: {len(catalog)} messages, {len(empty)} untranslated")
    return 1 if untranslated else 0


if __name__ == "__main__":
    sys.exit(main())
