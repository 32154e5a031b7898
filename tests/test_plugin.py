"""The pytest plugin, tested the way users meet it: small test files run by pytester."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def run_tests(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_fixture_is_available_without_configuration(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import cmdrun

        def test_fake_git(fake_commands):
            fake_commands.register(["git", "rev-parse", "HEAD"], stdout="abc123\\n")
            assert cmdrun.run(["git", "rev-parse", "HEAD"]).stdout == "abc123\\n"
            assert fake_commands.call_count(["git", "rev-parse", "HEAD"]) == 1
        """,
    )
    result.assert_outcomes(passed=1)


def test_every_register_option(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import re
        import pytest
        import cmdrun
        from cmdrun.testing import ANY, ANY_REST, Answer

        def test_any_and_any_rest(fake_commands):
            fake_commands.register(["git", ANY, "--short"], stdout="one arg\\n")
            fake_commands.register(["git", "log", ANY_REST], stdout="the rest\\n")
            assert cmdrun.run("git show --short").stdout == "one arg\\n"
            assert cmdrun.run("git log --oneline -n 3").stdout == "the rest\\n"
            with pytest.raises(AssertionError, match="no fake registered"):
                cmdrun.run("git show --long")

        def test_regex_against_the_command_line(fake_commands):
            fake_commands.register(re.compile(r"^curl .*example"), stdout="page")
            assert cmdrun.run(["curl", "-s", "https://example.org"]).stdout == "page"

        def test_stderr_returncode_and_check(fake_commands):
            fake_commands.register(["make"], stderr="no rule\\n", returncode=2)
            with pytest.raises(cmdrun.CommandFailed, match="no rule") as info:
                cmdrun.run(["make"])
            assert info.value.returncode == 2
            assert cmdrun.call(["make"]) == 2

        def test_times_and_order(fake_commands):
            fake_commands.register(["poll"], stdout="pending\\n", times=2)
            fake_commands.register(["poll"], stdout="done\\n")
            outs = [cmdrun.run(["poll"]).stdout for _ in range(4)]
            assert outs == ["pending\\n", "pending\\n", "done\\n", "done\\n"]

        def test_callback_sees_the_call(fake_commands):
            def answer(call):
                assert call.env["TOKEN"] == "t" and call.cwd == "/"
                return Answer(stdout=call.input.upper(), returncode=len(call.args))
            fake_commands.register(["tr", ANY_REST], callback=answer)
            r = cmdrun.run(
                ["tr", "a-z", "A-Z"], input="hi", env={"TOKEN": "t"}, cwd="/", check=False
            )
            assert (r.stdout, r.returncode) == ("HI", 3)

        def test_raises_simulates_a_start_error(fake_commands):
            fake_commands.register(["svn"], raises=cmdrun.CommandNotFound("svn", "/usr/bin"))
            with pytest.raises(cmdrun.CommandNotFound):
                cmdrun.run(["svn"])

        def test_duration_is_reported_not_slept(fake_commands):
            fake_commands.register(["build"], duration=300)
            assert cmdrun.run(["build"]).duration == 300

        def test_calls_record_inputs_with_secrets_masked(fake_commands):
            fake_commands.register(["login"])
            cmdrun.run(["login"], input=cmdrun.Secret("hunter2"))
            assert fake_commands.calls[0].input == "******"
            fake_commands.assert_called(["login"], times=1)
            fake_commands.assert_not_called(["logout"])
        """,
    )
    result.assert_outcomes(passed=8)


def test_fake_timeouts_look_like_real_ones(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import math, time
        import pytest
        import cmdrun

        def test_timeout_without_waiting(fake_commands):
            fake_commands.register(["slow"], stdout="partial\\n", duration=60)
            start = time.monotonic()
            with pytest.raises(cmdrun.CommandTimedOut) as info:
                cmdrun.run(["slow"], timeout=5)
            assert time.monotonic() - start < 1
            assert info.value.result.timed_out and info.value.output == "partial\\n"
            r = cmdrun.run(["slow"], timeout=5, check=False)
            assert r.timed_out and r.signal.name == "SIGTERM" and r.duration == 5

        def test_hang_without_timeout_fails_clearly(fake_commands):
            fake_commands.register(["hang"], duration=math.inf)
            with pytest.raises(AssertionError, match="hangs"):
                cmdrun.run(["hang"])
        """,
    )
    result.assert_outcomes(passed=2)


def test_unregistered_command_lists_registered_patterns(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import cmdrun

        def test_unregistered(fake_commands):
            fake_commands.register(["git", "status"])
            cmdrun.run(["hg", "status"])
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*UnregisteredCommand: no fake registered for `hg status`*", "*git status*"]
    )


