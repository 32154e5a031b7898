"""The pytest plugin (registered through the ``pytest11`` entry point): fixtures only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._cassette import Cassette
from ._fake import FakeCommands


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


@pytest.fixture
def fake_commands() -> Iterator[FakeCommands]:
    """Fake programs for the test: every cmdrun call must match a ``register``-ed pattern.

    Installed process-wide (threads the code under test starts see it too) for the test's
    duration; the real launcher is back afterwards, whether the test passed or failed.
    """
    with FakeCommands() as fake:
        yield fake


@pytest.fixture
def cmdrun_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette | None]:
    """The cassette of a test marked ``cmdrun_cassette(path)`` (None without the marker)."""
    marker = request.node.get_closest_marker("cmdrun_cassette")
    if marker is None:
        yield None
        return
    if not marker.args:
        raise pytest.UsageError("cmdrun_cassette needs the cassette's path")
    path = request.node.path.parent / marker.args[0]
    record = bool(request.config.getoption("--cmdrun-record"))
    with Cassette(path, record=record) as cassette:
        yield cassette


@pytest.fixture(autouse=True)
def _cmdrun_cassette_marker(request: pytest.FixtureRequest) -> None:
    """Activate the cassette of marked tests without them asking for the fixture."""
    if request.node.get_closest_marker("cmdrun_cassette") is not None:
        request.getfixturevalue("cmdrun_cassette")
