"""The reference pages stay reference: generated figures, links that resolve, today's names.

The README's table of current figures is written by ``bench/report.py`` from
``docs/benchmarks.json``; a hand edit, or a report change without regenerating, fails here.
Links, images and the code paths and module names the pages cite must exist, so a move of a
module shows up as a failing test rather than a stale page. The record in ``docs/notes/`` is
exempt from the name checks: it names things as they were.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTES = DOCS / "notes"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
REFERENCE = [page for page in PAGES if page.name != "benchmarks.md"]  # that one is generated
EVERY_PAGE = [*PAGES, *sorted(NOTES.glob("*.md"))]

LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
CODE = re.compile(r"`([^`\s]+)`")
FILE_NAME = re.compile(r"\.(conf|json|md|ipynb|keras|npz|py|service|toml|txt|ya?ml)$")
PATH_ROOTS = ("digitwidgets/", "tools/", "tests/", "bench/", "scripts/", "notebooks/", "deploy/")


def report_module():
    """``bench/report.py``, imported from its folder."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import report
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return report


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_readme_figures_are_the_ones_the_report_writes():
    report = report_module()
    readme = (ROOT / "README.md").read_text()
    collected = json.loads((DOCS / "benchmarks.json").read_text())
    start, end = readme.find(report.README_START), readme.find(report.README_END)
    assert 0 <= start < end, "README.md lost the markers bench/report.py writes between"
    table = readme[start : end + len(report.README_END)]
    assert table == report.readme_figures(collected), (
        "README's figures differ from docs/benchmarks.json: regenerate them with "
        "`.venv/bin/python bench/run_all.py --report-only`, do not edit them by hand"
    )
    assert "| pass |" in table or "**miss**" in table  # the table has rows, with verdicts


@pytest.mark.parametrize(("page", "most"), [("README.md", 160), ("docs/architecture.md", 360)])
def test_the_reference_pages_stay_short(page, most):
    lines = len((ROOT / page).read_text().splitlines())
    assert lines <= most, f"{page} has {lines} lines: the record belongs in docs/notes/"


@pytest.mark.parametrize("page", EVERY_PAGE, ids=_name)
def test_every_link_and_image_resolves_inside_the_repository(page):
    broken = []
    for match in LINK.finditer(page.read_text()):
        target = (match.group(1) or match.group(2)).split("#")[0]
        if not target or re.match(r"[a-z]+:", target):
            continue  # an anchor on the same page, or a web address
        resolved = (page.parent / target).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert not broken, f"{_name(page)} links to what is not in the repository: {broken}"


def _module_exists(dotted: str) -> bool:
    """Whether ``digitwidgets.a.b[.name]`` is a module of the package or a name in one."""
    parts = dotted.split(".")
    where = ROOT / parts[0]
    for part in parts[1:]:
        if (where / part).is_dir():
            where = where / part
        elif (where / f"{part}.py").exists():
            where = where / f"{part}.py"
        else:
            source = (where / "__init__.py" if where.is_dir() else where).read_text()
            # The rest names something the module defines, imports or exports lazily; its
            # own attributes (a method) are not checked.
            name = re.escape(part)
            defined = rf"(def|class)\s+{name}\b|^{name}\s*[:=]|\bimport\b.*\b{name}\b|\"{name}\":"
            return bool(re.search(defined, source, re.MULTILINE))
    return True


@pytest.mark.parametrize("page", REFERENCE, ids=_name)
def test_the_code_a_reference_page_names_exists(page):
    missing = []
    for match in CODE.finditer(page.read_text()):
        token = match.group(1).split("::")[0].rstrip(".,:;")
        if any(mark in token for mark in "<*{"):
            continue  # a pattern, not a path
        path = token.split(":")[0]
        if token.startswith(PATH_ROOTS) and re.search(r"(\.\w+|/)$", path):  # a file or folder
            if not (ROOT / path).exists():
                missing.append(token)
        elif FILE_NAME.search(token):
            continue  # a file's name, such as digitwidgets.nginx.conf
        elif re.fullmatch(r"digitwidgets(\.[A-Za-z_]\w*)+", token) and not _module_exists(token):
            missing.append(token)
    assert not missing, f"{_name(page)} names code that is not there: {missing}"


def test_architecture_headings_carry_no_issue_numbers():
    headings = [
        line for line in (DOCS / "architecture.md").read_text().splitlines() if line[:1] == "#"
    ]
    assert headings and not [line for line in headings if re.search(r"issue \d", line, re.I)]