def test_allow_real_runs_named_programs(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import cmdrun

        def test_real_echo(fake_commands):
            fake_commands.allow_real.append("echo")
            assert cmdrun.run(["echo", "really"]).stdout == "really\\n"
        """,
    )
    result.assert_outcomes(passed=1)


def test_fake_dialogues_through_spawn_and_respond(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import re
        import pytest
        import cmdrun
        from cmdrun.testing import DialogueMismatch, Exit, In, Out

        NSLOOKUP = [
            Out("> "), In("set q=mx"),
            Out("> "), In("python.org"),
            Out("python.org\\tmail exchanger = 50 mail.python.org.\\n> "), In("exit"),
            Exit(0),
        ]

        def test_spawn_drives_it(fake_commands):
            fake_commands.register(["nslookup"], dialogue=NSLOOKUP)
            with cmdrun.spawn(["nslookup"], tty=True, timeout=5) as s:
                s.expect("> ")
                s.sendline("set q=mx")
                s.expect("> ")
                s.sendline("python.org")
                found = s.expect(re.compile(r"exchanger = (\\d+) (\\S+)"))
                assert found.match.groups() == ("50", "mail.python.org.")
                s.expect("> ")
                s.sendline("exit")
                result = s.wait()
            assert result.returncode == 0 and result.tty
            assert "set q=mx\\r\\n" in result.stdout  # a terminal echoes what is typed

        def test_respond_drives_it(fake_commands):
            fake_commands.register(["login"], dialogue=[
                Out("User: "), In("ann"), Out("Password: "), In("pw"), Out("welcome\\n")])
            r = cmdrun.run(["login"], respond={"User: ": "ann", "Password: ": cmdrun.Secret("pw")})
            assert r.stdout.endswith("welcome\\n")

        def test_mismatch_is_clear(fake_commands):
            fake_commands.register(["nslookup"], dialogue=NSLOOKUP)
            with cmdrun.spawn(["nslookup"], tty=False) as s:
                s.expect("> ")
                wanted = re.escape("expects In('set q=mx'), got 'set q=a'")
                with pytest.raises(DialogueMismatch, match=wanted):
                    s.sendline("set q=a")

        def test_eof_mid_dialogue(fake_commands):
            fake_commands.register(["ask"], dialogue=[Out("name? "), Exit(3)])
            with cmdrun.spawn(["ask"], tty=False) as s:
                s.expect("name? ")
                with pytest.raises(cmdrun.UnexpectedEOF, match="exited with status 3"):
                    s.expect("never")
        """,
    )
    result.assert_outcomes(passed=4)


