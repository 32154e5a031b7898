"""Test doubles for code that runs commands with cmdrun: fakes, fake dialogues, cassettes.

Usable from any test runner; with pytest, the ``fake_commands`` fixture and the
``cmdrun_cassette`` marker (installed with cmdrun) set them up for you::

    from cmdrun.testing import ANY, FakeCommands

    with FakeCommands() as fake:
        fake.register(["git", "rev-parse", ANY], stdout="abc123\\n")
        ...  # code under test: cmdrun.run(["git", "rev-parse", "HEAD"]) -> "abc123\\n"
"""

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from ._cassette import Cassette, CassetteError, CassetteMiss
    from ._dialogue import DialogueMismatch, Exit, FakeHang, In, Out
    from ._fake import (
        ANY,
        ANY_REST,
        PROGRAM,
        Answer,
        Call,
        FakeCommands,
        Registration,
        UnregisteredCommand,
    )
del TYPE_CHECKING  # not a public name

#: Where each public name lives (the same as the imports above, for the type checkers).
#: Imported on first use: the pytest plugin, loaded into every pytest run, lives in this
#: package and must not bring the fakes and cmdrun's engine to tests that do not use them.
_API = {
    "._cassette": ("Cassette", "CassetteError", "CassetteMiss"),
    "._dialogue": ("DialogueMismatch", "Exit", "FakeHang", "In", "Out"),
    "._fake": (
        "ANY",
        "ANY_REST",
        "PROGRAM",
        "Answer",
        "Call",
        "FakeCommands",
        "Registration",
        "UnregisteredCommand",
    ),
}


def _import_api() -> None:
    """Import every public name into this module, all at once on the first use of any.

    As in cmdrun: public names say they live in cmdrun.testing (tracebacks, reprs, pickles);
    classes only (``ANY`` and ``ANY_REST`` are instances). cmdrun's own names too, all of
    them: the fakes import modules (sessions, batches) whose classes must say they live in
    cmdrun before a fake hands out one of their objects.
    """
    import importlib

    import cmdrun

    cmdrun._import_api()
    for module_name, names in _API.items():
        module = importlib.import_module(module_name, __name__)
        for name in names:
            value = getattr(module, name)
            if isinstance(value, type):
                value.__module__ = __name__
            globals()[name] = value


def __getattr__(name: str) -> object:
    """Import the fakes, dialogues and cassettes on first use (see ``_API``)."""
    if any(name in names for names in _API.values()):
        _import_api()
        return globals()[name]
    raise AttributeError(f"module 'cmdrun.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included (for ``dir()`` and ``help()``)."""
    return list(__all__)


__all__ = [
    "ANY",
    "ANY_REST",
    "Answer",
    "Call",
    "Cassette",
    "CassetteError",
    "CassetteMiss",
    "DialogueMismatch",
    "Exit",
    "FakeCommands",
    "FakeHang",
    "In",
    "Out",
    "PROGRAM",
    "Registration",
    "UnregisteredCommand",
]
