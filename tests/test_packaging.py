"""What a user installs: the distribution's name, its extras, its licence, its install hints.

The import package is ``cmdrun``, but the PyPI name ``cmdrun`` belongs to an unrelated
project: every hint that tells a user what to ``pip install`` must name this distribution
(or the plain dependency), never ``cmdrun`` itself.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import re
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYPROJECT_TEXT = (ROOT / "pyproject.toml").read_text()
# The project on PyPI that owns the name ``cmdrun`` (0.1.0 and 0.1.1 when this was written).
UNRELATED_PYPI_NAME = "cmdrun"

# The arguments of a `pip install` in prose or code: up to the end of the command.
_PIP_INSTALL_ARGS = re.compile(r"pip install([^`\n;&|)]*)")
# A requirement naming the PyPI `cmdrun` (with extras or a version): the unrelated project.
_PYPI_CMDRUN = re.compile(r"cmdrun(?:\[[\w,]*\])?(?:[<>=!~].*)?")
# Where install hints live: the README and the site, messages and docstrings, examples,
# benchmarks.
_HINT_FILES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "src").rglob("*.py")),
    *sorted((ROOT / "examples").glob("*.py")),
    *sorted((ROOT / "benchmarks").glob("*.py")),
]


def _distribution_name() -> str:
    # A regex, not tomllib: the suite also runs on Python 3.10, which has no tomllib.
    found = re.search(r'^\[project\]\n(?:.*\n)*?name = "([^"]+)"', PYPROJECT_TEXT, re.MULTILINE)
    assert found, "no [project] name in pyproject.toml"
    return found.group(1)


@pytest.fixture
def pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")
    parsed: dict[str, Any] = tomllib.loads(PYPROJECT_TEXT)
    return parsed


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower() for req in requirements}


def test_distribution_name_is_not_the_unrelated_pypi_cmdrun() -> None:
    assert _distribution_name() != UNRELATED_PYPI_NAME


def test_import_package_stays_cmdrun() -> None:
    assert 'packages = ["src/cmdrun"]' in PYPROJECT_TEXT


@pytest.mark.parametrize("path", _HINT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_install_hints_never_install_the_unrelated_pypi_cmdrun(path: pathlib.Path) -> None:
    text = path.read_text()
    bad = [
        args
        for args in _PIP_INSTALL_ARGS.findall(text)
        if any(_PYPI_CMDRUN.fullmatch(word.strip("'\"")) for word in args.split())
    ]
    # Extras named outside a pip command (``the cmdrun[progress] extra``) mislead the same way.
    extras = re.findall(r"(?<![\w/-])cmdrun\[\w+\]", text)
    assert (bad, extras) == ([], [])


def test_install_hint_check_catches_the_unrelated_name() -> None:
    found = _PIP_INSTALL_ARGS.findall("`pip install -U 'cmdrun[progress]'`; pip install cmdrun")
    assert [any(_PYPI_CMDRUN.fullmatch(w.strip("'")) for w in f.split()) for f in found] == [
        True,
        True,
    ]
    assert not _PYPI_CMDRUN.fullmatch("cmdrun-py[progress]")


def test_readme_says_why_the_distribution_and_import_names_differ() -> None:
    readme = (ROOT / "README.md").read_text()
    name = _distribution_name()
    assert f"pip install '{name}[" in readme or f"`{name}`" in readme
    assert "import cmdrun" in readme
    assert "unrelated project" in readme


def test_test_extra_holds_no_lint_tools(pyproject: dict[str, Any]) -> None:
    extras = pyproject["project"]["optional-dependencies"]
    assert _names(extras["test"]).isdisjoint({"ruff", "mypy", "types-pexpect"})
    assert {"ruff", "mypy", "types-pexpect"} <= _names(extras["dev"])


# The tests of the documentation site (test_docs_*.py) need the docs extra too (mkdocs,
# selenium); they skip without it (fail under CMDRUN_REQUIRE_DOCS=1, as in CI).
_DOCS_TESTS = sorted((ROOT / "tests").glob("test_docs_*.py"))


def _third_party_imports(paths: list[pathlib.Path]) -> set[str]:
    """The distributions the files import from, the standard library and the suite aside."""
    local = {"cmdrun", "children", "leakcheck", "faults", "_dnsserver", "mxtool", "conftest"}
    local |= {path.stem for path in (ROOT / "tests").rglob("*.py")}
    imported: set[str] = set()
    for path in paths:
        found = re.findall(r"^\s*(?:import|from) ([A-Za-z_]\w*)", path.read_text(), re.MULTILINE)
        imported |= set(found)
    third_party = imported - set(sys.stdlib_module_names) - local - {"__future__"}
    owners = importlib.metadata.packages_distributions()
    # A module installed only on older Pythons (a backport) is named as its distribution.
    return {owners.get(module, [module])[0].lower() for module in third_party}


def test_test_extra_covers_every_third_party_import_of_the_suite(
    pyproject: dict[str, Any],
) -> None:
    project = pyproject["project"]
    installed = _names(project["dependencies"]) | _names(project["optional-dependencies"]["test"])
    paths = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "examples").glob("*.py")]
    needed = _third_party_imports([path for path in paths if path not in _DOCS_TESTS])
    assert needed <= installed, f"imported by the suite, missing from [test]: {needed - installed}"


def test_docs_extra_covers_every_third_party_import_of_the_docs_tests(
    pyproject: dict[str, Any],
) -> None:
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    installed = _names(project["dependencies"]) | _names(extras["test"]) | _names(extras["docs"])
    assert _DOCS_TESTS, "no tests/test_docs_*.py"
    needed = _third_party_imports(_DOCS_TESTS)
    assert needed <= installed, f"imported by the docs tests, not in [docs]: {needed - installed}"


def test_ci_gates_install_the_dev_extra() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    gates = ci[: ci.index("ruff check .")]
    assert "pip install -q -e '.[test,dev]'" in gates


def test_license_file_is_the_mit_licence_pyproject_names(pyproject: dict[str, Any]) -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the cmdrun authors" in text
    assert pyproject["project"]["license-files"] == ["LICENSE"]
