"""A sentence recorded as a code and its parameters, said where it is read, in the reader's language.

What the lab records for people to read later — a monitor's reason, what detected a fault, what a phase missed, why a
run stopped, what a checker found — is data: `say("detector_off", evidence=say("evidence_refused"),
detector="error-rate")` is `{"code": "detector_off", "params": {...}, "text": "connection refused (error-rate
detector)"}`. The English `text` is for people reading the JSON, for logs and for readers that do not know the code.
`render(value, lang)` says it in a language: the code's message (`core/codes.py`, an msgid with named {fields}, in
the gettext catalogs like every other message), its parameters filled in that language — numbers with its
separators, sentences inside sentences said too. The dashboard's scripts do the same (`static/i18n.js` `say`) with
the messages the pages carry (`codes_for(lang)`). A plain string (a report written before codes, another system's
own words) is shown as it was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from faultlab.core import i18n
from faultlab.core.codes import CODES, code_of
from faultlab.core.i18n import Plural

Said = dict[str, Any]  # {"code": ..., "params": {...}, "text": ...}, as recorded in JSON


class Sentence(BaseModel):
    """A recorded sentence in a typed message: its code, its parameters and its English text."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="what is said (core/codes.py): rendered in the reader's language")
    params: dict[str, Any] = Field(default_factory=dict, description="its named parameters (numbers, identifiers, "
                                                                     "sentences inside it)")
    text: str = Field(description="the sentence in English, for people reading the JSON")


# A recorded sentence as a message field holds it: a code with parameters, or a plain string (recorded before codes,
# or another system's own words, shown as recorded).
SaidText = Annotated[Sentence | str, Field(union_mode="left_to_right")]


def say(code: str, **params: Any) -> Said:
    """The sentence `code` with its parameters, as recorded (its English text included); KeyError for an unknown
    code (a typo would otherwise be recorded for good)."""
    if code not in CODES:
        raise KeyError(f"no message for code {code!r} (core/codes.py)")
    said: Said = {"code": code}
    if params:  # a sentence without parameters is its code and its text
        said["params"] = {k: _plain(v) for k, v in params.items()}
    said["text"] = _render(said, "en", i18n.gettext_for("en"), i18n.ngettext_for("en"))
    return said


def _plain(value: Any) -> Any:
    """A parameter as JSON holds it (sentences as their dicts, tuples as lists)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def is_said(value: Any) -> bool:
    """Whether a value is a recorded sentence (a code with parameters), as a dict or a model."""
    return isinstance(value, Sentence) or (isinstance(value, Mapping) and isinstance(value.get("code"), str)
                                           and "text" in value)


def text_of(value: Any) -> str:
    """The recorded English of a sentence (a plain string as it is; "" for none): for logs, the database and
    sorting."""
    if value is None:
        return ""
    if isinstance(value, Sentence):
        return value.text
    if isinstance(value, Mapping):
        return str(value.get("text") or value.get("code") or "")
    return str(value)


def render(value: Any, lang: str | None = None) -> str:
    """A recorded sentence in `lang` (the active language by default); a plain string as recorded, "" for none."""
    lang = lang or i18n.active()
    return _render(value, lang, i18n.gettext_for(lang), i18n.ngettext_for(lang))


def render_all(values: Iterable[Any] | None, lang: str | None = None) -> list[str]:
    """Each of a list of recorded sentences in `lang`."""
    return [render(v, lang) for v in values or []]


def render_in(lang: str) -> Any:
    """`render` bound to one language (for templates)."""
    return lambda value: render(value, lang)


def _render(value: Any, lang: str, gettext: Any, ngettext: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Sentence):
        value = value.model_dump()
    if not isinstance(value, Mapping):
        return str(value)
    message = CODES.get(str(value.get("code")))
    # a finding recorded before sentences had their shape: its parameters beside its code
    params = value.get("params") if "params" in value else {k: v for k, v in value.items() if k not in ("code", "text")}
    if message is None or not isinstance(params, Mapping):  # a code this faultlab does not know: its English
        return text_of(value)
    template = i18n.template_of(message, params, gettext, ngettext)
    try:
        return template.format(**{k: _param(v, lang, gettext, ngettext) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):  # parameters that do not fit the message: as recorded
        return text_of(value)


def _param(value: Any, lang: str, gettext: Any, ngettext: Any) -> str:
    """A parameter as it reads in a sentence of `lang`."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, (int, float)):
        return i18n.decimal(value, lang)
    if is_said(value):
        return _render(value, lang, gettext, ngettext)
    if isinstance(value, Mapping):  # named values ("1 5/3, 2 5/3")
        return ", ".join(f"{k}: {v}" if isinstance(v, str) else f"{k} {_param(v, lang, gettext, ngettext)}"
                         for k, v in value.items())
    if isinstance(value, (list, tuple)):
        separator = "; " if any(is_said(v) for v in value) else ", "
        return separator.join(_param(v, lang, gettext, ngettext) for v in value) or "-"
    return str(value)


def said_problem(place: str, message: str | Plural, params: Mapping[str, Any] | None = None) -> Said | str:
    """A problem (`core.messages.Problem`'s place, message and parameters) as a recorded sentence, when its message
    is a code's (core/codes.py); else its English text."""
    code = code_of(message) if isinstance(message, str) else None
    if code is None:
        template = i18n.template_of(message, params or {})
        text = template.format(**params) if params else template
        return f"{place}: {text}" if place else text
    said = say(code, **(params or {}))
    return say("at_place", place=place, problem=said) if place else said


class SaidError(RuntimeError):
    """An error whose sentence is recorded (a run's abort, a system that cannot be used): `said` keeps the code,
    `str()` the English."""

    def __init__(self, said: Said | str) -> None:
        super().__init__(text_of(said))
        self.said = said


def said_of(exc: BaseException) -> Said | str:
    """What an error says: its recorded sentence (a `SaidError`, or any error with a `said`), else its own text
    (another library's words, shown as they are)."""
    said = getattr(exc, "said", None)
    if isinstance(said, (dict, str)) and said:
        return said
    return str(exc)


def codes_for(lang: str) -> dict[str, str | list[str]]:
    """Every code's message in `lang`, for the pages' scripts: a message, or [singular, plural, count parameter]."""
    gettext, ngettext = i18n.gettext_for(lang), i18n.ngettext_for(lang)
    out: dict[str, str | list[str]] = {}
    for code, message in CODES.items():
        if isinstance(message, Plural):
            out[code] = [ngettext(message.singular, message.plural, 1), ngettext(message.singular, message.plural, 2),
                         message.counted]
        else:
            out[code] = gettext(message)
    return out


__all__ = ["CODES", "Said", "SaidError", "SaidText", "Sentence", "codes_for", "is_said", "render", "render_all",
           "render_in", "said_of", "said_problem", "say", "text_of"]
