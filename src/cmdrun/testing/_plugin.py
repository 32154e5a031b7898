"""The pytest plugin (registered through the ``pytest11`` entry point): hooks and fixtures only.

Every pytest run where cmdrun is installed loads this module, so it must cost nothing to the
tests that do not use it: it imports neither the fakes nor cmdrun's engine (the fixtures do,
when a test asks for them), and an unmarked test gets no fixture from it. A test that carries
the ``cmdrun_cassette`` marker is given the ``cmdrun_cassette`` fixture at collection time.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._cassette import Cassette
    from ._fake import FakeCommands

# The report of a test's call phase, kept on its item: the fixtures' teardown reads it to
# save a cassette (and run strict checks) only when the test passed.
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()
_MARKER_OPTIONS = ("strict", "normalize")
CASSETTE_MARKER = "cmdrun_cassette"
CASSETTE_FIXTURE = "cmdrun_cassette"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cmdrun-record",
        action="store_true",
        default=False,
        help="cmdrun: run commands for real and (re)write the cassettes of tests marked "
        "cmdrun_cassette (only tests that pass write theirs), instead of answering from them",
    )
    parser.addini(
        "cmdrun_strict",
        type="bool",
        default=False,
        help="cmdrun: fail a test whose fake_commands registrations with times= were not used "
        "up, whose fake dialogues did not run to their end, or whose cassette was not "
        "replayed in full and in order",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cmdrun_cassette(path, strict=None, normalize=None): answer the test's cmdrun calls "
        "from the JSON cassette at path (relative to the test file); record it with "
        "--cmdrun-record. normalize(text) -> text makes more of the arguments portable",
    )


def pytest_plugin_registered(plugin: object) -> None:
    """With pytester on, import cmdrun whole now, before pytester's first snapshot.

    pytester's in-process runs put ``sys.modules`` back as it was after each run: cmdrun
    modules first imported inside a run are dropped, and the next import makes new copies,
    while the ``cmdrun`` package (imported with this plugin) keeps the names it had cached
    from the old ones; a fake installed through the new copies is then invisible to
    ``cmdrun.run``. Imported before the snapshot, they are never dropped (as when this plugin
    imported them at load). Only runs that use pytester pay for it.
    """
    if getattr(plugin, "__name__", None) == "_pytest.pytester":
        import cmdrun
        import cmdrun.testing

        cmdrun._import_api()
        cmdrun.testing._import_api()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test marked ``cmdrun_cassette`` (itself, or its class or module) the fixture.

    The one thing this plugin does for every test of the run, so it is cheap: the marks of
    the test's parents (its class, module, package, ...) are looked up once per parent, not
    once per test (``get_closest_marker`` walks up the whole chain), and an unmarked test
    only has its own (usually empty) list of marks read. Same answer as
    ``item.get_closest_marker``: the marks of the item, then of each parent up.
    """
    parent: object = None
    parent_marked = False
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        if item.parent is not parent:  # a test's siblings come together, most often
            parent = item.parent
            parent_marked = item.parent is not None and (
                item.parent.get_closest_marker(CASSETTE_MARKER) is not None
            )
        if parent_marked or (
            item.own_markers  # most often empty
            and any(mark.name == CASSETTE_MARKER for mark in item.own_markers)
        ):
            _use_cassette_fixture(item)


def _use_cassette_fixture(item: pytest.Function) -> None:
    """Put the cassette fixture first among the test's function-scoped fixtures.

    After the wider-scoped ones: what a session or module fixture runs is not this test's
    and must not be answered from (or recorded into) its cassette, even when this test is the
    first to need that fixture; before the test's own fixtures, whose commands are part of
    the test. pytest sets fixtures up in the order of ``item.fixturenames``, which it sorts
    widest scope first. A copy: the parametrized tests of one function share the list, and
    a mark given to one ``pytest.param`` is not the others'.
    """
    names = [name for name in item.fixturenames if name != CASSETTE_FIXTURE]
    definitions = item._fixtureinfo.name2fixturedefs
    first_function_scoped = next(
        (
            index
            for index, name in enumerate(names)
            if name in definitions and definitions[name][-1].scope == "function"
        ),
        len(names),
    )
    names.insert(first_function_scoped, CASSETTE_FIXTURE)
    item.fixturenames = names


