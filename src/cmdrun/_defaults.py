"""The defaults of cmdrun's options, named once.

Every public signature spells its defaults with these names (so ``help()`` and IDEs still
show the values), and the internal layers take the same ones: changing a default is a
one-line change here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Final


#: Seconds between SIGTERM and SIGKILL when the kill policy stops a process group.
DEFAULT_KILL_GRACE: Final = 2.0

#: Once the program has exited, seconds to wait for descendants still holding its output.
DEFAULT_DRAIN_TIMEOUT: Final = 1.0

#: ``(rows, columns)`` of a pseudo-terminal.
DEFAULT_DIMENSIONS: Final = (24, 80)

#: The codec for text input and output, and its error handler (``"replace"`` never raises).
DEFAULT_ENCODING: Final = "utf-8"
DEFAULT_ERRORS: Final = "replace"

#: A session's default timeout for ``expect``/``read``/``wait``, in seconds.
DEFAULT_SESSION_TIMEOUT: Final = 30.0

#: On a PTY, the longest cmdrun waits for the program to turn the terminal's echo off before
#: it types a :class:`Secret` (a password reader throws away what was typed before that).
SECRET_ECHO_WAIT: Final = 2.0
