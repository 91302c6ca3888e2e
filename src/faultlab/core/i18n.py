"""The students' language: Spanish or English, chosen once (--lang, FAULTLAB_LANG, the locale) and used by gettext.

The messages live in gettext catalogs under `locale/<lang>/LC_MESSAGES/faultlab.po` (compiled `.mo` beside them;
`make catalogs` extracts, updates and compiles them with Babel). The msgids are the English text, so a message
missing from a catalog falls back to English; `tests/unit/test_i18n.py` fails when that happens.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
DOMAIN = "faultlab"
LOCALE_DIR = Path(__file__).parents[1] / "locale"  # faultlab/locale: package data beside the code
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # GNU gettext's order

_active = DEFAULT_LANGUAGE


def normalize(value: str | None) -> str | None:
    """"es", "es_MX.UTF-8", "ES-es" -> "es"; "en_GB" -> "en"; anything else (or nothing) -> None."""
    if not value:
        return None
    code = value.strip().split(":")[0].split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else None


def resolve(option: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language to use: the --lang option, else FAULTLAB_LANG, else the locale (LANG=es_* -> Spanish), else English.

    An option that is not a supported language is an error; an unsupported FAULTLAB_LANG or locale is passed over.
    """
    env = os.environ if environ is None else environ
    if option is not None:
        lang = normalize(option)
        if lang is None:
            raise ValueError(f"unsupported language {option!r}: choose one of {', '.join(LANGUAGES)}")
        return lang
    explicit = normalize(env.get("FAULTLAB_LANG"))
    if explicit:
        return explicit
    for name in LOCALE_VARIABLES:
        value = env.get(name)
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            return normalize(value) or DEFAULT_LANGUAGE  # the first locale variable set decides, as in gettext
    return DEFAULT_LANGUAGE


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of a language (English text itself when a catalog is missing)."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def activate(lang: str) -> None:
    """Make `lang` the language of `_` and `ngettext` in this process."""
    global _active  # noqa: PLW0603 (the active language is one per process, by design)
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    _active = lang


def active() -> str:
    return _active


def activate_for_cli(lang: str) -> None:
    """The CLI's switch: this process speaks `lang`, argparse's own messages included, and so do its children.

    argparse translates through gettext's global domain, so that domain is bound to faultlab's catalogs; the
    children (the lab's services, an experiment the dashboard starts) inherit FAULTLAB_LANG.
    """
    activate(lang)
    os.environ["FAULTLAB_LANG"] = lang
    os.environ["LANGUAGE"] = lang  # what gettext's global functions (argparse's messages) look up
    gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
    gettext.textdomain(DOMAIN)


def _(message: str) -> str:
    """The message in the active language."""
    return translations(_active).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural message for `n`, in the active language."""
    return translations(_active).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """The message in the active language, as said in `context` (one English word, two Spanish ones: "valid" is
    "válida" for the data check and "válido" for the read history)."""
    return translations(_active).pgettext(context, message)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is used (`_(CONSTANT)`)."""
    return message


class Plural(NamedTuple):
    """A message with a singular and a plural form, chosen by the number in its parameter `count`."""

    singular: str
    plural: str
    counted: str = "n"


def NP_(singular: str, plural: str, count: str = "n") -> Plural:
    """Marks a plural message for extraction where it is defined (`make catalogs` reads both forms); said where it is
    used with `ngettext`, the number taken from the parameter named `count`."""
    return Plural(singular, plural, count)


def count_in(message: Plural, params: Mapping[str, Any]) -> int:
    """The number a plural message is said for: its counted parameter, a list by its length ("replica 2" / "replicas
    1, 3"); 2 (the plural) when the parameter is not a number."""
    count = params.get(message.counted)
    count = len(count) if isinstance(count, (list, tuple)) else count
    return count if isinstance(count, int) else 2


def template_of(message: str | Plural, params: Mapping[str, Any], gettext: Callable[[str], str] | None = None,
                ngettext: Callable[[str, str, int], str] | None = None) -> str:
    """A message's template in the language of `gettext` and `ngettext` (English without them): a plural one in the
    form its count takes there."""
    if isinstance(message, Plural):
        count = count_in(message, params)
        if ngettext is None:
            return message.singular if count == 1 else message.plural
        return ngettext(message.singular, message.plural, count)
    return gettext(message) if gettext else message


def gettext_for(lang: str) -> Callable[[str], str]:
    """`_` bound to one language, whatever the active one is (for pages rendered in both)."""
    return translations(lang).gettext


def ngettext_for(lang: str) -> Callable[[str, str, int], str]:
    return translations(lang).ngettext


def number(value: float | int | None, digits: int = 0, lang: str | None = None, empty: str = "-") -> str:
    """A number with the language's separators ("1,234.5" / "1234,5"), fixed decimals; `empty` for none."""
    if value is None:
        return empty
    if not isinstance(value, (int, float)):
        return str(value)
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(round(value, digits), format=pattern, locale=lang or _active)


def decimal(value: float | int | None, lang: str | None = None, max_digits: int = 3, empty: str = "-") -> str:
    """A number with the language's separators and the decimals it has, up to `max_digits` ("2.167,5" / "2,167.5",
    "91,2", "95"): a recorded figure said as it was measured."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return empty if value is None else str(value)
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "#" * max_digits if max_digits > 0 else "")
    return format_decimal(round(value, max_digits), format=pattern, locale=lang or _active)
