"""The API reference covers the whole public API: a new public name cannot go undocumented.

The pages under ``docs/reference/`` render names with mkdocstrings blocks (``::: cmdrun.run``).
Every name of ``cmdrun.__all__`` and ``cmdrun.testing.__all__``, and every fixture of the
pytest plugin, must have one, under its public path, so that the guides can link to it
(``[run][cmdrun.run]``). Fast, and needs neither mkdocs nor a browser.
"""

from __future__ import annotations

import importlib
import pathlib
import re

import pytest

import cmdrun
import cmdrun.testing

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
# Rendered from a private path on purpose: the exception tree drawn in the errors module's
# docstring, the testing package's docstring, and the plugin's fixtures (which are used by
# name in a test's signature, never imported).
PRIVATE_PATHS_ALLOWED = {
    "cmdrun._errors",
    "cmdrun.testing._plugin.fake_commands",
    "cmdrun.testing._plugin.cmdrun_cassette",
}
# Rendered for its docstring alone (``members: false``), not as the names it holds.
MODULES_ALLOWED = {"cmdrun.testing"}
_BLOCK = re.compile(r"^::: (\S+)\s*$", re.MULTILINE)


def documented(pages: dict[str, str]) -> list[str]:
    """The identifiers the pages render, in page order (repeats kept)."""
    return [name for text in pages.values() for name in _BLOCK.findall(text)]


def reference_pages() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(REFERENCE.glob("*.md"))}


def undocumented(module: str, public: list[str], identifiers: list[str]) -> list[str]:
    """The names of ``public`` (a module's ``__all__``) that no block renders."""
    return [name for name in public if f"{module}.{name}" not in identifiers]


def test_documented_reads_blocks_and_undocumented_finds_a_missing_name() -> None:
    page = "# Running\n\nRun it.\n\n::: cmdrun.run\n    options:\n      x: 1\n\n:::cmdrun.call\n"
    found = documented({"running.md": page})
    assert found == ["cmdrun.run"]
    assert undocumented("cmdrun", ["call", "run"], found) == ["call"]


def test_every_public_name_of_cmdrun_is_in_the_reference() -> None:
    assert undocumented("cmdrun", cmdrun.__all__, documented(reference_pages())) == []


def test_every_public_name_of_cmdrun_testing_is_in_the_reference() -> None:
    names = cmdrun.testing.__all__
    assert undocumented("cmdrun.testing", names, documented(reference_pages())) == []


def test_every_fixture_of_the_pytest_plugin_is_in_the_reference() -> None:
    source = (ROOT / "src" / "cmdrun" / "testing" / "_plugin.py").read_text()
    fixtures = re.findall(r"^@pytest\.fixture\b.*\ndef (\w+)", source, re.MULTILINE)
    assert fixtures, "no fixture found in the plugin: has its source changed shape?"
    identifiers = documented(reference_pages())
    assert [f for f in fixtures if f"cmdrun.testing._plugin.{f}" not in identifiers] == []


def test_each_name_is_rendered_once() -> None:
    # Twice would give the name two addresses: a link to it could land on either.
    identifiers = documented(reference_pages())
    assert sorted({name for name in identifiers if identifiers.count(name) > 1}) == []


@pytest.mark.parametrize("identifier", documented(reference_pages()))
def test_each_block_renders_a_public_name_that_exists(identifier: str) -> None:
    parts = identifier.split(".")
    if identifier not in PRIVATE_PATHS_ALLOWED:
        assert not any(part.startswith("_") and part != "__version__" for part in parts)
    # The longest importable prefix, then attributes: the name must exist where it is shown.
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        break
    else:
        pytest.fail(f"{identifier}: no such module")
    if cut == len(parts):
        assert identifier in MODULES_ALLOWED | PRIVATE_PATHS_ALLOWED, f"{identifier} is a module"


def test_sphinx_roles_become_links_to_public_names_and_code_otherwise() -> None:
    pytest.importorskip("griffe", reason="the reference's griffe extension needs the docs extra")
    import importlib.util

    path = ROOT / "docs" / "_ext" / "sphinx_roles.py"
    spec = importlib.util.spec_from_file_location("sphinx_roles", path)
    assert spec is not None
    assert spec.loader is not None
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    text = (
        "See :func:`run`, :class:`~cmdrun.Result`, :meth:`Session.send`, "
        ":class:`subprocess.Popen`, :mod:`cmdrun._kill` and :class:`FakeCommands`."
    )
    assert roles.markdown(text) == (
        "See [`run`][cmdrun.run], [`Result`][cmdrun.Result], `Session.send`, "
        "`subprocess.Popen`, `cmdrun._kill` and [`FakeCommands`][cmdrun.testing.FakeCommands]."
    )
    # Inside cmdrun.testing a bare name means the testing package's first.
    assert roles.target("FakeCommands", testing=True) == "cmdrun.testing.FakeCommands"
    assert roles.target("nothing_public", testing=False) is None
