"""The pytest plugin (registered through the ``pytest11`` entry point): hooks and fixtures only.

Every pytest run where cmdrun is installed loads this module, so it must cost nothing to the
tests that do not use it: it imports neither the fakes nor cmdrun's engine (the fixtures do,
when a test asks for them), and an unmarked test gets no fixture from it. A test that carries
the ``cmdrun_cassette`` marker is given the ``cmdrun_cassette`` fixture at collection time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._cassette import Cassette
    from ._fake import FakeCommands

CASSETTE_MARKER = "cmdrun_cassette"
CASSETTE_FIXTURE = "cmdrun_cassette"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cmdrun-record",
        action="store_true",
        default=False,
        help="cmdrun: run commands for real and (re)write the cassettes of tests marked "
        "cmdrun_cassette, instead of answering from them",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cmdrun_cassette(path): answer the test's cmdrun calls from the JSON cassette at "
        "path (relative to the test file); record it with --cmdrun-record",
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
    """Give each test marked ``cmdrun_cassette`` (itself, or its class or module) the fixture."""
    for item in items:
        if isinstance(item, pytest.Function) and item.get_closest_marker(CASSETTE_MARKER):
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


@pytest.fixture
def fake_commands() -> Iterator[FakeCommands]:
    """Fake programs for the test: every cmdrun call must match a ``register``-ed pattern.

    Installed process-wide (threads the code under test starts see it too) for the test's
    duration; the real launcher is back afterwards, whether the test passed or failed.
    """
    from ._fake import FakeCommands

    with FakeCommands() as fake:
        yield fake


@pytest.fixture
def cmdrun_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette | None]:
    """The cassette of a test marked ``cmdrun_cassette(path)`` (None without the marker)."""
    marker = request.node.get_closest_marker(CASSETTE_MARKER)
    if marker is None:
        yield None
        return
    if not marker.args:
        raise pytest.UsageError("cmdrun_cassette needs the cassette's path")
    from ._cassette import Cassette

    path = request.node.path.parent / marker.args[0]
    record = bool(request.config.getoption("--cmdrun-record"))
    with Cassette(path, record=record) as cassette:
        yield cassette