class _ReportKeeper:
    """Keeps each test's call-phase report on its item, for :func:`_passed`.

    Registered by the fixtures on first use (:func:`_keep_reports`), not at load: a hook
    wrapper costs every test of the run a few microseconds, and tests that use neither
    fixture need no report kept.
    """

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when == "call":
            item.stash[_CALL_REPORT] = report
        return report


_KEEPER = "cmdrun-report-keeper"


def _keep_reports(config: pytest.Config) -> None:
    """Start keeping reports (from this test's call phase on, which follows its set-up)."""
    if not config.pluginmanager.has_plugin(_KEEPER):
        config.pluginmanager.register(_ReportKeeper(), _KEEPER)


def _passed(node: pytest.Item) -> bool:
    """Whether the test's own code ran and passed (a failed setup never ran it)."""
    report = node.stash.get(_CALL_REPORT, None)
    return report is not None and report.passed


@pytest.fixture
def fake_commands(request: pytest.FixtureRequest) -> Iterator[FakeCommands]:
    """Fake programs for the test: every cmdrun call must match a ``register``-ed pattern.

    Installed process-wide (threads the code under test starts see it too) for the test's
    duration; the real launcher is back afterwards, whether the test passed or failed. In a
    test marked ``cmdrun_cassette``, calls no registration answers go to the cassette, from
    every thread. With ``strict`` (or the ini option ``cmdrun_strict``), a test that passed
    fails at teardown if something registered was not used up.
    """
    from ._fake import FakeCommands

    _keep_reports(request.config)
    # The cassette is set up first, whatever the fixture order, so that the fakes are the
    # outer layer for every thread: registrations, then the recording.
    cassette = None
    if request.node.get_closest_marker(CASSETTE_MARKER) is not None:
        cassette = request.getfixturevalue(CASSETTE_FIXTURE)
    fake = FakeCommands()
    fake.strict = bool(request.config.getini("cmdrun_strict"))
    if cassette is not None:
        fake._answer_the_rest_with(cassette)
    fake.__enter__()
    try:
        yield fake
    finally:
        fake._close(check=_passed(request.node))


@pytest.fixture
def cmdrun_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette | None]:
    """The cassette of a test marked ``cmdrun_cassette(path)`` (None without the marker).

    While recording, the file is written only if the test passed. Paths under the test's
    ``tmp_path``, the interpreter and the test's directory are stored as ``{tmp_path}``,
    ``{python}`` and ``{test_dir}``; the marker's ``normalize=`` rewrites more.
    """
    marker = request.node.get_closest_marker(CASSETTE_MARKER)
    if marker is None:
        yield None
        return
    if not marker.args:
        raise pytest.UsageError("cmdrun_cassette needs the cassette's path")
    unknown = set(marker.kwargs) - set(_MARKER_OPTIONS)
    if unknown:
        raise pytest.UsageError(
            f"cmdrun_cassette takes strict= and normalize=, not {', '.join(sorted(unknown))}"
        )
    import sys

    from ._cassette import Cassette

    _keep_reports(request.config)

    test_dir = request.node.path.parent
    places = {"python": sys.executable, "test_dir": str(test_dir)}
    if "tmp_path" in request.fixturenames:
        places["tmp_path"] = str(request.getfixturevalue("tmp_path"))
    strict = marker.kwargs.get("strict")
    cassette = Cassette(
        test_dir / marker.args[0],
        record=bool(request.config.getoption("--cmdrun-record")),
        strict=bool(request.config.getini("cmdrun_strict") if strict is None else strict),
        normalize=marker.kwargs.get("normalize"),
        placeholders=places,
    )
    cassette.__enter__()
    try:
        yield cassette
    finally:
        cassette._close(ok=_passed(request.node))
