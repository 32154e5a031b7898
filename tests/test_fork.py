"""cmdrun in fork children: nothing that does not survive ``fork`` is reused."""

from __future__ import annotations

import sys

import pytest

import cmdrun
from children import py

ARUN_IN_FORK_CHILD = """
import asyncio, os, sys
import cmdrun

async def echo(word):
    return (await asyncio.wait_for(cmdrun.arun(["echo", word]), 10)).stdout

assert asyncio.run(echo("parent")) == "parent\\n"
pid = os.fork()
if pid == 0:
    try:
        os._exit(0 if asyncio.run(echo("child")) == "child\\n" else 3)
    except BaseException:
        os._exit(4)
print("child exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_arun_works_in_a_fork_child_after_the_parent_used_it() -> None:
    result = cmdrun.run(py(ARUN_IN_FORK_CHILD), timeout=30)
    assert result.stdout == "child exit 0\n"


ARUN_IN_POOL_WORKER = """
import asyncio, multiprocessing
import cmdrun

def work(word):
    return asyncio.run(asyncio.wait_for(cmdrun.arun(["echo", word]), 10)).stdout

if __name__ == "__main__":
    work("parent")
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(pool.map(work, ["a", "b", "c"]))
"""


def test_arun_works_in_a_multiprocessing_fork_worker() -> None:
    result = cmdrun.run(py(ARUN_IN_POOL_WORKER), timeout=30)
    assert result.stdout == "['a\\n', 'b\\n', 'c\\n']\n"


@pytest.mark.parametrize("door", ["run", "call"])
def test_first_run_imports_nothing(door: str) -> None:
    # A lazy import on the way to a child can deadlock in a fork child, on a module lock
    # held at fork time by a thread of the parent.
    # (``import cmdrun`` imports the rest on the first use of a public name, here before
    # ``before``; a fork child never gets that far: see the next test.)
    code = f"""
import sys, cmdrun
{door} = cmdrun.{door}
before = set(sys.modules)
{door}(["true"])
print(sorted(set(sys.modules) - before))
"""
    result = cmdrun.run([sys.executable, "-c", code], timeout=30)
    assert result.stdout == "[]\n"


def test_fork_child_of_a_process_that_only_imported_cmdrun_imports_nothing() -> None:
    code = """
import os, sys, cmdrun
pid = os.fork()
if pid == 0:
    before = set(sys.modules)
    ok = cmdrun.run(["echo", "hi"]).stdout == "hi\\n"
    os._exit(0 if ok and set(sys.modules) == before else 1)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    result = cmdrun.run([sys.executable, "-c", code], timeout=30)
    assert result.stdout == "0\n"
