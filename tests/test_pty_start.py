"""How a PTY child is started: argv exactly as given, a real controlling terminal, no fork
in Python when threads exist; on both start paths (util-linux ``setsid --ctty`` and the
ptyprocess fallback)."""

from __future__ import annotations

import os
import pathlib
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import cmdrun
from children import PY, open_fds, own_children, py
from cmdrun import CommandNotExecutable, CommandNotFound, _pty
from conftest import run_fallback_cases


def test_fallback_path_in_a_single_threaded_process() -> None:
    run_fallback_cases(__file__)


@pytest.fixture(autouse=True)
def no_stray_children() -> Iterator[None]:
    before = own_children()
    yield
    assert own_children() == before


def _argv_script(path: pathlib.Path, name: str) -> None:
    path.write_text(
        f'#!/bin/sh\nprintf "{name}"\nfor a in "$@"; do printf " [%s]" "$a"; done\necho\n'
    )
    path.chmod(0o755)


@pytest.fixture
def a_and_a_b(tmp_path: pathlib.Path) -> pathlib.Path:
    """A directory holding ``a b`` and ``a``, two scripts that print who they are and argv."""
    _argv_script(tmp_path / "a b", "I am a-b")
    _argv_script(tmp_path / "a", "I am a")
    return tmp_path


def test_one_word_command_with_a_space_is_not_split(
    start_path: str, a_and_a_b: pathlib.Path
) -> None:
    r = cmdrun.run([str(a_and_a_b / "a b")], tty=True)
    assert r.stdout.strip() == "I am a-b"


def test_arguments_reach_the_program_exactly(start_path: str, a_and_a_b: pathlib.Path) -> None:
    args = ["", "x y", "*", "$HOME", "-c", "'q'"]
    r = cmdrun.run([str(a_and_a_b / "a b"), *args], tty=True)
    assert r.stdout.strip() == "I am a-b [] [x y] [*] [$HOME] [-c] ['q']"


def test_spawned_one_word_command_is_not_split(start_path: str, a_and_a_b: pathlib.Path) -> None:
    with cmdrun.spawn([str(a_and_a_b / "a b")], timeout=10) as s:
        assert s.read().strip() == "I am a-b"


def test_program_found_on_the_childs_path(start_path: str, a_and_a_b: pathlib.Path) -> None:
    r = cmdrun.run(["a b", "1"], tty=True, env={"PATH": str(a_and_a_b)}, inherit_env=False)
    assert r.stdout.strip() == "I am a-b [1]"


def test_argv0_reaches_the_program_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the setsid path: ptyprocess always replaces argv[0] with the full path.
    if _pty.find_setsid() is None:
        pytest.skip("no util-linux setsid with --ctty here")
    monkeypatch.setattr(_pty, "START_PATH", "setsid")
    code = "import sys; print(sys.orig_argv[0])"
    r = cmdrun.run(
        [os.path.basename(PY), "-c", code],
        tty=True,
        env={"PATH": os.path.dirname(PY)},
        inherit_env=False,
    )
    assert r.stdout.strip() == os.path.basename(PY)


def test_window_size_reaches_the_terminal(start_path: str) -> None:
    r = cmdrun.run(["stty", "size"], tty=True, dimensions=(33, 101))
    assert r.stdout.strip() == "33 101"


def _write_to_dev_tty() -> list[str]:
    return py(
        """
        with open("/dev/tty", "w") as tty:
            tty.write("via /dev/tty\\n")
        """
    )


def test_child_opens_its_controlling_terminal(start_path: str) -> None:
    assert "via /dev/tty" in cmdrun.run(_write_to_dev_tty(), tty=True).stdout


def test_child_started_from_a_thread_opens_its_controlling_terminal() -> None:
    results: list[cmdrun.Result] = []
    worker = threading.Thread(
        target=lambda: results.append(cmdrun.run(_write_to_dev_tty(), tty=True))
    )
    worker.start()
    worker.join(30)
    assert "via /dev/tty" in results[0].stdout


def test_ctrl_c_typed_on_the_terminal_reaches_the_group(start_path: str) -> None:
    script = 'trap "echo got INT; exit 3" INT; echo ready; while :; do sleep 0.05; done'
    with cmdrun.spawn(["sh", "-c", script], timeout=10) as s:
        s.expect("ready")
        s.interrupt()
        s.expect("got INT")
        result = s.wait()
    assert result.returncode == 3


def test_term_cwd_and_env_reach_the_child(start_path: str, tmp_path: pathlib.Path) -> None:
    code = "import os; print(os.environ['TERM'], os.getcwd(), os.environ['CMDRUN_X'])"
    r = cmdrun.run(py(code), tty=True, cwd=tmp_path, env={"CMDRUN_X": "a b"})
    assert r.stdout.split() == ["dumb", str(tmp_path), "a", "b"]
    r = cmdrun.run(py(code), tty=True, env={"CMDRUN_X": "y", "TERM": "vt100"})
    assert r.stdout.split()[0::2] == ["vt100", "y"]


def test_term_set_without_an_env_argument(start_path: str) -> None:
    r = cmdrun.run(py("import os; print(os.environ['TERM'])"), tty=True)
    assert r.stdout.strip() == "dumb"


