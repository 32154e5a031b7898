"""The pytest plugin is loaded into every pytest run where cmdrun is installed: it must cost
nothing to the tests that do not use it. Guarded by design, not by timing (benchmarks/plugin.py
has the figures): loading it imports neither the fakes nor the engine, and a test that neither
asks for a cmdrun fixture nor carries the marker gets no cmdrun fixture at all."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

HEAVY_MODULES = [
    "cmdrun._engine",
    "cmdrun._run",
    "cmdrun._session",
    "cmdrun.testing._cassette",
    "cmdrun.testing._dialogue",
    "cmdrun.testing._fake",
]


def _modules_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_loading_the_plugin_imports_neither_the_fakes_nor_the_engine() -> None:
    assert _modules_after("import cmdrun.testing._plugin") == []


def test_import_cmdrun_defers_the_engine_until_a_name_is_used() -> None:
    assert _modules_after("import cmdrun, cmdrun.testing") == []
    assert "cmdrun._engine" in _modules_after("import cmdrun; cmdrun.run")
    assert "cmdrun.testing._fake" in _modules_after("from cmdrun.testing import FakeCommands")


def test_using_the_api_still_leaves_pexpect_and_asyncio_out() -> None:
    code = "import sys, cmdrun, cmdrun.testing; cmdrun.run; cmdrun.testing.FakeCommands; "
    code += "print('pexpect' in sys.modules, 'asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("package", ["cmdrun", "cmdrun.testing"])
def test_lazy_import_table_lists_every_public_name_once(package: str) -> None:
    module = importlib.import_module(package)
    listed = [name for names in module._API.values() for name in names]
    if hasattr(module, "_ASYNC_API"):
        listed += [name for names in module._ASYNC_API.values() for name in names]
    assert sorted(listed) == sorted(set(module.__all__) - {"__version__"})
    for home, names in module._API.items():
        defined_in = importlib.import_module(home, package)
        assert all(getattr(module, name) is getattr(defined_in, name) for name in names)


def _setup_plan(pytester: pytest.Pytester, source: str) -> list[str]:
    """The lines of ``--setup-plan`` output that set up a fixture, for the whole file."""
    pytester.makepyfile(test_user=source)
    result = pytester.runpytest("-p", "no:cacheprovider", "--setup-plan")
    return [line.strip() for line in result.outlines if "SETUP" in line]


def test_unmarked_tests_set_up_no_cmdrun_fixture(pytester: pytest.Pytester) -> None:
    lines = _setup_plan(
        pytester,
        """
        def test_plain():
            pass

        def test_with_a_builtin_fixture(tmp_path):
            pass
        """,
    )
    assert any("tmp_path" in line for line in lines)
    assert [line for line in lines if "cmdrun" in line] == []


def test_marked_tests_set_up_their_cassette_without_asking(pytester: pytest.Pytester) -> None:
    lines = _setup_plan(
        pytester,
        """
        import pytest

        @pytest.mark.cmdrun_cassette("a.json")
        def test_function_mark():
            pass

        @pytest.mark.cmdrun_cassette("b.json")
        class TestClassMark:
            def test_in_class(self):
                pass

        def test_unmarked():
            pass

        @pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.cmdrun_cassette("c"))])
        def test_one_param_marked(x):
            pass
        """,
    )
    assert [line.split()[-1] for line in lines if "cmdrun" in line] == ["cmdrun_cassette"] * 3


_CASSETTE = {
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
            "duration": 0.5,
            "timed_out": False,
        }
    ],
}


def test_module_and_class_marks_replay_their_cassette(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", **{"cassettes/fake": json.dumps(_CASSETTE)})
    pytester.makepyfile(
        test_user="""
        import pytest
        import cmdrun

        pytestmark = pytest.mark.cmdrun_cassette("cassettes/fake.json")

        def test_module_mark():
            assert cmdrun.run(["no-such-program-anywhere"]).stdout == "from the cassette\\n"

        class TestClass:
            def test_class_inherits_the_module_mark(self):
                assert cmdrun.run(["no-such-program-anywhere"]).duration == 0.5
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_cassette_covers_function_fixtures_but_not_wider_ones(pytester: pytest.Pytester) -> None:
    # A session fixture's commands are not the test's: they run for real, outside the
    # cassette, even when this test is the first to need it; a function fixture's commands
    # belong to the test and are answered from the cassette, as the test's own are.
    pytester.makefile(".json", **{"cassettes/fake": json.dumps(_CASSETTE)})
    pytester.makepyfile(
        test_user="""
        import pytest
        import cmdrun

        @pytest.fixture(scope="session")
        def real_echo():
            return cmdrun.run(["echo", "real"]).stdout

        @pytest.fixture
        def replayed():
            return cmdrun.run(["no-such-program-anywhere"]).stdout

        @pytest.mark.cmdrun_cassette("cassettes/fake.json")
        def test_fixtures(replayed, real_echo):
            assert (real_echo, replayed) == ("real\\n", "from the cassette\\n")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_report_hook_is_added_only_once_a_test_uses_a_fixture(pytester: pytest.Pytester) -> None:
    """The hook wrapper that keeps reports (to record cassettes only on a pass) would cost
    every test of the run; it is registered by the first test that uses a cmdrun fixture."""
    pytester.makepyfile(
        test_user="""
        def test_plain(request):
            assert not request.config.pluginmanager.has_plugin("cmdrun-report-keeper")

        def test_fake(fake_commands, request):
            assert request.config.pluginmanager.has_plugin("cmdrun-report-keeper")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_setting_assigned_before_first_use_is_kept() -> None:
    """``import cmdrun`` imports nothing more: assigning a setting then must not be undone
    by the import that the first use of a public name makes."""
    code = (
        "import cmdrun\n"
        "cmdrun.TTY_REFUSALS = ['mine']\n"
        "cmdrun.run(['true'])\n"
        "print(cmdrun.TTY_REFUSALS)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['mine']"
