"""bench.py's section 12: what cmdrun's pytest plugin costs, above all to tests that do not use it.

Usage (this section alone)::

    python benchmarks/plugin.py [--quick] [--check]

The plugin is loaded by every pytest run in an environment where cmdrun is installed (its
``pytest11`` entry point), so its price is paid by every test suite there, including suites
that never fake a command. Measured in fresh ``python -m pytest`` processes over a generated file
of trivial tests (``def test_N(): pass``), run as installed packages are (bytecode cached):

- **start-up**: CPU time of the pytest process from its start to the beginning of collection
  (importing pytest, loading the plugins, parsing options, configuring), with the plugin
  against ``-p no:cmdrun`` in the same run;
- **per test**: CPU time from the beginning of collection to the end of the test loop
  (collecting, setting up, running and reporting every test), divided by the number of tests,
  with the plugin minus without it.

CPU time (``time.process_time()`` in the pytest process, read by a tiny timing plugin), not
wall time: the machines this runs on are small and shared, and a preempted process shows in
its wall time but not in its CPU time. Contestants run in rotated rounds; the figures are
differences of medians, with the interquartile range of the per-round differences as noise.
For context, the same two figures for pytest-subprocess's plugin (``-p no:pytest-subprocess``
as the baseline) when it is installed, and the CPU time of a test that registers and runs one
faked command with ``fake_commands`` against the same with pytest-subprocess's ``fp``.

``--quick`` (:data:`QUICK`) runs fewer rounds and tests, and no plugin but the two measured is
loaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, each of the two loaded with ``-p MODULE``, the
baseline without it): every pytest process then starts in a fraction of the time (here,
hypothesis's plugin alone takes about a second to import), and each plugin's cost is the
same difference as before, without the noise of the others; the start-up is read from the
per-test runs (collection begins where it ends) instead of runs of its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from benchutil import Row, rotated_rounds, spread

ROOT = pathlib.Path(__file__).resolve().parent.parent
STARTUP_LIMIT_MS = 5.0
PER_TEST_LIMIT_US = 10.0
PSUB_PLUGIN = "pytest-subprocess"  # the name of its pytest11 entry point
#: Said in the rows of a lean run (see the module's docstring).
LEAN = "; --quick: no other plugin loaded"


@dataclass(frozen=True)
class PluginSettings:
    """How many rounds and tests for this module's measurements."""

    rounds: int
    startup_rounds: int  # more: one run is short, and a whole process's CPU time is noisy
    tests: int  # trivial tests in the file that measures the per-test cost
    faked_tests: int  # tests in each file that fakes one command per test
    lean: bool  # load no pytest plugin but the measured ones (see the module's docstring)
    startup_apart: bool  # else the start-up is read from the per-test runs (rounds of them)


FULL = PluginSettings(
    rounds=15, startup_rounds=40, tests=2000, faked_tests=500, lean=False, startup_apart=True
)
QUICK = PluginSettings(
    rounds=2, startup_rounds=2, tests=100, faked_tests=20, lean=True, startup_apart=False
)

#: Loaded into every measured pytest process with ``-p``: writes its CPU times as JSON.
TIMER_PLUGIN = """
import json, os, time
import pytest

_times = {}

@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    _times["startup"] = time.process_time()
    yield

@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    yield
    _times["tests"] = time.process_time() - _times["startup"]

def pytest_unconfigure(config):
    with open(os.environ["CMDRUN_BENCH_TIMES"], "w") as f:
        json.dump(_times, f)
"""

TRIVIAL_TEST = "def test_{i}():\n    pass\n"
FAKE_COMMANDS_TEST = """
def test_{i}(fake_commands):
    fake_commands.register(["git", "status"], stdout="clean\\n")
    assert cmdrun.run(["git", "status"]).stdout == "clean\\n"
"""
FP_TEST = """
def test_{i}(fp):
    fp.register(["git", "status"], stdout="clean\\n")
    assert subprocess.run(["git", "status"], capture_output=True, text=True).stdout == "clean\\n"
"""


@dataclass(frozen=True)
class Workdir:
    """A directory with the timing plugin, the generated test files and a bytecode cache."""

    path: pathlib.Path
    env: dict[str, str]

    def pytest(self, test_file: str, *options: str) -> dict[str, float]:
        """Run pytest on ``test_file``; return the timing plugin's CPU times in seconds."""
        times = self.path / "times.json"
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        argv += ["-p", "cmdrun_bench_timer", *options, test_file]
        env = {**self.env, "CMDRUN_BENCH_TIMES": str(times)}
        proc = subprocess.run(
            argv, cwd=self.path, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"pytest {test_file} {options} failed:\n{proc.stdout[-2000:]}")
        measured: dict[str, float] = json.loads(times.read_text())
        return measured


