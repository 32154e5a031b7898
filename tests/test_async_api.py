"""The async API with real programs, on asyncio and on trio.

Every ``@pytest.mark.anyio`` test runs twice, once per backend (``anyio_backend`` in
conftest.py).
"""

from __future__ import annotations

import os
import select
import time

import pytest

import cmdrun
from children import prompter
from cmdrun._pump import _Poller

pytestmark = pytest.mark.anyio


# -- the event-loop driver sees what the synchronous one sees ----------------------------


async def test_stdout_before_a_stderr_prompt_is_seen_first_when_the_loop_was_busy() -> None:
    """A program prints its answer on stdout, then its prompt on stderr (``python3 -i``
    does): by the time a busy loop looks, both pipes are ready, and the answer must still
    come before the prompt, as with ``spawn``."""
    async with cmdrun.aspawn(prompter(">>> ", stream="stderr"), tty=False, timeout=20) as s:
        await s.expect(">>> ")
        for word in ("one", "two", "three"):
            await s.sendline(word)
            time.sleep(0.1)  # the loop is busy elsewhere (deliberately blocked)
            found = await s.expect(">>> ")
            assert found.before == f"got: {word}\n"


def test_poller_reports_ready_fds_in_registration_order_on_epoll_too() -> None:
    """epoll keeps an fd that was read to its end first in line; poll does not."""
    first_r, first_w = os.pipe()
    second_r, second_w = os.pipe()
    poller = _Poller()
    try:
        poller.register(first_r, select.POLLIN)
        poller.register(second_r, select.POLLIN)
        assert poller.loop_fd() >= 0  # now on epoll, as under an event loop
        os.write(second_w, b"x")
        assert poller.poll(0) == [(second_r, select.POLLIN)]
        os.read(second_r, 1)
        os.write(first_w, b"1")
        os.write(second_w, b"2")
        assert [fd for fd, _ in poller.poll(0)] == [first_r, second_r]
    finally:
        poller.close()
        for fd in (first_r, first_w, second_r, second_w):
            os.close(fd)
