#!/usr/bin/env bash
# Starts and stops the guide's example system as plain local processes: run.sh up | down | status | restart N | stop N.
# The first use creates its virtual environment (.venv, from requirements.txt); see README.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
STAMP="$VENV/.installed-$(sha1sum "$HERE/requirements.txt" | cut -c1-12)"

install() {
    if [ ! -f "$STAMP" ]; then
        echo "run.sh: creating the example's virtual environment in $VENV (first use only)" >&2
        [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
        rm -f "$VENV"/.installed-*
        touch "$STAMP"
    fi
}

case "${1:-}" in
    install) install ;;
    up | down | status | restart | stop)
        install
        exec "$VENV/bin/python" "$HERE/control.py" "$@" ;;
    *)
        echo "usage: run.sh up | down | status | restart N | stop N | install" >&2
        exit 2 ;;
esac
