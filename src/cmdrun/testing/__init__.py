"""Test doubles for code that runs commands with cmdrun: fakes, fake dialogues, cassettes.

Usable from any test runner; with pytest, the ``fake_commands`` fixture and the
``cmdrun_cassette`` marker (installed with cmdrun) set them up for you::

    from cmdrun.testing import ANY, FakeCommands

    with FakeCommands() as fake:
        fake.register(["git", "rev-parse", ANY], stdout="abc123\\n")
        ...  # code under test: cmdrun.run(["git", "rev-parse", "HEAD"]) -> "abc123\\n"
"""

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

# As in cmdrun: public names say they live in cmdrun.testing (tracebacks, reprs, pickles).
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type):  # classes; ANY and ANY_REST are instances
        _value.__module__ = __name__
del _name, _value
