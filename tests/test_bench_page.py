"""The benchmark page generator (benchmarks/page.py), fed synthetic rows: no benchmark runs.

``bench.py --page`` hands the rows of its sections and the correctness results to
``page.write``; these tests check what the page makes of them: values read from the rows,
wrong answers shown as "wrong" and never as a time, missing rows reported, every section
on the page in the issue's order, and (when matplotlib is installed: the bench extra, not
the test extra) the PNG charts written.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    """A module of benchmarks/ (not a package), loaded by path: putting benchmarks/ on
    sys.path would let its ``cli``, ``plugin`` or ``remote`` shadow other modules."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # page.py imports benchutil by name
    spec.loader.exec_module(module)
    return module


Row = _load("benchutil").Row
page = _load("page")

META = page.Meta(
    command="python benchmarks/bench.py --page --quick",
    quick=True,
    date="2026-12-02",
    machine="Linux 6.18 x86_64, 2 CPUs",
    python="3.11.7",
    cmdrun="0.1.0",
    seconds=61.0,
)

#: A few rows of several sections, named as bench.py names them.
ROWS: dict[str, list[Row]] = {
    "bench_overhead": [
        Row(
            "per-call overhead: cmdrun.run / subprocess.run (`true`)",
            "1.09",
            "<= 1.10",
            True,
            "655 vs 600 us/call",
        ),
        Row('context: plumbum `local["true"]()` / subprocess.run', "1.06"),
        Row("context: sh `sh.true()` / subprocess.run", "5.64"),
        Row("context: pexpect spawn + expect(EOF) + close (defaults) / subprocess.run", "168.81"),
    ],
    "bench_pty_run": [
        Row(
            'PTY one-shot: cmdrun.run(["true"], tty=True) / pexpect spawn + expect(EOF) + '
            "close (delayafterclose=0)",
            "0.50",
            "<= 1.00",
            True,
        ),
    ],
    "bench_pipeline": [
        Row(
            "pipeline `cat FILE | gzip -1 | wc -c`, 32 MiB: wall time cmdrun.run(cmdrun.pipe(...))"
            " / `bash -c 'set -o pipefail; ...'`",
            "0.99",
            "<= 1.02",
            True,
        ),
        Row("pipeline `cat FILE | gzip -1 | wc -c`, 32 MiB: a subprocess.Popen chain", "wrong"),
    ],
    "bench_ssh_timeouts": [
        Row(
            "remote timeout side by side: fabric `Connection.run(..., timeout=1)`",
            "1.06 s, 3 left (3 later)",
        ),
        Row(
            "remote timeout side by side: cmdrun `Remote.run(['sh', '-c', ...], timeout=1)`",
            "1.02 s, 0 left (0 later)",
        ),
    ],
    "bench_ssh_fanout_timeout": [
        Row("no survivor after a fan-out timeout: processes left", "0 (0 2 s later)", "0", True),
        Row("context: fan-out timeout: seconds until `run_on(...)` returns", "2.84 s"),
    ],
    "bench_plugin": [
        Row("pytest start-up: CPU ms added by cmdrun's plugin (vs `-p no:cmdrun`)", "1.3 ms"),
        Row("a test that does not use it: CPU µs added per test by cmdrun's plugin", "6.7 µs"),
    ],
}

CORRECTNESS: list[dict[str, Any]] = [
    {
        "library": library,
        "scenario": scenario,
        "seconds": None if hung else 1.0,
        "hung": hung,
        "survivors": 3 if hung else 0,
        "survivors_later": 3 if hung else 0,
        "outcome": "hung" if hung else "raised TimeoutExpired",
        "how": f"{library}.run(timeout=1)",
    }
    for library, hung in (("subprocess", True), ("cmdrun", False))
    for scenario in ("ctrl-c", "sigstop", "grandchild-holds-pipes", "sigterm-ignored")
]


def _panel(plots: list[page.Plot], chart: str, title_start: str) -> page.PanelData:
    plot = next(p for p in plots if p.name == chart)
    return next(d for d in plot.panels if d.panel.title.startswith(title_start))


def _point(data: page.PanelData, label: str) -> page.Point:
    return next(p for p in data.points if p.label == label)