def _file(tmp_path: pathlib.Path, content: bytes, mode: int = 0o755) -> str:
    path = tmp_path / "prog"
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize(
    ("content", "mode", "reason"),
    [
        (b"#!/bin/sh\necho hi\n", stat.S_IRUSR | stat.S_IWUSR, "permission denied"),
        (b"#!/no/such/interpreter\n", 0o755, "interpreter not found"),
        (b"\x7fELF\x00garbage" + bytes(64), 0o755, "exec format error"),
        (b"echo a script without a #! line\n", 0o755, "exec format error"),
    ],
    ids=["no-x-bit", "no-interpreter", "bad-elf", "no-shebang"],
)
def test_exec_failures_are_the_pipe_errors(
    start_path: str, tmp_path: pathlib.Path, content: bytes, mode: int, reason: str
) -> None:
    prog = _file(tmp_path, content, mode)
    with pytest.raises(CommandNotExecutable) as on_pipes:
        cmdrun.run([prog], tty=False)
    with pytest.raises(CommandNotExecutable) as on_pty:
        cmdrun.run([prog], tty=True)
    assert on_pty.value.reason == on_pipes.value.reason == reason
    assert str(on_pty.value) == str(on_pipes.value)


def test_missing_program_and_directory(start_path: str, tmp_path: pathlib.Path) -> None:
    with pytest.raises(CommandNotFound):
        cmdrun.run(["cmdrun-no-such-program"], tty=True)
    with pytest.raises(CommandNotFound):
        cmdrun.run([str(tmp_path / "nothing")], tty=True)
    with pytest.raises(CommandNotExecutable, match="is a directory"):
        cmdrun.run([str(tmp_path)], tty=True)


def test_stopping_a_child_at_once_after_its_start_does_not_wait_for_the_grace(
    start_path: str,
) -> None:
    # Right after the start, a setsid child may not lead its group yet: the first signal
    # must still reach it, or close() would wait the whole grace period for nothing.
    for _ in range(8):
        with cmdrun.spawn(["sleep", "30"], kill_grace=5) as s:
            pass
        assert s.close().duration < 2.5


def test_signal_group_reaches_a_child_that_leads_no_group_yet() -> None:
    from cmdrun._platform import signal_group

    # In this process's group, as a setsid child is before it calls setsid().
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert signal_group(child.pid, 15)
        assert child.wait(10) == -15
    finally:
        child.kill()
        child.wait()
    assert not signal_group(child.pid, 0)  # reaped: its pid may belong to someone else now


_FRESH_IMPORTS = ["colorsys", "wave", "tabnanny", "netrc", "graphlib", "pyclbr", "tomllib"]


def _import_again_and_again(stop: threading.Event) -> None:
    """Hold the import lock often: the lock a forked Python child would deadlock on."""
    import importlib.util

    names = [n for n in _FRESH_IMPORTS if importlib.util.find_spec(n) is not None]
    while not stop.is_set():
        for name in names:
            sys.modules.pop(name, None)
            importlib.import_module(name)


def _allocate_again_and_again(stop: threading.Event) -> None:
    while not stop.is_set():
        junk = [{"k": bytes(100)} for _ in range(2000)]
        del junk


def test_a_thousand_pty_runs_from_sixteen_threads_while_others_import() -> None:
    fds_before = open_fds()
    stop = threading.Event()
    busy = [
        threading.Thread(target=_import_again_and_again, args=(stop,)),
        threading.Thread(target=_allocate_again_and_again, args=(stop,)),
    ]
    for thread in busy:
        thread.start()
    try:
        with ThreadPoolExecutor(16) as pool:
            runs = [pool.submit(cmdrun.run, ["echo", str(i)], tty=True) for i in range(1000)]
            outputs = [run.result(timeout=60).stdout.strip() for run in runs]
    finally:
        stop.set()
        for thread in busy:
            thread.join()
    assert outputs == [str(i) for i in range(1000)]
    assert open_fds() == fds_before


def test_threaded_parent_gets_no_fork_warning() -> None:
    # Python 3.12+ warns (DeprecationWarning) when a process with threads forks in Python;
    # before 3.12 this still shows that PTY runs from threads work. "-W error" would not
    # show it: CPython drops the exception the filter makes of this warning.
    parent = py(
        """
        import threading, cmdrun
        def work():
            for _ in range(5):
                assert cmdrun.run(["true"], tty=True).returncode == 0
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("done")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [PY, "-W", "always::DeprecationWarning", *parent[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert (out.returncode, out.stdout, out.stderr) == (0, "done\n", "")


def test_ctrl_c_at_once_after_the_start_still_interrupts(start_path: str) -> None:
    # A setsid child gets its terminal a moment after spawn() returns; until then a typed
    # Ctrl-C would reach no one, so the session signals the child instead.
    for _ in range(5):
        with cmdrun.spawn(["sleep", "30"], timeout=5) as s:
            s.interrupt()
            assert s.wait().returncode == -2


def test_a_start_the_os_refuses_leaks_no_fd(start_path: str) -> None:
    fds_before = open_fds()
    with pytest.raises(OSError, match="too long"):
        cmdrun.run(["true", "x" * 200_000], tty=True)  # one argument over MAX_ARG_STRLEN
    assert open_fds() == fds_before
