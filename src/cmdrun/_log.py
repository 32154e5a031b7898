"""The ``"cmdrun"`` logger, created on first use so ``import cmdrun`` does not import logging."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

DEBUG = 10  # logging.DEBUG
INFO = 20  # logging.INFO
_logger: logging.Logger | None = None


def get_logger() -> logging.Logger:
    """The ``"cmdrun"`` logger."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("cmdrun")
    return _logger


def debug_enabled() -> bool:
    return get_logger().isEnabledFor(DEBUG)


def log_debug(message: str, *args: object) -> None:
    get_logger().debug(message, *args)


def log_info(message: str, *args: object) -> None:
    get_logger().info(message, *args)
