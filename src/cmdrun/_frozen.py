"""Values that cannot change once made: a base for cmdrun's slotted value classes.

Why not ``@dataclass(frozen=True, slots=True)``: ``import dataclasses`` (with the ``inspect``
it pulls in) costs about 4.5 ms, some 15% of ``import cmdrun``; a slotted class that refuses
``setattr`` gives the same guarantee for nothing. Constructors set their fields with
:func:`build`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class Frozen:
    """Refuses attribute assignment and deletion after construction."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")


def build(obj: Frozen, **fields: Any) -> None:
    """Set ``obj``'s fields once, from its constructor."""
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
