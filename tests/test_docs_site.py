"""The documentation site as a reader meets it: built, served on 127.0.0.1, opened in Chromium.

The site is built with ``python -m mkdocs build --strict`` (or taken already built from
``CMDRUN_DOCS_SITE``), served by ``http.server`` from a thread, and three pages (the landing
page, a guide, an API page) are opened in headless Debian Chromium driven by selenium and
``chromedriver``. Each must show its title and first heading, log no error in the browser
console, and find ``spawn`` in the search index the search box loads. A screenshot of each
page is saved (into ``CMDRUN_DOCS_SHOTS``, by default a temporary directory) for a person to
look at.

Needs the ``docs`` extra and ``apt-get install chromium chromium-driver``; without them the
tests skip, saying what is missing, unless ``CMDRUN_REQUIRE_DOCS=1`` (as in CI) makes that
a failure.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SITE_NAME = "cmdrun"
#: The pages opened: (URL path under the site, Markdown source under docs/).
PAGES = [
    ("", "index.md"),
    ("guides/running/", "guides/running.md"),
    ("reference/running/", "reference/running.md"),
]
# The Chromium switches for a machine with no network and no display, run as root: without
# the network ones, Chromium keeps trying to reach Google's services (and logs each refusal).
CHROMIUM_SWITCHES = [
    "--headless=new",
    "--no-sandbox",  # root cannot use Chromium's sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]


def _missing(what: str) -> NoReturn:
    """Skip for a missing tool; fail instead when the docs are required (CI)."""
    if os.environ.get("CMDRUN_REQUIRE_DOCS") == "1":
        pytest.fail(f"CMDRUN_REQUIRE_DOCS=1 but {what}")
    pytest.skip(what)


def _tool(env: str, name: str) -> str:
    found = os.environ.get(env) or shutil.which(name) or shutil.which(name, path="/usr/bin")
    if not found:
        _missing(f"no {name} (apt-get install chromium chromium-driver, or set {env})")
    return found


def expected_title(source: str) -> str:
    """The document title Material gives a page: its nav title, then the site's name (the
    landing page has the site's name alone)."""
    if source == "index.md":
        return SITE_NAME
    mkdocs_yml = (ROOT / "mkdocs.yml").read_text()
    found = re.search(rf"^\s*- (.+): {re.escape(source)}\s*$", mkdocs_yml, re.MULTILINE)
    assert found, f"{source} is not in mkdocs.yml's nav"
    return f"{found.group(1)} - {SITE_NAME}"


def expected_heading(source: str) -> str:
    """The text of the first ``# heading`` of the page's Markdown, as the browser shows it."""
    text = (ROOT / "docs" / source).read_text()
    found = re.search(r"^# (.+?)\s*(?:\{[^}]*\})?\s*$", text, re.MULTILINE)
    assert found, f"docs/{source} has no '# ' heading"
    return re.sub(r"[`*_]", "", found.group(1))


def test_expected_heading_reads_markdown_as_rendered(tmp_path: pathlib.Path) -> None:
    page = ROOT / "docs" / "reference" / "running.md"
    assert expected_heading(str(page.relative_to(ROOT / "docs"))) == "Running commands"
    assert expected_title("reference/running.md") == "Running - cmdrun"
    assert expected_title("index.md") == "cmdrun"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The built site: ``CMDRUN_DOCS_SITE`` if set, else built here with warnings as errors."""
    given = os.environ.get("CMDRUN_DOCS_SITE")
    if given:
        built = pathlib.Path(given)
        assert (built / "index.html").is_file(), f"CMDRUN_DOCS_SITE={given} holds no index.html"
        return built
    if importlib.util.find_spec("mkdocs") is None:
        _missing("mkdocs is not installed (python -m pip install -e '.[docs]')")
    built = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(built)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}{build.stderr}"
    return built


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request on stderr: noise in the test's output


@pytest.fixture(scope="module")
def base_url(site: pathlib.Path) -> Iterator[str]:
    """The site served on 127.0.0.1 at a free port, for the module's tests."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Where the screenshots go: ``CMDRUN_DOCS_SHOTS`` or a temporary directory."""
    given = os.environ.get("CMDRUN_DOCS_SHOTS")
    where = pathlib.Path(given) if given else tmp_path_factory.mktemp("shots")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium, driven by chromedriver, that keeps the console log."""
    if importlib.util.find_spec("selenium") is None:
        _missing("selenium is not installed (python -m pip install -e '.[docs]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _tool("CMDRUN_CHROMIUM", "chromium")
    for switch in CHROMIUM_SWITCHES:
        options.add_argument(switch)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=_tool("CMDRUN_CHROMEDRIVER", "chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


# The first <h1>'s text without the permalink mark the toc extension puts in it.
_FIRST_HEADING = """
const h1 = document.querySelector('h1');
if (!h1) return null;
const copy = h1.cloneNode(true);
copy.querySelectorAll('.headerlink').forEach(link => link.remove());
return copy.textContent.trim();
"""

# What the search box loads, fetched from the page itself: the entries that hold "spawn".
_SEARCH_FOR_SPAWN = """
const done = arguments[arguments.length - 1];
fetch(new URL('search/search_index.json', arguments[0]))
  .then(response => response.json())
  .then(index => done({
    entries: index.docs.length,
    locations: index.docs
      .filter(doc => /\\bspawn\\b/.test(doc.title + ' ' + doc.text))
      .map(doc => doc.location),
  }))
  .catch(error => done({error: String(error)}));
"""


@pytest.mark.parametrize(("path", "source"), PAGES, ids=[source for _, source in PAGES])
def test_page_renders_its_title_and_heading_without_console_errors(
    browser: Any, base_url: str, shots: pathlib.Path, path: str, source: str
) -> None:
    browser.get_log("browser")  # what an earlier page logged is not this page's
    browser.get(base_url + path)
    shot = shots / (source.removesuffix(".md").replace("/", "-") + ".png")
    assert browser.save_screenshot(str(shot)), f"no screenshot saved to {shot}"
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert (browser.title, browser.execute_script(_FIRST_HEADING), severe) == (
        expected_title(source),
        expected_heading(source),
        [],
    )


@pytest.mark.parametrize(("path", "source"), PAGES, ids=[source for _, source in PAGES])
def test_search_index_the_page_loads_holds_spawn(
    browser: Any, base_url: str, path: str, source: str
) -> None:
    browser.get(base_url + path)
    found = browser.execute_async_script(_SEARCH_FOR_SPAWN, base_url)
    assert "error" not in found, found
    # The API entry of cmdrun.spawn, which the guides link to.
    assert "reference/sessions/#cmdrun.spawn" in found["locations"], found
