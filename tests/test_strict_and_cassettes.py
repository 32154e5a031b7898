"""Strict fakes, loud fake dialogues, and cassettes safe to keep in a repository.

Most tests run small test files with pytester, the way users meet the plugin.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import sys
import textwrap
import time

import pytest

import cmdrun
from children import py
from cmdrun import testing
from cmdrun.testing import (
    Cassette,
    CassetteMiss,
    DialogueMismatch,
    FakeCommands,
    FakeHang,
    In,
    Out,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def run_tests(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def write_cassette(path: pathlib.Path, *commands: list[str]) -> None:
    """A cassette holding one successful run of each command, printing its last word."""
    calls = [
        {
            "kind": "run",
            "args": argv,
            "tty": False,
            "input": None,
            "timeout": None,
            "returncode": 0,
            "stdout": argv[-1] + "\n",
            "stderr": "",
            "duration": 0.01,
            "timed_out": False,
        }
        for argv in commands
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "calls": calls}, indent=2))


# -- strict ---------------------------------------------------------------------------------


def test_strict_fails_on_registrations_not_used_up(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import cmdrun

        def test_poll_twice(fake_commands):
            fake_commands.strict = True
            fake_commands.register(["poll"], stdout="pending\\n", times=2)
            fake_commands.register(["other"])  # no times: never reported
            cmdrun.run(["poll"])
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*strict*", "*poll*answered 1 of 2*"])
    assert "other" not in result.stdout.str().split("short test summary")[0].split("strict")[-1]


def test_strict_ini_option_turns_it_on(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncmdrun_strict = true\n")
    result = run_tests(
        pytester,
        """
        import cmdrun

        def test_unused(fake_commands):
            fake_commands.register(["deploy"], times=1)

        def test_all_used(fake_commands):
            fake_commands.register(["deploy"], times=1)
            cmdrun.run(["deploy"])

        def test_switched_off_again(fake_commands):
            fake_commands.strict = False
            fake_commands.register(["deploy"], times=1)
        """,
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_unused*", "*deploy*answered 0 of 1*"])


def test_strict_fails_on_an_unfinished_dialogue(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import cmdrun
        from cmdrun.testing import Exit, In, Out

        def test_login_stops_halfway(fake_commands):
            fake_commands.strict = True
            fake_commands.register(["login"], dialogue=[
                Out("User: "), In("ann"), Out("Password: "), In("pw"), Exit(0)])
            with cmdrun.spawn(["login"], tty=False, timeout=5) as s:
                s.expect("User: ")
                s.sendline("ann")
                s.expect("Password: ")

        def test_finished_dialogue_is_fine(fake_commands):
            fake_commands.strict = True
            fake_commands.register(["login"], dialogue=[Out("User: "), In("ann"), Exit(0)])
            cmdrun.run(["login"], respond={"User: ": "ann"})
        """,
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*dialogue of `login`*step 4 of 5*In('pw')*"])


