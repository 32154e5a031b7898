"""The API reference says, for each public function and method, its parameters and returns.

The reference (``docs/reference/*.md``) renders the public names with mkdocstrings, from
their docstrings (Google style, STYLE.md). For every name of ``cmdrun.__all__`` and
``cmdrun.testing.__all__`` that a page renders, and every public method the page shows of it
(the ``members`` and ``filters`` options of its block, as mkdocstrings applies them), this
checks with griffe, reading the source as mkdocstrings does:

- a shown method or property has a docstring (mkdocstrings silently leaves out one that
  has none);
- every parameter, ``self`` and ``cls`` aside, has an ``Args:`` entry; ``*args`` and
  ``**kwargs`` too, though the doors' ``**options`` only forward to :func:`cmdrun.run` and
  friends: the entry is where a reader learns which function's options they are;
- a function that returns something other than None says what, under ``Returns:`` (or
  ``Yields:``);
- a class's constructor parameters (shown in its signature) have ``Args:`` entries, or
  ``Attributes:`` entries of the same name, unless the class says it is "not built by hand"
  (``Result``, ``Session``...: cmdrun makes them, from internals a reader never holds).

``Raises:`` is the error contract, but whether a function raises is not read off its
signature: reviews check it, not this. Properties are attributes: their docstring is the
description. Needs griffe (from the ``docs`` extra, through ``mkdocstrings[python]``): skips
without it, unless ``CMDRUN_REQUIRE_DOCS=1`` (as in CI) makes that a failure.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import re
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import cmdrun
import cmdrun.testing

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
#: What a class that cmdrun makes (and a reader never builds) says of itself.
NOT_BUILT_BY_HAND = "not built by hand"
_BLOCK = re.compile(r"^::: (\S+)[ \t]*\n((?:[ \t]+\S.*\n|[ \t]*\n)*)", re.MULTILINE)


def _griffe() -> Any:
    """griffe, or a skip (a failure under ``CMDRUN_REQUIRE_DOCS=1``)."""
    if os.environ.get("CMDRUN_REQUIRE_DOCS") == "1":
        try:
            return importlib.import_module("griffe")
        except ImportError:
            pytest.fail("CMDRUN_REQUIRE_DOCS=1 but griffe is missing (pip install -e '.[docs]')")
    return pytest.importorskip("griffe", reason="needs the docs extra (mkdocstrings[python])")


def _value(text: str) -> object:
    """A YAML scalar or flow list, as the reference pages write them."""
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("[") and text.endswith("]"):
        return [item.strip().strip("'\"") for item in text[1:-1].split(",") if item.strip()]
    return text.strip("'\"")


def block_options(body: str) -> dict[str, object]:
    """The ``options:`` of a block (its indented lines): scalars, flow and block lists."""
    lines = textwrap.dedent(body).splitlines()
    if "options:" not in lines:
        return {}
    options: dict[str, object] = {}
    key = ""
    for line in lines[lines.index("options:") + 1 :]:
        item = line.strip()
        if not item:
            continue
        if item.startswith("- "):
            listed = options.setdefault(key, [])
            assert isinstance(listed, list), f"{key}: a list item after a value"
            listed.append(str(_value(item[2:])))
            continue
        key, _, rest = item.partition(":")
        if rest.strip():
            options[key] = _value(rest)
    return options


def rendered_blocks(pages: dict[str, str]) -> dict[str, dict[str, object]]:
    """Each identifier the pages render, with its block's options."""
    return {
        name: block_options(body) for text in pages.values() for name, body in _BLOCK.findall(text)
    }