@pytest.mark.parametrize(
    ("shown", "parsed"),
    [
        ("1.08", (1.08, "")),
        ("16.43", (16.43, "")),
        ("1.78 s", (1.78, "s")),
        ("24.9 MiB", (24.9, "MiB")),
        ("6.7 µs", (6.7, "µs")),
        ("-0.8 ms", (-0.8, "ms")),
        ("1.06 s, 3 left (3 later)", (1.06, "s")),
        ("wrong", (None, "wrong")),
        ("not installed", (None, "not installed")),
        ("False", (None, "False")),
    ],
)
def test_values_are_read_from_what_rows_show(shown: str, parsed: tuple[Any, str]) -> None:
    assert page.parse_shown(shown) == parsed


def test_bars_take_their_rows_values() -> None:
    plots, _ = page.build(ROWS)
    calls = _panel(plots, "overhead", "Run `true`")
    assert _point(calls, "cmdrun.run").value == pytest.approx(1.09)
    assert _point(calls, "cmdrun.run").role == page.OURS
    assert _point(calls, "subprocess.run (capture_output)").value == 1.0  # the denominator
    defaults = "pexpect spawn + expect(EOF) + close (defaults)"
    assert _point(calls, defaults).value == pytest.approx(168.81)
    pty = _panel(plots, "overhead", "On a PTY")
    # The row is cmdrun / pexpect: the bar shows pexpect / cmdrun.
    tuned = "pexpect spawn + expect(EOF) + close (delayafterclose=0)"
    assert _point(pty, tuned).value == pytest.approx(2.0)


def test_a_wrong_answer_is_never_a_time() -> None:
    plots, _ = page.build(ROWS)
    chain = _point(_panel(plots, "pipelines", "`cat FILE"), "subprocess.Popen chain")
    assert (chain.state, chain.value) == (page.WRONG, None)
    assert page.wrong_answers(next(p for p in plots if p.name == "pipelines"))


def test_missing_rows_are_reported_and_drawn_as_not_measured() -> None:
    plots, problems = page.build(ROWS)
    invoke = _point(_panel(plots, "overhead", "Run `true`"), 'invoke.run("true", hide=True)')
    assert (invoke.state, invoke.value) == (page.MISSING, None)
    assert any("invoke.run" in problem for problem in problems)
    # An optional bar without a row (sarge: not every run has it) is left out, unreported.
    calls = _panel(plots, "overhead", "Run `true`")
    assert 'sarge.capture_both("true")' not in [p.label for p in calls.points]
    assert not any("sarge" in problem for problem in problems)


def test_survivors_annotate_timeouts() -> None:
    plots, _ = page.build(ROWS)
    timeouts = _panel(plots, "ssh", "A 1 s timeout")
    fabric = _point(timeouts, "fabric Connection.run(timeout=1)")
    assert (fabric.value, fabric.note, fabric.alarm) == (1.06, "3 left (3 later)", True)
    fan_out = _point(timeouts, "cmdrun run_on(30 targets, timeout=1)")
    assert (fan_out.value, fan_out.note, fan_out.alarm) == (2.84, "0 left (0 later)", False)


def test_losses_name_every_peer_ahead_of_cmdrun() -> None:
    plots, _ = page.build(ROWS)
    lost = page.losses(next(p for p in plots if p.name == "overhead"))
    assert any("subprocess.run (capture_output) 1.00x, cmdrun.run 1.09x" in line for line in lost)
    assert not any("plumbum" in line for line in lost)  # 1.06: ahead, but by less than 5%
    headline = page.summary(plots).panels[0].points
    first = next(p for p in headline if p.label == "one call of `true`")
    assert (first.value, first.role) == (pytest.approx(1.09), page.BEHIND)


def test_summary_says_why_cmdrun_is_behind_in_each_race_it_loses() -> None:
    plots, _ = page.build(ROWS)
    listed = page.behind_list(plots)
    behind = [line for line in listed if line.startswith("- ")]
    assert behind[0].startswith("- one call of `true`: 1.09x vs subprocess.run (capture_output).")
    assert "Why: the peer skips the new session" in behind[0]
    headline = page.summary(plots).panels[0].points
    assert len(behind) == sum(p.role == page.BEHIND for p in headline)
    assert all("Why: " in line and "see its section" not in line for line in behind)