def test_strict_does_not_pile_onto_a_failing_test(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        def test_fails(fake_commands):
            fake_commands.strict = True
            fake_commands.register(["poll"], times=1)
            assert False, "the real failure"
        """,
    )
    result.assert_outcomes(failed=1)
    assert "answered 0 of 1" not in result.stdout.str()


def test_strict_cassette_fails_on_unused_and_out_of_order_entries(
    pytester: pytest.Pytester,
) -> None:
    write_cassette(pytester.path / "c.json", ["echo", "a"], ["echo", "b"], ["echo", "c"])
    result = run_tests(
        pytester,
        """
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("c.json", strict=True)
        def test_strict():
            cmdrun.run(["echo", "b"])
            cmdrun.run(["echo", "a"])

        @pytest.mark.cmdrun_cassette("c.json")
        def test_not_strict():
            cmdrun.run(["echo", "b"])
        """,
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_strict*",
            "*entry 0 (run: echo a) was replayed after entry 1 (run: echo b)*",
            "*entry 2 (run: echo c) was never replayed*",
        ]
    )


def test_strict_cassette_from_the_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncmdrun_strict = true\n")
    write_cassette(pytester.path / "c.json", ["echo", "a"], ["echo", "b"])
    result = run_tests(
        pytester,
        """
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("c.json")
        def test_half():
            cmdrun.run(["echo", "a"])
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*entry 1 (run: echo b) was never replayed*"])


def test_strict_fake_commands_used_directly() -> None:
    fake = FakeCommands()
    fake.strict = True
    with pytest.raises(AssertionError, match=r"answered 0 of 3"), fake:
        fake.register(["x"], times=3)


# -- fake dialogues -------------------------------------------------------------------------


def test_expect_on_a_dialogue_waiting_for_input_fails_at_once() -> None:
    with FakeCommands() as fake:
        fake.register(["ask"], dialogue=[Out("name? "), In("ann"), Out("hi\n")])
        with cmdrun.spawn(["ask"], tty=False, timeout=20) as s:
            s.expect("name? ")
            start = time.monotonic()
            with pytest.raises(FakeHang, match=r"step 2 \(In\('ann'\)\)") as info:
                s.expect("never printed")
            assert time.monotonic() - start < 5
            assert "name? " in str(info.value)  # the output so far


def test_dialogue_steps_count_from_one() -> None:
    with FakeCommands() as fake:
        fake.register(["ask"], dialogue=[Out("? "), In("yes")])
        with cmdrun.spawn(["ask"], tty=False, timeout=5) as s:
            s.expect("? ")
            with pytest.raises(DialogueMismatch, match="at step 2 it expects In"):
                s.sendline("no")
    with pytest.raises(TypeError, match="dialogue step 1 must be"):
        FakeCommands().register(["x"], dialogue=["not a step"])  # type: ignore[list-item]


def test_dialogue_mismatch_shows_regex_steps_and_output_so_far() -> None:
    with FakeCommands() as fake:
        fake.register(["num"], dialogue=[Out("count? "), In(re.compile(r"\d+"))])
        with pytest.raises(DialogueMismatch) as info:
            cmdrun.run(["num"], input="many\n")
    message = str(info.value)
    assert r"In(re('\\d+'))" in message
    assert "output so far: 'count? '" in message


def test_dialogue_mismatch_never_echoes_a_secret() -> None:
    steps = [Out("Password: "), In(secret=True), Out("User: "), In("ann")]
    with FakeCommands() as fake:
        fake.register(["login"], dialogue=steps)
        # typed as plain text where the secret is expected (on a terminal: echoed too)
        with cmdrun.spawn(["login"], tty=True, timeout=5) as s:
            s.expect("Password: ")
            with pytest.raises(DialogueMismatch) as plain:
                s.sendline("hunter2")
        # a secret typed where plain text is expected
        with cmdrun.spawn(["login"], tty=True, timeout=5) as s:
            s.expect("Password: ")
            s.sendline(cmdrun.Secret("hunter2"))
            s.expect("User: ")
            with pytest.raises(DialogueMismatch) as secret:
                s.sendline(cmdrun.Secret("hunter2"))
    assert "hunter2" not in str(plain.value)
    assert "plain text" in str(plain.value)
    assert "hunter2" not in str(secret.value)


def test_eof_mismatch_is_raised_once() -> None:
    sessions: list[cmdrun.Session] = []

    def answer_with_eof() -> None:
        with cmdrun.spawn(["ask"], tty=False, timeout=5) as s:
            sessions.append(s)
            s.expect("? ")
            s.sendeof()

    with FakeCommands() as fake:
        fake.register(["ask"], dialogue=[Out("? "), In("yes")])
        with pytest.raises(DialogueMismatch, match="EOF") as info:
            answer_with_eof()
    assert info.value.__context__ is None  # closing the session did not raise it again
    assert not sessions[0].alive


# -- cassette errors ------------------------------------------------------------------------


def test_malformed_cassette_json_names_file_line_and_column(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "version": 1,\n  "calls": [,]\n}\n')
    with pytest.raises(testing.CassetteError) as info:
        Cassette(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    assert "line 3, column 13" in str(info.value)


def test_cassette_with_a_missing_key_names_entry_and_key(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "c.json"
    write_cassette(path, ["echo", "a"], ["echo", "b"])
    data = json.loads(path.read_text())
    del data["calls"][1]["returncode"]
    data["calls"][0]["args"] = "echo a"
    path.write_text(json.dumps(data))
    with pytest.raises(testing.CassetteError) as info:
        Cassette(path)
    message = str(info.value)
    assert str(path) in message
    assert "entry 0" in message
    assert "'args'" in message
    assert "entry 1" in message
    assert "missing 'returncode'" in message
    path.write_text(json.dumps({"version": 7, "calls": []}))
    with pytest.raises(testing.CassetteError, match="version 7"):
        Cassette(path)


def test_replay_errors_name_the_cassette_and_entry(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "repl.json"

    def answer(line: str) -> None:
        with cmdrun.spawn(py("print(input('> '))"), tty=False, timeout=10) as s:
            s.expect("> ")
            s.sendline(line)
            s.wait()

    with Cassette(path, record=True):
        answer("first")
        cmdrun.run(["echo", "recorded"])
    with Cassette(path):
        with pytest.raises(DialogueMismatch) as info:
            answer("second")
        with pytest.raises(CassetteMiss, match=r"nearest recording \(entry 1\)"):
            cmdrun.run(["echo", "unrecorded"])
    assert f"cassette {path}, entry 0" in str(info.value)


# -- recording --------------------------------------------------------------------------------


def test_a_failing_test_leaves_its_cassette_alone(pytester: pytest.Pytester) -> None:
    source = """
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("c.json")
        def test_recorded():
            assert cmdrun.run(["echo", "hello"]).stdout == "hello\\n"
        """
    run_tests(pytester, source, "--cmdrun-record").assert_outcomes(passed=1)
    good = (pytester.path / "c.json").read_bytes()
    failing = source.replace('"hello\\n"', '"something else"')
    run_tests(pytester, failing, "--cmdrun-record").assert_outcomes(failed=1)
    assert (pytester.path / "c.json").read_bytes() == good
    direct = pytester.path / "direct.json"

    def failing_block() -> None:
        with Cassette(direct, record=True):
            cmdrun.run(["echo", "x"])
            raise RuntimeError("the block failed")

    with pytest.raises(RuntimeError):
        failing_block()
    assert not direct.exists()


def test_replay_checks_what_respond_typed(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "respond.json"
    ask = py("print('hi', input('name? '), input('pin? '))")
    with Cassette(path, record=True):
        cmdrun.run(ask, respond={"name? ": "ann", "pin? ": cmdrun.Secret("1234")})
    text = path.read_text()
    assert "1234" not in text
    assert '"ann"' in text
    with Cassette(path):
        cmdrun.run(ask, respond={"name? ": "ann", "pin? ": cmdrun.Secret("9999")})
    with Cassette(path), pytest.raises(CassetteMiss) as info:
        cmdrun.run(ask, respond={"name? ": "bob", "pin? ": cmdrun.Secret("1234")})
    message = str(info.value)
    assert "respond=" in message
    assert "'ann'" in message
    assert "'bob'" in message
    assert "1234" not in message


def test_cassettes_are_portable_between_directories(pytester: pytest.Pytester) -> None:
    source = """
        import pathlib, sys
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("portable.json")
        def test_paths(tmp_path):
            here = pathlib.Path(__file__).parent
            (tmp_path / "f.txt").write_text("data")
            code = "import sys; print(open(sys.argv[1]).read())"
            r = cmdrun.run([sys.executable, "-c", code, str(tmp_path / "f.txt")], cwd=tmp_path)
            assert r.stdout == "data\\n"
            r = cmdrun.run(["wc", "-l"], input=f"{here}/notes\\n", cwd=here)
            assert r.stdout.strip() == "1"
        """
    first = pytester.mkdir("first")
    (first / "test_user.py").write_text(textwrap.dedent(source))
    pytester.runpytest(
        "-p", "no:cacheprovider", "--cmdrun-record", f"--basetemp={pytester.path / 't1'}", "first"
    ).assert_outcomes(passed=1)
    text = (first / "portable.json").read_text()
    assert '"{python}"' in text
    assert '"{tmp_path}/f.txt"' in text
    assert '"{test_dir}/notes\\n"' in text
    assert '"cwd": "{test_dir}"' in text
    assert str(pytester.path) not in text
    assert sys.executable not in text

    second = pytester.mkdir("second")
    shutil.copy(first / "test_user.py", second / "test_user.py")
    shutil.copy(first / "portable.json", second / "portable.json")
    (second / "conftest.py").write_text(
        "import sys\nsys.executable = '/opt/elsewhere/bin/python3'\n"
    )
    replayed = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--basetemp={pytester.path / 't2'}", str(second)
    )
    replayed.assert_outcomes(passed=1)


def test_normalize_hook_on_the_marker(pytester: pytest.Pytester) -> None:
    source = """
        import re, uuid
        import pytest
        import cmdrun

        def no_ids(text):
            return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{uuid}", text)

        @pytest.mark.cmdrun_cassette("ids.json", normalize=no_ids)
        def test_ids():
            assert cmdrun.run(["echo", f"build-{uuid.uuid4()}"]).stdout.startswith("build-")
        """
    run_tests(pytester, source, "--cmdrun-record").assert_outcomes(passed=1)
    assert '"build-{uuid}"' in (pytester.path / "ids.json").read_text()
    run_tests(pytester, source).assert_outcomes(passed=1)


def test_old_cassettes_without_placeholders_still_replay(pytester: pytest.Pytester) -> None:
    write_cassette(pytester.path / "old.json", [sys.executable, "-c", "print(1)", "x"])
    result = run_tests(
        pytester,
        """
        import sys
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("old.json")
        def test_old():
            assert cmdrun.run([sys.executable, "-c", "print(1)", "x"]).stdout == "x\\n"
        """,
    )
    result.assert_outcomes(passed=1)


# -- one launcher per test ---------------------------------------------------------------------


@pytest.mark.parametrize("fakes_first", [False, True])
def test_fakes_then_cassette_in_every_thread(pytester: pytest.Pytester, fakes_first: bool) -> None:
    write_cassette(pytester.path / "c.json", ["echo", "recorded"], ["echo", "recorded"])
    if fakes_first:  # a conftest fixture sets the fakes up before the marker's cassette
        pytester.makeconftest(
            """
            import pytest

            @pytest.fixture(autouse=True)
            def early(fake_commands):
                return fake_commands
            """
        )
    result = run_tests(
        pytester,
        """
        import threading
        import pytest
        import cmdrun

        def both():
            return (cmdrun.run(["echo", "recorded"]).stdout, cmdrun.run(["fake-only"]).stdout)

        @pytest.mark.cmdrun_cassette("c.json")
        def test_mixed(fake_commands):
            fake_commands.register(["fake-only"], stdout="fake\\n")
            seen = []
            t = threading.Thread(target=lambda: seen.append(both()))
            t.start(); t.join()
            assert seen == [("recorded\\n", "fake\\n")]
            assert both() == ("recorded\\n", "fake\\n")
        """,
    )
    result.assert_outcomes(passed=1)


def test_plain_subprocess_follows_the_same_layers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a cassette marker, fake_commands and patch_subprocess() in one test, a plain
    subprocess call no fake answers comes from the cassette, as cmdrun's own calls do."""
    source = """
        import os, subprocess
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("layers.json")
        def test_layers(fake_commands):
            if os.environ.get("HIDE_PROGRAMS"):  # replay: no real echo may run
                os.environ["PATH"] = "/nonexistent"
            fake_commands.patch_subprocess()
            fake_commands.register(["hostname"], stdout="faked\\n")
            assert subprocess.run(["hostname"], capture_output=True, text=True).stdout == "faked\\n"
            out = subprocess.run(["echo", "recorded"], capture_output=True, text=True).stdout
            assert out == "recorded\\n"
            assert cmdrun.run(["echo", "recorded too"]).stdout == "recorded too\\n"
        """
    run_tests(pytester, source, "--cmdrun-record").assert_outcomes(passed=1)
    text = (pytester.path / "layers.json").read_text()
    assert '"kind": "subprocess"' in text
    assert "hostname" not in text  # answered by the fake: not recorded
    # Replayed with no echo on PATH: the cassette answers.
    monkeypatch.setenv("HIDE_PROGRAMS", "1")
    monkeypatch.setenv("PATH", os.environ["PATH"])  # put back after the test
    run_tests(pytester, source).assert_outcomes(passed=1)


def test_strict_sees_an_unfinished_dialogue_played_through_popen(pytester: pytest.Pytester) -> None:
    source = """
        import subprocess
        from cmdrun.testing import In, Out

        def test_half(fake_commands):
            fake_commands.strict = True
            fake_commands.patch_subprocess()
            fake_commands.register(["tool"], dialogue=[Out("Name? "), In("ann"), Out("hi ann\\n")])
            proc = subprocess.Popen(["tool"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert proc.stdout.read(6) == b"Name? "
            proc.kill()
            proc.wait()
        """
    result = run_tests(pytester, source)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*dialogue of `tool` stopped at step 2 of 3*"])