def _default_filters() -> list[str]:
    found = re.search(r"^\s+filters: (\[.*\])\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert found, "no filters in mkdocs.yml's mkdocstrings options"
    filters = _value(found.group(1))
    assert isinstance(filters, list)
    return filters


def shown(name: str, filters: list[str]) -> bool:
    """Whether mkdocstrings keeps a member named ``name`` (its rule: the last filter that
    matches decides; when none matches, it is kept unless every filter is inclusive)."""
    keep = None
    for pattern in filters:
        if re.search(pattern.removeprefix("!"), name):
            keep = not pattern.startswith("!")
    if keep is None:
        return not filters or any(pattern.startswith("!") for pattern in filters)
    return keep


def _sections(obj: Any) -> dict[str, list[Any]]:
    """The docstring's sections by kind (``parameters``, ``returns``...), {} without one."""
    if obj.docstring is None:
        return {}
    found: dict[str, list[Any]] = {}
    for section in obj.docstring.parse("google"):
        value = section.value if isinstance(section.value, list) else [section.value]
        found.setdefault(section.kind.value, []).extend(value)
    return found


def _parameters(function: Any) -> list[str]:
    return [p.name for p in function.parameters if p.name not in ("self", "cls")]


def _entries(sections: dict[str, list[Any]], kind: str) -> set[str]:
    return {entry.name.lstrip("*") for entry in sections.get(kind, [])}


def function_problems(path: str, function: Any) -> Iterator[str]:
    """What the docstring of a shown function or method leaves out."""
    sections = _sections(function)
    if not sections:
        yield f"{path}: no docstring (mkdocstrings leaves it out of the page)"
        return
    documented = _entries(sections, "parameters")
    for name in _parameters(function):
        if name not in documented:
            yield f"{path}: parameter {name!r} has no Args entry"
    returns = str(function.returns) if function.returns is not None else "None"
    if returns not in ("None", "NoReturn") and not ({"returns", "yields"} & sections.keys()):
        yield f"{path}: returns {returns} but has no Returns (or Yields) section"


def class_problems(
    path: str, cls: Any, options: dict[str, object], filters: list[str]
) -> Iterator[str]:
    """What the docstring of a shown class, and of the methods shown with it, leave out."""
    sections = _sections(cls)
    init = cls.all_members.get("__init__")
    if init is not None and init.is_alias:
        try:
            init = init.final_target
        except Exception:  # an __init__ outside the package (the stdlib's): none to document
            init = None
    text = cls.docstring.value if cls.docstring is not None else ""
    if init is not None and NOT_BUILT_BY_HAND not in " ".join(text.lower().split()):
        # mkdocstrings merges the docstring of __init__ into the class's: either may say it.
        documented = _entries(sections, "parameters") | _entries(sections, "attributes")
        documented |= _entries(_sections(init), "parameters")
        for name in _parameters(init):
            if name not in documented:
                yield f"{path}: constructor parameter {name!r} has no Args (or Attributes) entry"
    members = options.get("members")
    if members is False:
        return
    active = options.get("filters", filters)
    assert isinstance(active, list), f"{path}: filters is not a list"
    for name, member in cls.members.items():
        if member.is_alias or member.inherited:
            continue
        if members is None and not shown(name, active):
            continue
        if isinstance(members, list) and name not in members:
            continue
        if member.is_function:
            yield from function_problems(f"{path}.{name}", member)
        elif "property" in member.labels and member.docstring is None:
            yield f"{path}.{name}: a property with no docstring (left out of the page)"


def reference_problems(package: Any, blocks: dict[str, dict[str, object]]) -> list[str]:
    """Every problem of every public name the blocks render."""
    filters = _default_filters()
    problems: list[str] = []
    for module, public in (("cmdrun", cmdrun.__all__), ("cmdrun.testing", cmdrun.testing.__all__)):
        for name in public:
            path = f"{module}.{name}"
            if path not in blocks:
                continue  # test_docs_reference.py fails for it
            obj = package[path.removeprefix("cmdrun.")]
            obj = obj.final_target if obj.is_alias else obj
            if obj.is_class:
                problems += class_problems(path, obj, blocks[path], filters)
            elif obj.is_function:
                problems += function_problems(path, obj)
    return problems


@pytest.fixture(scope="module")
def griffe() -> Any:
    return _griffe()


def test_every_public_function_and_method_shown_documents_its_arguments_and_returns(
    griffe: Any,
) -> None:
    package = griffe.load("cmdrun", search_paths=[str(ROOT / "src")], docstring_parser="google")
    pages = {path.name: path.read_text() for path in sorted(REFERENCE.glob("*.md"))}
    problems = reference_problems(package, rendered_blocks(pages))
    assert problems == [], "\n".join(["docstrings the reference shows leave out:", *problems])


def test_block_options_reads_members_and_filters_as_the_pages_write_them() -> None:
    page = (
        "# Page\n\n::: cmdrun.Remote\n    options:\n      members:\n        - run\n"
        "        - call\n\n::: cmdrun.testing.In\n    options:\n"
        '      filters: ["!^_", "!^accepts$"]\n      show_signature: false\n\n'
        "::: cmdrun.run\n\nText.\n"
    )
    assert rendered_blocks({"page.md": page}) == {
        "cmdrun.Remote": {"members": ["run", "call"]},
        "cmdrun.testing.In": {"filters": ["!^_", "!^accepts$"], "show_signature": False},
        "cmdrun.run": {},
    }
    assert shown("run", ["!^_"])
    assert not shown("_run", ["!^_"])
    assert not shown("accepts", ["!^_", "!^accepts$"])
    assert shown("run", ["^run$"])
    assert not shown("call", ["^run$"])
    assert shown("call", [])


def test_the_check_finds_each_thing_a_docstring_leaves_out(
    griffe: Any, tmp_path: pathlib.Path
) -> None:
    source = '''
        class Made:
            """Made by a function; not built by hand."""

            def __init__(self, secret_internals: object) -> None: ...


        class DocumentedInInit:
            """Its constructor documents itself."""

            def __init__(self, size: int) -> None:
                """Make one.

                Args:
                    size: documented here.
                """


        class Built:
            """Built by users.

            Args:
                kept: documented.
            """

            def __init__(self, kept: int, forgotten: int) -> None: ...

            def shown(self, count: int, *rest: str, **options: object) -> int:
                """Documents a parameter and forgets the rest and the return.

                Args:
                    count: documented.
                    **options: documented.
                """

            def undocumented(self) -> None: ...

            @property
            def size(self) -> int: ...

            def hook(self) -> None: ...

            def _private(self, anything: int) -> int: ...
    '''
    (tmp_path / "sample.py").write_text(textwrap.dedent(source))
    sample = griffe.load("sample", search_paths=[str(tmp_path)], docstring_parser="google")
    filters = ["!^_", "!^hook$"]
    assert list(class_problems("Made", sample["Made"], {}, filters)) == []
    assert list(class_problems("Init", sample["DocumentedInInit"], {}, filters)) == []
    assert list(class_problems("Built", sample["Built"], {}, filters)) == [
        "Built: constructor parameter 'forgotten' has no Args (or Attributes) entry",
        "Built.shown: parameter 'rest' has no Args entry",
        "Built.shown: returns int but has no Returns (or Yields) section",
        "Built.undocumented: no docstring (mkdocstrings leaves it out of the page)",
        "Built.size: a property with no docstring (left out of the page)",
    ]
    assert list(class_problems("Built", sample["Built"], {"members": ["hook"]}, filters)) == [
        "Built: constructor parameter 'forgotten' has no Args (or Attributes) entry",
        "Built.hook: no docstring (mkdocstrings leaves it out of the page)",
    ]
