"""The ``"cmdrun"`` logger, created on first use so ``import cmdrun`` does not import logging."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself is not imported at run time (start-up cost)

if TYPE_CHECKING:
    import logging

DEBUG = 10  # logging.DEBUG
_logger: logging.Logger | None = None


def get_logger() -> logging.Logger:
    """The ``"cmdrun"`` logger."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("cmdrun")
    return _logger


def debug_enabled() -> bool:
    """Whether debug records would be emitted, without importing ``logging`` to find out.

    A program that never imported ``logging`` has configured no handler, so nothing would be
    shown. Not importing it on the hot path also matters in a fork child, where a lazy
    import can deadlock on a module lock that a thread of the parent held at fork time.
    """
    module = sys.modules.get("logging")
    if module is None or getattr(module.__spec__, "_initializing", False):
        return False
    return get_logger().isEnabledFor(DEBUG)


def log_debug(message: str, *args: object) -> None:
    get_logger().debug(message, *args)


def log_info(message: str, *args: object) -> None:
    get_logger().info(message, *args)


def log_warning(message: str, *args: object) -> None:
    get_logger().warning(message, *args)
