"""The documentation on literal inputs and on the repository's own pages: no dead relative link or anchor in
README.md and every page under docs/ and examples/, and every Settings field documented in docs/configuration.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faultlab.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
         *sorted(p for p in (ROOT / "examples").rglob("*.md") if ".venv" not in p.parts)]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*(<[^>\n]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def links(markdown: str) -> list[str]:
    """Targets of the Markdown links and images in `markdown`, code blocks and inline code left out."""
    prose = INLINE_CODE.sub("", FENCE.sub("", markdown))
    return [target.strip("<>") for target in LINK.findall(prose)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor a page offers: one per heading, repeated headings numbered -1, -2… as GitHub does."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def dead_links(page: Path) -> list[str]:
    """The relative links of `page` whose file, or whose anchor in a Markdown file, does not exist."""
    dead = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        file = (page.parent / path_part).resolve() if path_part else page
        if not file.exists():
            dead.append(f"{target} (no file {file})")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
            dead.append(f"{target} (no heading #{anchor} in {file.name})")
    return dead


def test_links_found_outside_code_only() -> None:
    """Links and images are found in prose, and a link written inside code is not a link."""
    text = "See [a](docs/a.md) and ![pic](img/x.png \"t\").\n```\n[b](nowhere.md)\n```\n`[c](no.md)` [d](<e f.md>)\n"
    assert links(text) == ["docs/a.md", "img/x.png", "e f.md"]


def test_slugs_follow_github() -> None:
    """Anchors are GitHub's: punctuation and backticks dropped, accents kept, repeated headings numbered."""
    assert slug("The guide's study questions and scenarios, and the command that shows each") == (
        "the-guides-study-questions-and-scenarios-and-the-command-that-shows-each")
    assert slug("Placing an order safely: `Idempotency-Key`") == "placing-an-order-safely-idempotency-key"
    assert slug("faultlab — inicio rápido en español") == "faultlab--inicio-rápido-en-español"
    assert anchors("# Run it\n## Run it\n```\n# not a heading\n```\n") == {"run-it", "run-it-1"}


def test_dead_links_are_reported(tmp_path: Path) -> None:
    """A link to a missing file or to a missing heading is reported; a good one and a web link are not."""
    (tmp_path / "other.md").write_text("# Compare runs\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#compare-runs) [web](https://example.org/x) [self](#top)\n"
                    "[gone](missing.md) [bad](other.md#nope)\n# Top\n", encoding="utf-8")
    dead = dead_links(page)
    assert len(dead) == 2
    assert dead[0].startswith("missing.md") and dead[1].startswith("other.md#nope")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_dead_relative_links(page: Path) -> None:
    """Every relative link in README.md and under docs/ and examples/ names a file, and a heading, that exist."""
    assert dead_links(page) == []


def test_every_setting_is_documented() -> None:
    """docs/configuration.md names the environment variable of every Settings field."""
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(FAULTLAB_[A-Z0-9_]+)`", page))
    missing = [f"FAULTLAB_{name.upper()}" for name in Settings.model_fields
               if f"FAULTLAB_{name.upper()}" not in documented]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_points_at_a_file_a_clone_does_not_have(page: Path) -> None:
    """No page names the study guide's path outside the repository (`shared/…`): a person who clones it has only
    the repository, so the pages say what the guide is and point at docs/guide-mapping.md instead."""
    text = page.read_text(encoding="utf-8")
    assert "shared/seed" not in text and "study-guide.md" not in text