def test_fakes_reach_every_entry_point(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import asyncio, threading
        import cmdrun

        def test_entry_points(fake_commands, capfd):
            fake_commands.register(["tool", cmdrun.testing.ANY_REST], stdout="out\\n")
            assert cmdrun.run(["tool"]).stdout == "out\\n"
            assert cmdrun.call(["tool"]) == 0
            assert capfd.readouterr().out == "out\\n"
            many = cmdrun.run_many([["tool", "1"], ["tool", "2"]])
            assert [r.stdout for r in many] == ["out\\n"] * 2
            assert [r.stdout for r in cmdrun.as_completed([["tool"]])] == ["out\\n"]
            assert asyncio.run(cmdrun.arun(["tool"])).stdout == "out\\n"
            assert [l.text for l in cmdrun.stream(["tool"])] == ["out\\n"]
            lines = []
            cmdrun.run(["tool"], on_stdout=lines.append)
            assert lines == ["out\\n"]
            seen = []
            t = threading.Thread(target=lambda: seen.append(cmdrun.run(["tool"]).stdout))
            t.start(); t.join()
            assert seen == ["out\\n"]

        def test_tty_fallback(fake_commands):
            fake_commands.register(["tty"], stdout="not a tty\\n", returncode=1, tty=False)
            fake_commands.register(["tty"], stdout="/dev/pts/7\\n", tty=True)
            r = cmdrun.run(["tty"])
            assert r.tty and r.stdout == "/dev/pts/7\\r\\n"
        """,
    )
    result.assert_outcomes(passed=2)


def test_record_then_replay_then_miss(pytester: pytest.Pytester) -> None:
    source = """
        import sys
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("cassettes/echo.json")
        def test_recorded():
            assert cmdrun.run(["echo", "hello"]).stdout == "hello\\n"
            r = cmdrun.run(["sh", "-c", "echo oops >&2; exit 3"], check=False)
            assert (r.returncode, r.stderr) == (3, "oops\\n")
            with cmdrun.spawn([sys.executable, "-i", "-q"], tty=False, timeout=10) as s:
                s.expect(">>> ")
                s.sendline("print(6 * 7)")
                assert s.expect(">>> ").before == "42\\n"
                s.sendline(cmdrun.Secret("'top secret'"))
                s.expect(">>> ")
                s.sendeof()
                assert s.wait().returncode == 0
        """
    recorded = run_tests(pytester, source, "--cmdrun-record")
    recorded.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "echo.json"
    text = cassette.read_text()
    assert "top secret" not in text
    calls = json.loads(text)["calls"]
    assert [c["kind"] for c in calls] == ["run", "run", "spawn"]
    assert {"in_secret": True} in calls[2]["steps"]

    replayed = run_tests(pytester, source.replace("import sys", "import sys, shutil"))
    replayed.assert_outcomes(passed=1)

    missed = run_tests(pytester, source.replace('"hello"]', '"hullo"]'))
    missed.assert_outcomes(failed=1)
    missed.stdout.fnmatch_lines(
        ["*CassetteMiss*no recording of `echo hullo`*", "*-run: echo hello*", "*+run: echo hullo*"]
    )


def test_replay_does_not_run_anything(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".json",
        **{
            "cassettes/fake": json.dumps(
                {
                    "version": 1,
                    "calls": [
                        {
                            "kind": "run",
                            "args": ["no-such-program-anywhere"],
                            "tty": False,
                            "input": None,
                            "timeout": None,
                            "returncode": 0,
                            "stdout": "from the cassette\n",
                            "stderr": "",
                            "duration": 1.5,
                            "timed_out": False,
                        }
                    ],
                }
            )
        },
    )
    result = run_tests(
        pytester,
        """
        import pytest
        import cmdrun

        @pytest.mark.cmdrun_cassette("cassettes/fake.json")
        def test_replayed():
            r = cmdrun.run(["no-such-program-anywhere"])
            assert (r.stdout, r.duration) == ("from the cassette\\n", 1.5)
        """,
    )
    result.assert_outcomes(passed=1)


def test_fixture_works_without_pytest_mock(pytester: pytest.Pytester) -> None:
    """The plugin is installed for everyone who installs cmdrun: it must not need pytest-mock."""
    pytester.makeconftest(
        """
        import sys
        sys.modules["pytest_mock"] = None  # an environment where it is not installed
        """
    )
    result = run_tests(
        pytester,
        """
        import cmdrun
        from cmdrun import _launcher

        def test_fake_without_mocker(fake_commands, request):
            assert not request.config.pluginmanager.has_plugin("pytest_mock")
            fake_commands.register(["git", "status"], stdout="clean\\n")
            assert cmdrun.run(["git", "status"]).stdout == "clean\\n"

        def test_real_launcher_is_back_after_the_test():
            assert cmdrun.run(["echo", "real"]).stdout == "real\\n"
            assert _launcher.current_launcher() is _launcher.REAL
        """,
        "-p",
        "no:pytest_mock",
    )
    result.assert_outcomes(passed=2)


def test_fake_commands_are_removed_even_when_the_test_fails(pytester: pytest.Pytester) -> None:
    result = run_tests(
        pytester,
        """
        import cmdrun

        def test_a_failing(fake_commands):
            fake_commands.register(["echo", "x"], stdout="fake\\n")
            assert cmdrun.run(["echo", "x"]).stdout == "never"

        def test_b_after_it():
            assert cmdrun.run(["echo", "x"]).stdout == "x\\n"
        """,
        "-p",
        "no:pytest_mock",
    )
    result.assert_outcomes(passed=1, failed=1)


def test_raises_accepts_an_exception_class(pytester: pytest.Pytester) -> None:
    """``raises=cmdrun.CommandNotFound``, written as for pytest.raises, builds the error a
    real failure to start gives."""
    result = run_tests(
        pytester,
        """
        import errno
        import pytest
        import cmdrun

        def test_not_found_names_the_program_and_path(fake_commands):
            fake_commands.register(["svn", "up"], raises=cmdrun.CommandNotFound)
            with pytest.raises(cmdrun.CommandNotFound) as info:
                cmdrun.run(["svn", "up"], env={"PATH": "/opt/bin:/usr/bin"}, inherit_env=False)
            assert (info.value.program, info.value.path) == ("svn", "/opt/bin:/usr/bin")
            assert str(info.value) == "command not found: 'svn' (searched PATH='/opt/bin:/usr/bin')"
            assert info.value.errno == errno.ENOENT

        def test_not_executable_and_start_failed(fake_commands):
            fake_commands.register(["./build.sh"], raises=cmdrun.CommandNotExecutable)
            fake_commands.register(["make"], raises=cmdrun.StartFailed)
            with pytest.raises(cmdrun.CommandNotExecutable) as info:
                cmdrun.run(["./build.sh"])
            assert (info.value.program, info.value.reason) == ("./build.sh", "permission denied")
            assert info.value.errno == errno.EACCES
            with pytest.raises(cmdrun.StartFailed) as failed:
                cmdrun.run(["make"])
            assert failed.value.program == "make" and failed.value.reason
            assert "could not start 'make'" in str(failed.value)

        def test_any_other_class(fake_commands):
            class NoArgs(Exception):
                def __init__(self):
                    super().__init__("built without arguments")

            fake_commands.register(["net", "--fast"], raises=ConnectionError)
            fake_commands.register(["odd"], raises=NoArgs)
            with pytest.raises(ConnectionError, match="fake `net --fast` raises"):
                cmdrun.run(["net", "--fast"])
            with pytest.raises(NoArgs, match="built without arguments"):
                cmdrun.spawn(["odd"])

        def test_not_an_exception_is_refused(fake_commands):
            with pytest.raises(TypeError, match="raises must be an exception"):
                fake_commands.register(["x"], raises="boom")
            with pytest.raises(TypeError, match="raises must be an exception"):
                fake_commands.register(["x"], raises=int)
        """,
    )
    result.assert_outcomes(passed=4)