def make_workdir(tmp: str, s: PluginSettings) -> Workdir:
    """The test files, an empty ``pytest.ini`` (no project configuration applies) and an
    environment that imports this checkout's cmdrun with its bytecode cached, as an installed
    package has (with ``PYTHONDONTWRITEBYTECODE`` the plugin would be compiled every time)."""
    path = pathlib.Path(tmp)
    (path / "pytest.ini").write_text("[pytest]\n")
    (path / "cmdrun_bench_timer.py").write_text(TIMER_PLUGIN)
    files = {
        "test_one.py": ("", TRIVIAL_TEST, 1),
        "test_trivial.py": ("", TRIVIAL_TEST, s.tests),
        "test_fake_commands.py": ("import cmdrun\n", FAKE_COMMANDS_TEST, s.faked_tests),
        "test_fp.py": ("import subprocess\n", FP_TEST, s.faked_tests),
    }
    for name, (header, test, count) in files.items():
        (path / name).write_text(header + "".join(test.format(i=i) for i in range(count)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(path / "pycache")
    env["PYTHONPATH"] = os.pathsep.join([str(path), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return Workdir(path, env)


def _difference(with_: list[float], without: list[float], scale: float) -> tuple[float, str]:
    """``median(with_) - median(without)`` and the IQR of the per-round differences, scaled."""
    value = (statistics.median(with_) - statistics.median(without)) * scale
    per_round = [(a - b) * scale for a, b in zip(with_, without, strict=True)]
    return value, spread(per_round)


Runs = dict[str, list[dict[str, float]]]  # the timing plugin's figures per variant and round


def _cost_rows(plugin: str, startups: Runs, tests: Runs, s: PluginSettings) -> list[Row]:
    """Start-up and per-test rows for ``plugin``: the default run minus ``-p no:plugin``."""
    without = f"no:{plugin}"
    startup, startup_iqr = _difference(
        [t["startup"] for t in startups["default"]], [t["startup"] for t in startups[without]], 1e3
    )
    per_test, per_test_iqr = _difference(
        [t["tests"] for t in tests["default"]], [t["tests"] for t in tests[without]], 1e6 / s.tests
    )
    base_startup = statistics.median(t["startup"] for t in startups[without]) * 1e3
    base_per_test = statistics.median(t["tests"] for t in tests[without]) * 1e6 / s.tests
    ours = plugin == "cmdrun"
    name = "cmdrun's plugin" if ours else f"context: {plugin}'s plugin"
    return [
        Row(
            f"pytest start-up: CPU ms added by {name} (vs `-p no:{plugin}`)",
            f"{startup:.1f} ms",
            f"<= {STARTUP_LIMIT_MS:.0f} ms" if ours else "",
            startup <= STARTUP_LIMIT_MS if ours else None,
            f"{base_startup:.0f} ms without it; per-round IQR {startup_iqr} ms; "
            f"{s.startup_rounds} rotated rounds{LEAN if s.lean else ''}",
        ),
        Row(
            f"a test that does not use it: CPU µs added per test by {name}",
            f"{per_test:.1f} µs",
            f"<= {PER_TEST_LIMIT_US:.0f} µs" if ours else "",
            per_test <= PER_TEST_LIMIT_US if ours else None,
            f"{base_per_test:.0f} µs per test without it (collect, run, report); per-round "
            f"IQR {per_test_iqr} µs; {s.tests} tests, {s.rounds} rotated rounds"
            f"{LEAN if s.lean else ''}",
        ),
    ]


#: Run in a fresh interpreter: the CPU time of importing a plugin module once pytest is loaded.
IMPORT_PLUGIN = """
import json, sys, time
import pytest, _pytest.pytester
start = time.process_time()
__import__(sys.argv[1])
print(json.dumps({"seconds": time.process_time() - start}))
"""


def _import_rows(work: Workdir, s: PluginSettings, modules: dict[str, str]) -> list[Row]:
    """The CPU time of importing each plugin's module after pytest: the bulk of its start-up,
    measured alone (a much smaller noise than a whole process's)."""

    def importing(module: str) -> Callable[[], float]:
        def run() -> float:
            argv = [sys.executable, "-c", IMPORT_PLUGIN, module]
            out = subprocess.run(argv, env=work.env, capture_output=True, text=True, check=True)
            seconds: float = json.loads(out.stdout)["seconds"]
            return seconds

        return run

    times = rotated_rounds({name: importing(m) for name, m in modules.items()}, s.startup_rounds)
    return [
        Row(
            f"{'' if name == 'cmdrun' else 'context: '}CPU ms to import {name}'s plugin module "
            "once pytest is loaded",
            f"{statistics.median(times[name]) * 1e3:.2f} ms",
            "",
            None,
            f"`import {module}` in a fresh process; IQR {spread([x * 1e3 for x in times[name]])} "
            f"ms; {s.startup_rounds} rotated rounds",
        )
        for name, module in modules.items()
    ]


def _faked_call_row(work: Workdir, s: PluginSettings, options: list[str]) -> Row:
    """A test that registers and runs one faked command: fake_commands against fp, with
    ``options`` (those that load both plugins when they are not autoloaded)."""
    contestants: dict[str, Callable[[], float]] = {
        "fake_commands": lambda: work.pytest("test_fake_commands.py", *options)["tests"],
        "fp": lambda: work.pytest("test_fp.py", *options)["tests"],
    }
    times = rotated_rounds(contestants, s.rounds)
    ours, theirs = (statistics.median(times[n]) * 1e6 / s.faked_tests for n in contestants)
    return Row(
        "context: CPU µs per test faking one call, `fake_commands` / pytest-subprocess `fp`",
        f"{ours / theirs:.2f}",
        "",
        None,
        f"{ours:.0f} vs {theirs:.0f} µs per test (register, run, check; collect, set up, "
        f"report); {s.faked_tests} tests, {s.rounds} rotated rounds",
    )


def _rounds(work: Workdir, test_file: str, variants: dict[str, list[str]], rounds: int) -> Runs:
    """The timing plugin's figures for ``test_file`` under each variant, in rotated rounds."""
    runs: Runs = {name: [] for name in variants}

    def contestant(name: str) -> Callable[[], float]:
        def run() -> float:
            runs[name].append(work.pytest(test_file, *variants[name]))
            return runs[name][-1]["tests"]

        return run

    rotated_rounds({name: contestant(name) for name in variants}, rounds)
    return runs


def bench_plugin(s: PluginSettings) -> list[Row]:
    """Section 12: start-up and per-test cost of the plugin; pytest-subprocess for context."""
    peer = importlib.util.find_spec("pytest_subprocess") is not None
    plugins = {"cmdrun": "cmdrun.testing._plugin"}
    if peer:
        plugins[PSUB_PLUGIN] = "pytest_subprocess.fixtures"
    with tempfile.TemporaryDirectory(prefix="cmdrun-bench-plugin-") as tmp:
        work = make_workdir(tmp, s)
        variants = {"default": [], **{f"no:{name}": ["-p", f"no:{name}"] for name in plugins}}
        if s.lean:  # every plugin loaded by name, none autoloaded; a baseline leaves one out
            work.env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            variants = {
                name: [o for other, m in plugins.items() if other != left for o in ("-p", m)]
                for name, left in [("default", ""), *((f"no:{p}", p) for p in plugins)]
            }
        for options in variants.values():  # warm up: fill the bytecode and page caches
            work.pytest("test_one.py", *options)
            if s.lean:  # one run loads all there is to cache
                break
        tests = _rounds(work, "test_trivial.py", variants, s.rounds)
        # The start-up ends where collection begins, so any file's runs show it.
        if s.startup_apart:
            startups = _rounds(work, "test_one.py", variants, s.startup_rounds)
        else:
            startups = tests
        rows = _cost_rows("cmdrun", startups, tests, s)
        if peer:
            rows += _cost_rows(PSUB_PLUGIN, startups, tests, s)
        rows += _import_rows(work, s, plugins)
        if not peer:
            return [*rows, Row(f"context: {PSUB_PLUGIN}", "not installed")]
        rows.append(_faked_call_row(work, s, variants["default"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    """This section alone, through bench.py's command line and table."""
    import bench

    return bench.main([*(sys.argv[1:] if argv is None else argv), "--only", "plugin"])


if __name__ == "__main__":
    sys.exit(main())
