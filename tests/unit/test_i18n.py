"""Spanish and English: the language switch, complete gettext catalogs, and no untranslated text in the CLI's help
or in report.html."""

from __future__ import annotations

import gettext
import importlib.util
import io
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from faultlab.core import i18n
from faultlab.lab.report import build_report, write_run
from faultlab.lab.report_html import render_html
from tests.unit.test_report import experiment_data, full_results
from tests.untranslated import leftovers, visible_texts

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]*\}|%\([a-z_]+\)[sdr]|%[sdr]")


def catalog(lang: str):
    with open(i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "faultlab.po", "rb") as handle:
        return read_po(handle, locale=lang)


def source_messages() -> set[str]:
    """Every message the package's sources and report.html's templates mark for translation (tools/catalogs.py)."""
    spec = importlib.util.spec_from_file_location("catalogs", ROOT / "tools" / "catalogs.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    template = module.extract()
    return {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id and "argparse" not in m.auto_comments}


@pytest.mark.parametrize(("option", "environ", "expected"), [
    (None, {}, "en"),
    (None, {"LANG": "es_AR.UTF-8"}, "es"),
    (None, {"LANG": "es"}, "es"),
    (None, {"LANG": "fr_FR.UTF-8"}, "en"),
    (None, {"LANG": "C.UTF-8"}, "en"),
    (None, {"LC_ALL": "en_US.UTF-8", "LANG": "es_ES.UTF-8"}, "en"),
    (None, {"LANGUAGE": "es:en", "LANG": "en_US.UTF-8"}, "es"),
    (None, {"FAULTLAB_LANG": "es", "LC_ALL": "en_US.UTF-8"}, "es"),
    (None, {"FAULTLAB_LANG": "de", "LANG": "es_MX.UTF-8"}, "es"),
    ("en", {"FAULTLAB_LANG": "es", "LANG": "es_ES.UTF-8"}, "en"),
    ("ES", {}, "es"),
])
def test_language_comes_from_the_option_then_faultlab_lang_then_the_locale(option, environ, expected) -> None:
    """--lang wins over FAULTLAB_LANG, which wins over the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG in gettext's
    order); an unsupported FAULTLAB_LANG or locale falls through to the next, or to English."""
    assert i18n.resolve(option, environ) == expected


def test_an_unsupported_lang_option_is_an_error() -> None:
    """`--lang fr` is refused with the languages there are, not silently read as English."""
    with pytest.raises(ValueError, match="es"):
        i18n.resolve("fr", {})


def test_every_message_is_in_both_catalogs_and_translated() -> None:
    """Each message the sources mark is in the English and the Spanish catalog, translated (every plural form), not
    fuzzy; neither catalog holds a message the other lacks."""
    es, en = catalog("es"), catalog("en")
    es_ids = {m.id if isinstance(m.id, str) else m.id[0]: m for m in es if m.id}
    en_ids = {m.id if isinstance(m.id, str) else m.id[0]: m for m in en if m.id}
    assert set(es_ids) == set(en_ids), sorted(set(es_ids) ^ set(en_ids))
    missing = sorted(source_messages() - set(es_ids))
    assert not missing, f"not in the catalogs (run `make catalogs`, then translate): {missing}"
    for lang, messages in (("es", es_ids), ("en", en_ids)):
        for msgid, message in messages.items():
            forms = [message.string] if isinstance(message.string, str) else list(message.string or [])
            assert forms and all(forms), f"{lang}: no translation for {msgid!r}"
            assert not message.fuzzy, f"{lang}: fuzzy translation for {msgid!r}"


def test_translations_keep_every_placeholder() -> None:
    """A Spanish message names the same {fields} and %(fields)s as its English msgid (else formatting fails)."""
    for message in catalog("es"):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (message.id, string)


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_compiled_catalogs_say_what_the_po_files_say(lang: str) -> None:
    """Each shipped .mo holds every translation of its .po (a .po edited without `make catalogs` fails here)."""
    with open(i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "faultlab.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in catalog(lang):
        if not message.id:
            continue
        if isinstance(message.id, str) and message.context:  # one English word, said two ways (pgettext)
            assert compiled.pgettext(message.context, message.id) == message.string, message.id
        elif isinstance(message.id, str):
            assert compiled.gettext(message.id) == message.string, message.id
        else:
            assert compiled.ngettext(message.id[0], message.id[1], 1) == message.string[0], message.id
            assert compiled.ngettext(message.id[0], message.id[1], 5) == message.string[-1], message.id


def test_numbers_follow_the_language() -> None:
    """Spanish writes a decimal comma and a point between thousands (Babel's CLDR data); English the other way round."""
    assert i18n.number(1234.5, 1, "en") == "1,234.5" and i18n.number(1234.5, 1, "es") == "1.234,5"
    assert i18n.number(50, 1, "es") == "50,0" and i18n.number(None, 1, "es") == "-"


def test_recorded_sentences_of_a_report_are_said_in_spanish() -> None:
    """A recorded sentence is said in the reader's language from its code, sentences inside it and numbers included;
    a report's sentence written before codes (a string) is shown as recorded."""
    from faultlab.core.said import render, say

    missed = say("repetition_missed", repetition=2, missed=say("phase_error", error=say("interrupted_in_phase")))
    assert render(say("phase_missed", phase="two-down", missed=missed), "es") == \
        "two-down: repetición 2: error: interrumpido (Ctrl-C) durante esta fase"
    assert render(say("success_under", rate=91.2, limit=95), "es") == "tasa de éxito 91,2 % < 95 %"
    assert render(say("ttd_over", ttd_ms=2167, limit_ms=2000), "es") == "TTD 2.167 ms > 2.000 ms"
    assert render(say("runs_missing", done=0, expected=1), "es") == "solo 0 de 1 ejecución de fase completada"
    assert render("crash: no recovery (no TTR)", "es") == "crash: no recovery (no TTR)"


def cli_help(lang: str) -> str:
    """The help of the CLI and of every subcommand, nested ones too (`study detectors`), in one language (the parser
    built with that language active)."""
    from faultlab.cli import _subcommands, build_parser

    previous = i18n.active()
    i18n.activate(lang)
    try:
        parser = build_parser()
        texts = [parser.format_help()] + [command.format_help() for command in _subcommands(parser)]
    finally:
        i18n.activate(previous)
    return "\n".join(texts)


def test_cli_help_in_spanish_has_no_english_sentence() -> None:
    """Every subcommand's help, its options' help and the fault list read in Spanish; in English, nothing Spanish."""
    spanish = cli_help("es")
    # argparse's own words come from the same catalog only when the CLI binds it (faultlab.cli.main): not here
    lines = [line for line in spanish.splitlines() if line.strip() and not line.strip().startswith(("usage:", "-h"))
             and line.strip() not in ("options:", "positional arguments:")]
    assert not leftovers(lines, "es"), leftovers(lines, "es")
    assert "Un laboratorio de tolerancia a fallas" in spanish and "tipos de fallo y sus parámetros" in spanish
    assert "Graba las observaciones en bruto del monitor" in spanish and "OFF falsos por hora" in spanish
    assert not leftovers(cli_help("en").splitlines(), "en")


def test_every_subcommand_takes_the_lang_option() -> None:
    """`--lang` works after any subcommand, nested ones too (`faultlab study replay PATH --lang es`)."""
    from faultlab.cli import build_parser

    args = build_parser().parse_args(["study", "replay", "runs/x", "--lang", "es"])
    assert args.lang == "es" and args.path == "runs/x"
    assert build_parser().parse_args(["study", "detectors", "--lang", "en", "--reps", "2"]).lang == "en"


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in __import__("os").environ.items()
             if k not in ("FAULTLAB_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, "COLUMNS": "160", **env}, check=False)


def test_the_locale_makes_the_cli_spanish_and_the_option_wins(tmp_path: Path) -> None:
    """LANG=es_ES.UTF-8 gives Spanish help (argparse's own words too); --lang en on the same command gives English."""
    spanish = run_cli("inject", "--help", env={"LANG": "es_ES.UTF-8"})
    assert spanish.returncode == 0 and spanish.stdout.startswith("uso: faultlab inject")
    assert "mostrar esta ayuda y salir" in spanish.stdout and "número de réplica" in spanish.stdout
    english = run_cli("inject", "--help", "--lang", "en", env={"LANG": "es_ES.UTF-8"})
    assert english.stdout.startswith("usage: faultlab inject") and "replica number" in english.stdout
    refused = run_cli("--lang", "fr", "status", env={})
    assert refused.returncode == 2 and "fr" in refused.stderr


def test_faultlab_report_answers_the_guide_in_the_chosen_language(tmp_path: Path) -> None:
    """`faultlab report` prints the summary and the guide's answers in Spanish (FAULTLAB_LANG=es) and writes a
    report.html shown in Spanish; report.json stays as it was."""
    report = build_report(experiment_data(full_results(1)), {"replicas": 3, "orders_port": 5006}, "r")
    run = write_run(report, [], tmp_path / "runs", lang="en")
    before = (run / "report.json").read_text()
    out = run_cli("report", str(run), env={"FAULTLAB_LANG": "es"})
    assert out.returncode == 0, out.stderr
    assert "resumen del experimento" in out.stdout and "veredicto: APROBADO" in out.stdout
    assert "Respuestas a la guía de estudio" in out.stdout and "¿Qué pasa si 2 de 3 instancias fallan?" in out.stdout
    assert '<html lang="es">' in (run / "report.html").read_text()
    assert (run / "report.json").read_text() == before


@pytest.mark.parametrize("lang", ["es", "en"])
def test_report_page_has_no_text_of_the_other_language(lang: str) -> None:
    """Each language's view of report.html (tables, verdict, answers to the guide) holds no word of the other
    language outside data (phase, field and detector names); the view shown first is the one asked for."""
    results = full_results(3)
    results[3]["missed"], results[3]["passed"] = ["TTD 2167 ms > 2000 ms"], False
    report = build_report(experiment_data(results), {"replicas": 3, "orders_port": 5006}, "r")
    page = render_html(report, lang)
    assert f'<html lang="{lang}">' in page
    assert re.search(rf'<div class="lang" lang="{lang}" data-lang="{lang}">', page)  # shown (not hidden)
    texts = visible_texts(page, {"class": "lang", "data-lang": lang})
    assert len(texts) > 200
    assert not leftovers(texts, lang), leftovers(texts, lang)[:10]
    other = "en" if lang == "es" else "es"
    assert re.search(rf'<div class="lang" lang="{other}" data-lang="{other}" hidden>', page)


def test_spanish_report_uses_the_guides_words() -> None:
    """The Spanish view asks the guide's own questions and names its scenarios and vocabulary."""
    page = render_html(build_report(experiment_data(full_results(1)), {}, "r"), "es")
    spanish = " ".join(visible_texts(page, {"class": "lang", "data-lang": "es"}))
    for words in ("¿Qué pasa si 2 de 3 instancias fallan?", "¿Cómo se mide el TTD?", "Escenario 2",
                  "Fallo de dos instancias", "votación por mayoría", "línea base", "fallo intermitente",
                  "respuesta incorrecta", "quórum", "réplica", '"quorum not reached"'):
        assert words in spanish, words


def test_cli_output_in_spanish_formats_numbers_the_spanish_way() -> None:
    """The end-of-run summary printed in Spanish uses decimal commas and the Spanish labels."""
    from rich.console import Console

    from faultlab.cli.report import print_summary

    report = build_report(experiment_data(full_results(3)), {}, "r")
    buffer = io.StringIO()
    previous = i18n.active()
    i18n.activate("es")
    try:
        with redirect_stdout(buffer):
            print_summary(Console(file=buffer, width=200, color_system=None), report)
    finally:
        i18n.activate(previous)
    text = buffer.getvalue()
    assert "resumen del experimento: mediana [mín–máx] sobre las repeticiones" in text
    assert "fase" in text and "veredicto: APROBADO" in text and "50,0" in text


def test_no_message_hides_inside_an_f_string() -> None:
    """`_()` inside an f-string is invisible to Babel's extraction, so it would never be translated: none is there."""
    import tokenize

    hidden = []
    for path in sorted((ROOT / "src" / "faultlab").rglob("*.py")):
        with open(path, "rb") as handle:
            for token in tokenize.tokenize(handle.readline):
                if token.type == tokenize.STRING and re.match(r"^[rRbB]?[fF]", token.string) \
                        and re.search(r"\b(_|N_|ngettext)\(", token.string):
                    hidden.append(f"{path.relative_to(ROOT)}:{token.start[0]}")
    assert not hidden, hidden


def test_the_study_summary_in_spanish(tmp_path: Path) -> None:
    """`faultlab study` prints its front, the current and the recommended setting in Spanish, decimal commas."""
    from rich.console import Console

    from faultlab.cli.study import print_summary
    from faultlab.lab.study.report import load_study
    from tests.unit.test_study_page import write_study_folder

    study, _folder = load_study(write_study_folder(tmp_path))
    buffer = io.StringIO()
    previous = i18n.active()
    i18n.activate("es")
    try:
        print_summary(Console(file=buffer, width=200, color_system=None), study)
    finally:
        i18n.activate(previous)
    text = buffer.getvalue()
    assert "Frente de Pareto en intermittent: TTD p95 frente a OFF falsos por hora (sin fallos)" in text
    assert "actual: consecutive failures=3" in text and "recomendada: " in text and "0,00 (0,00 / 0,00)" in text
    assert "la configuración actual del laboratorio está en el frente de: crash" in text
    assert "FAULTLAB_DETECTOR=" in text and not leftovers(text.splitlines(), "es")


def test_a_path_or_a_url_is_no_word_of_the_other_language() -> None:
    """The leftover finder passes over paths and URLs, whatever letters a random folder name holds ("at", "in"),
    and still finds an English word beside them."""
    assert not leftovers(["carpeta /tmp/faultlab-tests-dfc9at8e/dashboard-runs1/20270115T080000Z"], "es")
    assert not leftovers(["ver http://127.0.0.1:5007/in/at"], "es")
    assert leftovers(["the run /tmp/x"], "es") == ["the run /tmp/x"]