def test_every_race_says_what_the_peer_skips_where_cmdrun_has_lost_before() -> None:
    # The races amber in past full runs: each must carry its reason for the summary.
    shorts = {
        data.panel.short: data.panel.behind
        for plot in page.build(ROWS)[0]
        for data in plot.panels
        if data.panel.short
    }
    for race in ("one call of `true`", "dialogue on a PTY", "SSH fan-out to 30 targets"):
        assert shorts.get(race, "missing"), race


def test_correctness_table_cells() -> None:
    table = page.correctness_table(CORRECTNESS)
    lines = table.splitlines()
    assert lines[0].startswith("| Library | a child that ignores SIGTERM | a grandchild")
    assert lines[2].startswith("| **cmdrun** | 1.00 s, 0 left |")  # cmdrun first
    assert lines[3] == "| subprocess | " + " | ".join(["hang, 3 left"] * 4) + " |"
    reading = page.correctness_reading(CORRECTNESS)
    assert "- subprocess hangs in (a child that ignores SIGTERM); " in reading
    assert "leaves processes alive in (a child that ignores SIGTERM): 3;" in reading
    assert "No hang and no survivor: cmdrun. " in reading
    assert reading.endswith(page.CMDRUN_SLOWER)  # why its (a) and (d) take the grace
    assert page.PEXPECT_CLEAN not in reading


def test_correctness_reading_says_why_pexpect_is_clean_too() -> None:
    clean = [{**r, "library": "pexpect"} for r in CORRECTNESS if r["library"] == "cmdrun"]
    reading = page.correctness_reading([*CORRECTNESS, *clean])
    assert "No hang and no survivor: cmdrun, pexpect. " in reading
    assert page.PEXPECT_CLEAN in reading


def test_page_has_every_section_in_order(tmp_path: pathlib.Path) -> None:
    written = page.write(tmp_path, META, ROWS, CORRECTNESS, charts=False)
    text = written.page.read_text()
    assert written.page == tmp_path / "docs" / "benchmarks.md"
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## 1. Per-call overhead",
        "## 2. Capture throughput and peak memory",
        "## 3. Dialogue round trips",
        "## 4. PTY throughput",
        "## 5. Parallel runs against xargs -P",
        "## 6. Pipelines against the shell and plumbum",
        "## 7. Async concurrency",
        "## 8. SSH: multiplexing, fan-out and timeouts",
        "## 9. Import time and start-up",
        "## 10. pytest plugin overhead against pytest-subprocess",
        "## 11. Correctness under a timeout",
    ]
    assert "`python benchmarks/bench.py --page --quick`" in text
    assert "a **quick** run" in text
    assert "![Per-call overhead](benchmarks/overhead.png)" in text
    assert "![Correctness under a timeout](benchmarks/correctness.png)" in text
    assert "*Not measured in this run.*" in text  # the sections without rows
    assert "| **cmdrun** | 1.00 s, 0 left |" in text
    # A pipe inside a row's name must not split its table cell.
    assert "`cat FILE \\| gzip -1 \\| wc -c`" in text
    assert written.charts == []


def test_page_is_redrawn_from_saved_results(tmp_path: pathlib.Path) -> None:
    loaded = page.Meta(**{**META.__dict__, "load": (1.5, 3.25)})
    first = page.write(tmp_path, loaded, ROWS, CORRECTNESS, charts=False).page.read_text()
    assert "load average was 1.5 when the run started and 3.2 when it ended" in first
    (tmp_path / "docs" / "benchmarks.md").unlink()
    again = page.rewrite(tmp_path, charts=False)
    assert again.page.read_text() == first


def test_page_without_correctness_says_why(tmp_path: pathlib.Path) -> None:
    written = page.write(
        tmp_path, META, ROWS, None, correctness_problem="left out by --only", charts=False
    )
    assert "*Not measured in this run: left out by --only.*" in written.page.read_text()


@pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib: the bench extra"
)
def test_charts_are_written(tmp_path: pathlib.Path) -> None:
    written = page.write(tmp_path, META, ROWS, CORRECTNESS)
    names = sorted(path.name for path in written.charts)
    assert names == [
        "correctness.png",
        "overhead.png",
        "pipelines.png",
        "plugin.png",
        "ssh.png",
        "summary.png",
    ]
    for path in written.charts:
        assert path.parent == tmp_path / "docs" / "benchmarks"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
