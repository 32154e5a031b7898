"""Secrets: values a program must receive and nothing else may show.

A :class:`Secret` is accepted as ``input``, as a ``sendline`` argument and as a ``respond``
reply. Its ``repr``/``str`` are masked, it refuses to be pickled (so it cannot end up in a
file by accident), and its plaintext is revealed only at the moment it is written to the
program, as :class:`Sealed` bytes whose repr is masked too (a traceback showing locals
shows nothing).

A PTY echoes typed text and programs may print what they read, so the output is masked once,
where it enters cmdrun: :class:`Redactor` turns every occurrence of a secret in a stream into
:data:`MASK` before any sink, file, callback or session buffer sees a byte of it. It holds
back the end of a chunk while that end could be the start of a secret (a secret split across
reads, or echoed a character at a time), and releases it when the next chunk shows it is not
one, or when the stream ends.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._defaults import DEFAULT_ENCODING

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    import re

MASK = "******"


class Secret:
    """A string whose value is given to the program and masked everywhere else.

    Args:
        value: the secret text (a password, a token); a Secret is taken as its value.

    Raises:
        TypeError: ``value`` is not a str.
        ValueError: ``value`` is empty.
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
        """The real value. Call it only to hand the value to something that needs it.

        Returns:
            The secret text, unmasked.
        """
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

    def __getstate__(self) -> object:
        # Python 3.11+ gives every object a __getstate__ that returns the slot values.
        raise TypeError("a Secret cannot be pickled: its value would leave the process")

    def __copy__(self) -> Secret:
        return self  # immutable, like a str: a copy is the same value, still in the process

    def __deepcopy__(self, memo: object) -> Secret:
        return self

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


def masked(value: str | Secret) -> str:
    """How typed text may appear in logs and recordings: each line of a Secret is a
    :data:`MASK` (its line structure stays, so a recording replays line by line)."""
    if not isinstance(value, Secret):
        return value
    return "\n".join(MASK if line else "" for line in value.reveal().split("\n"))


class Sealed(bytes):
    """A secret's bytes on their way to the program; a repr (traceback locals) hides them."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} bytes of a Secret>"

    __str__ = __repr__


def seal(secret: Secret, encoding: str, end: str = "") -> Sealed:
    """The bytes to write for ``secret`` (then ``end``), revealed only inside them.

    Raises:
        ValueError: the secret cannot be encoded with ``encoding`` (the error shows none of it).
    """
    try:
        return Sealed((secret.reveal() + end).encode(encoding))
    except UnicodeEncodeError:
        pass
    # Raised outside the except block: the codec's error (which holds the text) is not chained.
    raise ValueError(f"a Secret cannot be encoded in {encoding!r}")


def _forms(value: str) -> list[str]:
    """The texts to mask for one secret: as typed (without its Enter), as a terminal echoes
    it (``\\r\\n``), and each line of a multi-line secret (programs print lines one by one)."""
    whole = value.rstrip("\r\n") or value
    forms = [whole]
    if "\n" in whole:
        forms.append(whole.replace("\r\n", "\n").replace("\n", "\r\n"))
        forms += [line.rstrip("\r") for line in whole.split("\n") if line.strip()]
    return forms


class Redactor:
    """Replaces every known secret with :data:`MASK`: in output streams as they arrive
    (:meth:`feed`, :meth:`flush`), and in whole texts (:meth:`text`).

    Args:
        secrets: the secrets known from the start; :meth:`add` teaches more.
        encoding: of the output streams.
    """

    __slots__ = ("_encoding", "_held", "_mask", "_needles", "_pattern", "_texts")

    def __init__(self, secrets: Iterable[Secret] = (), encoding: str = DEFAULT_ENCODING) -> None:
        self._encoding = encoding
        self._mask = MASK.encode(encoding)
        self._texts: list[str] = []
        self._needles: list[bytes] = []
        self._pattern: re.Pattern[bytes] | None = None
        self._held: dict[str, bytes] = {}
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret) -> None:
        """Mask ``secret`` from now on (in every stream, including bytes held back)."""
        import re  # only when secrets are in play: not on every run's path

        new = [form for form in _forms(secret.reveal()) if form not in self._texts]
        if not new:
            return
        # Longest first, so a secret containing another is masked whole.
        self._texts = sorted([*self._texts, *new], key=len, reverse=True)
        needles: list[bytes] = []
        for form in self._texts:
            try:
                needles.append(form.encode(self._encoding))
            except UnicodeEncodeError:
                continue  # it can never be sent (seal() refuses it), so never printed back
        self._needles = [needle for needle in needles if needle]
        if self._needles:
            self._pattern = re.compile(b"|".join(re.escape(n) for n in self._needles))

    def __bool__(self) -> bool:
        return bool(self._texts)

    def text(self, text: str) -> str:
        """``text`` with every secret masked (for whole texts: logs, recorded input)."""
        for form in self._texts:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def feed(self, stream: str, data: bytes) -> bytes:
        """The part of ``stream``'s output that can be delivered now, secrets masked."""
        if self._pattern is None:
            return data
        held = self._held.pop(stream, None)
        if held:
            data = held + data
        matches = list(self._pattern.finditer(data))
        if (
            matches
            and matches[-1].end() == len(data)
            and self._could_grow(data[matches[-1].start() :])
        ):
            matches.pop()  # a secret that a longer one starts with: wait for the next chunk
        hold = self._hold_from(data, matches[-1].end() if matches else 0)
        if hold < len(data):
            self._held[stream] = data[hold:]
        if not matches:
            return data[:hold]
        parts: list[bytes] = []
        done = 0
        for match in matches:
            parts += (data[done : match.start()], self._mask)
            done = match.end()
        parts.append(data[done:hold])
        return b"".join(parts)

    def flush(self, stream: str) -> bytes:
        """At the end of ``stream``: the bytes held back (they turned out not to be a secret)."""
        return self._held.pop(stream, b"")

    def _could_grow(self, tail: bytes) -> bool:
        """Whether ``tail`` is the start of a longer secret."""
        return any(len(n) > len(tail) and n.startswith(tail) for n in self._needles)

    def _hold_from(self, data: bytes, start: int) -> int:
        """Where the longest end of ``data`` (from ``start`` on) that could begin a secret
        starts; ``len(data)`` when none could."""
        longest = max(len(needle) for needle in self._needles)  # in bytes, not characters
        for at in range(max(start, len(data) - longest + 1), len(data)):
            if self._could_grow(data[at:]):
                return at
        return len(data)
