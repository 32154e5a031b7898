"""A griffe extension for the API reference: Sphinx roles in docstrings become Markdown.

cmdrun's docstrings name other objects the Sphinx way (``:func:`run```,
``:class:`~cmdrun.Result```), which reads well in source and in IDEs but which mkdocstrings shows as
literal text. Once the package is loaded, every docstring's roles become code spans, and those that
name a public object (a name of ``cmdrun.__all__`` or ``cmdrun.testing.__all__``, which the
reference renders under ``cmdrun.NAME``: tests/test_docs_reference.py) become links to it, as
autorefs writes them. Methods, private and stdlib names stay plain code: the reference may not
render them, and a link to nothing fails ``mkdocs build --strict``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

import cmdrun
import cmdrun.testing

ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|exc|obj):`(~?)([\w.]+)`")
PUBLIC = {f"cmdrun.{name}" for name in cmdrun.__all__} | {
    f"cmdrun.testing.{name}" for name in cmdrun.testing.__all__
}


def target(name: str, testing: bool) -> str | None:
    """The public identifier ``name`` stands for, or None when it names nothing public."""
    if name.startswith("cmdrun."):
        candidates = [name]
    else:
        candidates = [f"cmdrun.testing.{name}", f"cmdrun.{name}"]
        if not testing:
            candidates.reverse()
    return next((c for c in candidates if c in PUBLIC), None)


def markdown(text: str, testing: bool = False) -> str:
    """``text`` with every Sphinx role replaced: a link to a public object, else code."""

    def replace(found: re.Match[str]) -> str:
        tilde, name = found.groups()
        shown = name.rsplit(".", 1)[-1] if tilde else name
        identifier = target(name, testing)
        return f"`{shown}`" if identifier is None else f"[`{shown}`][{identifier}]"

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()
        stack: list[griffe.Object | griffe.Alias] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen or obj.is_alias:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                testing = obj.path.startswith("cmdrun.testing")
                obj.docstring.value = markdown(obj.docstring.value, testing)
            stack.extend(obj.members.values())
