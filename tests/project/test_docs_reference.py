"""The repository stands alone: its reference is docs/, and what it cites there exists.

- No file of the project points at a specification kept outside the repository, by name or by a
  path to the folder beside the project that holds them (both built from pieces here, so this file
  does not name them itself).
- A citation of a section of a reference page in code or docs (`docs/domain.md, "Reason codes"`)
  names a heading of that page.
- A markdown link to a heading of a page in docs/ (`domain.md#reason-codes`) finds that heading.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "data", "__pycache__", "node_modules", ".pytest_cache", ".hypothesis"}
SUFFIXES = {".py", ".md", ".toml", ".csv", ".ini", ".mako", ".tcss", ".txt", ".cfg", ".html", ".j2"}
OUTSIDE = re.compile("(" + "|".join(("DOMAIN", "DESIGN", "SCENARIOS", "TECH" + "_NOTES", "STYLE")) + r")\.md")
# The pages the code cites by section (other pages are cited by their endpoints and tables too).
CITED = ("domain.md", "architecture.md", "scenarios.md", "station.md")
OUTSIDE_FOLDER = re.compile(r'"' + "shared" + r'" /|\.\./' + "shared" + "/")
CITATION = re.compile(r"docs/([\w/-]+\.md),? \(?\"([^\"]+)\"")
LINK = re.compile(r"\]\(([^)\s#]*\.md)#([^)\s]+)\)")


def _project_files() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        # Pruned in place, so the virtualenv and the data are never walked.
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        found += [Path(folder) / f for f in sorted(files) if Path(f).suffix in SUFFIXES]
    return found


def _headings(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)]


def _cited_section_missing(page: str, section: str) -> bool:
    target = ROOT / "docs" / page
    headings = [h.replace("`", "") for h in _headings(target)] if target.exists() else []
    return not any(h.startswith(section) for h in headings)


def _slug(heading: str) -> str:
    """The anchor a markdown renderer (GitHub's) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def outside_references(text: str) -> list[str]:
    return [m.group(0) for pattern in (OUTSIDE, OUTSIDE_FOLDER) for m in pattern.finditer(text)]


def test_no_file_points_outside_the_repository() -> None:
    found = []
    for path in _project_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{n}: {ref}" for ref in outside_references(line)]
    assert not found, "\n".join(found)


def test_the_outside_check_catches_a_reference() -> None:
    assert outside_references("rules (" + "DOMAIN" + ".md, Tare)") == ["DOMAIN" + ".md"]
    assert outside_references("rules (docs/domain.md, Tare)") == []
    beside = 'ROOT.parent / "' + "shared" + '" / "scenarios"'
    assert outside_references(beside) == ['"' + "shared" + '" /']


def test_every_cited_section_is_a_heading_of_its_page() -> None:
    missing = []
    for path in _project_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for page, section in CITATION.findall(line):
                if page in CITED and _cited_section_missing(page, section):
                    missing.append(f"{path.relative_to(ROOT)}:{n}: docs/{page}, {section!r}")
    assert not missing, "\n".join(missing)


def test_every_link_to_a_heading_finds_it() -> None:
    broken = []
    for path in [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]:
        for target, anchor in LINK.findall(path.read_text(encoding="utf-8")):
            page = (path.parent / target).resolve()
            if not page.exists() or anchor not in {_slug(h) for h in _headings(page)}:
                broken.append(f"{path.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken, "\n".join(broken)


def test_the_heading_checks_read_headings_as_a_renderer_does() -> None:
    assert _slug("A station's course") == "a-stations-course"
    assert _slug("Checks (`precheck`, `postcheck`)") == "checks-precheck-postcheck"
    assert _slug("The interlock (six conditions)") == "the-interlock-six-conditions"
    assert CITATION.findall('see docs/domain.md, "Reason codes".') == [("domain.md", "Reason codes")]
    assert not _cited_section_missing("domain.md", "Reason codes")
    assert _cited_section_missing("domain.md", "No such section")
