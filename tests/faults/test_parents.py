"""Hostile parents: closed stdio, few fds, threads at fork, odd signal dispositions.

Each scenario runs in a fresh Python (see :mod:`faults.fresh`), so what it does to its own
process cannot spill over into the test process.
"""

from __future__ import annotations

import pytest

from faults.fresh import fresh_python


def test_parent_with_stdio_closed_gives_the_child_the_right_pipes() -> None:
    # With fds 0, 1 and 2 closed, os.pipe() hands out 0, 1 and 2 themselves.
    found = fresh_python(
        """
        import os
        os.close(0); os.close(1); os.close(2)
        import cmdrun
        script = "echo out; echo err >&2; cat"
        a = cmdrun.run(["sh", "-c", script], input="in\\n", timeout=10)
        b = cmdrun.run(["sh", "-c", script], timeout=10)
        with cmdrun.spawn(["sh", "-c", "read x; echo got $x"], tty=False) as s:
            s.sendline("it")
            c = s.wait(timeout=10)
        report([[r.stdout, r.stderr, r.returncode] for r in (a, b, c)])
        """
    )
    assert found == [["out\nin\n", "err\n", 0], ["out\n", "err\n", 0], ["got it\n", "", 0]]


def test_parent_with_stdio_closed_gives_a_pty_child_its_terminal() -> None:
    found = fresh_python(
        """
        import os
        os.close(0); os.close(1); os.close(2)
        import cmdrun
        r = cmdrun.run(["sh", "-c", "echo out; echo err >&2"], timeout=10, tty=True, check=False)
        report([r.stdout, r.returncode])
        """
    )
    assert found == ["out\r\nerr\r\n", 0]


def test_low_fd_limit_is_enough_for_many_runs_and_sessions() -> None:
    found = fresh_python(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        import cmdrun
        ok = sum(cmdrun.run(["echo", str(i)]).stdout == f"{i}\\n" for i in range(300))
        talked = 0
        for i in range(20):
            with cmdrun.spawn(["cat"], tty=i % 2 == 0) as s:
                s.sendline(f"line {i}")
                s.expect(f"line {i}")
                talked += 1
        report([ok, talked])
        """
    )
    assert found == [300, 20]


def test_forked_child_of_a_threaded_parent_runs_commands() -> None:
    found = fresh_python(
        """
        import os, signal, threading, time
        import cmdrun
        stop = threading.Event()
        def busy():
            while not stop.is_set():
                cmdrun.run(["true"])
        threads = [threading.Thread(target=busy) for _ in range(3)]
        for t in threads:
            t.start()
        outcomes = []
        for _ in range(40):
            pid = os.fork()
            if pid == 0:
                ok = cmdrun.run(["echo", "hi"], timeout=10).stdout == "hi\\n"
                os._exit(0 if ok else 1)
            end = time.monotonic() + 5
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    outcomes.append("ok" if status == 0 else f"status {status}")
                    break
                if time.monotonic() > end:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    outcomes.append("hung")
                    break
                time.sleep(0.005)
        stop.set()
        for t in threads:
            t.join()
        report(outcomes)
        """,
        timeout=120,
    )
    assert found == ["ok"] * 40


def test_parent_closing_its_fds_does_not_hand_the_child_a_stranger() -> None:
    found = fresh_python(
        """
        import os, tempfile
        import cmdrun
        cmdrun.run(["true"])  # cmdrun now holds its /dev/null
        os.closerange(3, 256)  # what daemons and test harnesses do
        with tempfile.TemporaryFile() as secret:
            secret.write(b"unrelated file contents\\n")
            secret.seek(0)
            r = cmdrun.run(["cat"], timeout=10, check=False)
            report([r.stdout, r.returncode])
        """
    )
    assert found == ["", 0]


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_parent_ignoring_sigchld_still_gets_the_exit_status(tty: bool) -> None:
    found = fresh_python(
        f"""
        import signal
        import cmdrun
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        try:
            r = cmdrun.run(["sh", "-c", "exit 3"], check=False, timeout=10, tty={tty})
            report(["status", r.returncode])
        except Exception as exc:
            report([isinstance(exc, cmdrun.CmdrunError), str(exc)])
        """
    )
    # Either the real status, or a cmdrun error that says why it cannot be known.
    assert found == ["status", 3] or (found[0] is True and "SIGCHLD" in found[1])


def test_running_out_of_fds_fails_clearly_and_leaks_nothing() -> None:
    found = fresh_python(
        """
        import os, resource
        import cmdrun
        cmdrun.run(["true"])
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        base = set(os.listdir("/proc/self/fd"))
        hogs = []
        try:
            while True:
                hogs.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        os.close(hogs.pop())  # one fd free: not enough for any run
        errors = []
        for cmd, kw in ((["true"], {}), (["cat"], {"input": "x"}), (["true"], {"tty": True})):
            try:
                cmdrun.run(cmd, **kw)
                errors.append("ran")
            except Exception as exc:
                errors.append(type(exc).__name__)
        try:
            statuses = [r.returncode for r in cmdrun.run_many([["true"], ["true"]], jobs=1)]
        except Exception as exc:
            statuses = type(exc).__name__
        for fd in hogs:
            os.close(fd)
        report([errors, statuses, sorted(set(os.listdir("/proc/self/fd")) - base)])
        """
    )
    errors, statuses, leaked = found
    assert errors == ["StartFailed"] * 3
    assert isinstance(statuses, list)  # per-command results, not an exception
    assert len(statuses) == 2
    assert leaked == []


def test_very_long_timeouts_work() -> None:
    found = fresh_python(
        """
        import cmdrun
        a = cmdrun.run(["echo", "a"], timeout=1e9, kill_grace=1e9, drain_timeout=1e9)
        with cmdrun.spawn(["cat"], tty=False, timeout=1e9) as s:
            s.sendline("b")
            b = s.expect("b", timeout=1e9).text
        report([a.stdout, b])
        """
    )
    assert found == ["a\n", "b"]


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])
def test_dropped_sessions_are_stopped_and_reaped_with_a_warning(tty: bool) -> None:
    found = fresh_python(
        f"""
        import gc, os, warnings
        import cmdrun
        import leakcheck
        cmdrun.run(["true"], tty=True)
        before = leakcheck.snapshot()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(10):
                s = cmdrun.spawn(["cat"], tty={tty})
                s.sendline("x")
                s.expect("x")
                del s
            gc.collect()
        report([leakcheck.wait_for_no_leaks(before, threads=False),
                sum(issubclass(w.category, ResourceWarning) for w in caught)])
        """
    )
    assert found == [[], 10]
