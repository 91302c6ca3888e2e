"""The command line, one place: `faultlab` and its commands, each group registered from its own module."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from faultlab.core import i18n
from faultlab.core.i18n import _


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faultlab",
        description=_("A fault-tolerance lab: a replicated shop on real Kafka and PostgreSQL, with fault injection, "
                    "failure detection, majority voting and TTD/TTR measurement."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_("Settings come from FAULTLAB_* environment variables (see README), e.g. FAULTLAB_DATABASE_URL, "
               "FAULTLAB_KAFKA_BOOTSTRAP, FAULTLAB_HOME."),
    )
    parser.add_argument("--home", help=_("lab folder (default .faultlab, or FAULTLAB_HOME)"))
    _add_lang_option(parser, i18n.active())
    sub = parser.add_subparsers(dest="command", required=True, metavar=_("COMMAND"))

    from faultlab.cli.control import register as register_control_commands  # up, down, status, inject, clear, ...

    register_control_commands(sub)
    from faultlab.cli.measure import register as register_lab_commands  # load, experiment, report

    register_lab_commands(sub)
    from faultlab.cli.demo import register as register_demo_command  # demo

    register_demo_command(sub)
    from faultlab.cli.study import register as register_study_commands  # study detectors, study replay

    register_study_commands(sub)
    from faultlab.cli.system import register as register_system_commands  # system check, system proxy

    register_system_commands(sub)
    from faultlab.cli.replay import register as register_replay_command  # replay

    register_replay_command(sub)
    for command in _subcommands(parser):  # `faultlab status --lang es` as well as `faultlab --lang es status`
        _add_lang_option(command, argparse.SUPPRESS)
    return parser


_parsers: dict[str, argparse.ArgumentParser] = {}


def parser_for(lang: str) -> argparse.ArgumentParser:
    """The parser in this language, built once per process: a service forked from the template process
    (runtime/forkserver.py) parses its `serve` arguments with the one the template built."""
    if lang not in _parsers:
        _parsers[lang] = build_parser()
    return _parsers[lang]


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand's parser, nested ones too (`study detectors`)."""
    found = []
    for action in parser._actions:  # argparse keeps its subparsers there, and only there
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                found += [command, *_subcommands(command)]
    return found


def _add_lang_option(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--lang", choices=i18n.LANGUAGES, default=default,
                        help=_("language of messages, help and tables: es or en (default: FAULTLAB_LANG, else the "
                               "locale: LANG=es_* is Spanish)"))


def _language_option(argv: list[str]) -> str | None:
    """The value of --lang wherever it is in argv (the help texts need the language before the parser exists)."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        lang = i18n.resolve(_language_option(argv))
    except ValueError as exc:
        print(f"faultlab: {exc}", file=sys.stderr)
        return 2
    i18n.activate_for_cli(lang)
    args = parser_for(lang).parse_args(argv)
    if args.home:
        os.environ["FAULTLAB_HOME"] = args.home
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
