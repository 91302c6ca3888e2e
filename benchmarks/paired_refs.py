"""A git ref installed for the paired benchmark: a detached worktree and its own virtual environment, cached by sha.

Every ref is installed with the same resolved dependency versions: `pip freeze` of the working tree's .venv (minus
faultlab itself) is the constraints file. What a ref's environment ends up with that those pins did not decide is
listed (`InstalledRef.differences`) and printed beside the figures.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.paired_stats import constraints_text, parse_freeze, pin_differences

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench" / "refs"
MARK = "installed.json"


class RefError(Exception):
    """A ref that cannot be measured: unknown to git, or its install failed (the message says which and why)."""


@dataclass(frozen=True)
class InstalledRef:
    """A ref ready to run: its name as given, its commit, its `faultlab` command and what its pins differ in."""

    name: str
    sha: str
    folder: Path
    differences: tuple[str, ...]

    @property
    def faultlab(self) -> Path:
        return self.folder / "venv" / "bin" / "faultlab"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.sha[:7]})"


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def resolve(ref: str) -> str:
    """The commit `ref` names; RefError for a name git does not know."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                           check=False, capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        raise RefError(f"unknown ref {ref!r}: git knows no commit by that name (tags: {', '.join(git('tag', '-l').split()) or 'none'}; "
                       "or a branch, or a sha)")
    return found.stdout.strip()


def working_tree_pins(python: str = sys.executable) -> dict[str, str]:
    """The working tree's resolved versions: `pip freeze` of the environment running this benchmark."""
    freeze = subprocess.run([python, "-m", "pip", "freeze", "--disable-pip-version-check"], check=True,
                            capture_output=True, text=True).stdout
    return parse_freeze(freeze)[0]


def install(ref: str, pins: dict[str, str], progress: Callable[[str], None]) -> InstalledRef:
    """`ref` checked out and installed under .bench/refs/<sha>/ (reused when already installed with these pins)."""
    sha = resolve(ref)
    folder = CACHE / sha
    constraints = constraints_text(pins)
    digest = hashlib.sha256(f"{sys.version}\n{constraints}".encode()).hexdigest()[:16]
    mark = folder / MARK
    if mark.exists():
        recorded = json.loads(mark.read_text())
        if recorded.get("pins_digest") == digest:
            return InstalledRef(ref, sha, folder, tuple(recorded["differences"]))
        progress(f"{ref}: the working tree's pins changed since it was installed; installing it again")
    source = folder / "src"
    if not (source / ".git").exists():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        git("worktree", "prune")  # a cache folder deleted by hand leaves its worktree registered
        progress(f"{ref}: git worktree at {source}")
        git("worktree", "add", "--detach", "--force", str(source), sha)
    venv = folder / "venv"
    if venv.exists():
        shutil.rmtree(venv)
    progress(f"{ref}: virtual environment with the working tree's {len(pins)} pinned versions (pip, ~1 min)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (folder / "constraints.txt").write_text(constraints)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "-c", str(folder / "constraints.txt"), str(source)], check=False,
                          capture_output=True, text=True)
    notes: list[str] = []
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        notes.append(f"could not install with the working tree's pins ({reason}); installed unpinned")
        progress(f"{ref}: {notes[0]}")
        unpinned = subprocess.run([*pip, str(source)], check=False, capture_output=True, text=True)
        if unpinned.returncode != 0:
            raise RefError(f"{ref}: pip install failed:\n{unpinned.stderr[-2000:]}")
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--disable-pip-version-check"],
                            check=True, capture_output=True, text=True).stdout
    installed = parse_freeze(freeze, exclude=("faultlab", "pip", "setuptools"))[0]
    notes += pin_differences(pins, installed)
    mark.write_text(json.dumps({"ref": ref, "sha": sha, "pins_digest": digest, "differences": notes}, indent=2))
    return InstalledRef(ref, sha, folder, tuple(notes))
