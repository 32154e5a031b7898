"""Secrets: values a program must receive and nothing else may show.

A :class:`Secret` is accepted as ``input``, as a ``sendline`` argument and as a ``respond``
reply. Its ``repr``/``str`` are masked, it refuses to be pickled (so it cannot end up in a
file by accident), and cmdrun replaces its value with :data:`MASK` in captured output,
matches, exception messages and log records, because a PTY echoes typed text and programs
may print what they read.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "******"


class Secret:
    """A string whose value is given to the program and masked everywhere else.

    Args:
        value: the secret text (a password, a token).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret takes a str, not {type(value).__name__}")
        if not value:
            raise ValueError("a Secret cannot be empty")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The real value. Call it only to hand the value to something that needs it."""
        value: str = object.__getattribute__(self, "_value")
        return value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled: its value would leave the process")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.reveal() == self.reveal()

    def __hash__(self) -> int:
        return hash((Secret, self.reveal()))


def text_of(value: str | Secret) -> str:
    """The real text of a plain string or a Secret."""
    return value.reveal() if isinstance(value, Secret) else value


def shown(value: str | Secret) -> str:
    """How a value may appear in logs and messages."""
    return MASK if isinstance(value, Secret) else value


class Redactor:
    """Replaces every known secret value with :data:`MASK` in text and bytes."""

    __slots__ = ("_encoding", "_values")

    def __init__(self, secrets: Iterable[Secret] = (), encoding: str = "utf-8") -> None:
        self._encoding = encoding
        self._values: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret) -> None:
        # A secret typed as a line ("pw\n") is printed back without its line ending.
        value = secret.reveal().rstrip("\r\n") or secret.reveal()
        if value not in self._values:
            self._values.append(value)
            # Longest first, so a secret containing another is masked whole.
            self._values.sort(key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def bytes(self, data: bytes) -> bytes:
        mask = MASK.encode()
        for value in self._values:
            raw = value.encode(self._encoding, "replace")
            if raw in data:
                data = data.replace(raw, mask)
        return data
