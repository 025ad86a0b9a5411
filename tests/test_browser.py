"""The Datasette plugin in a real browser: hostile notebooks stay inert, real notebooks look right.

A module-scoped fixture loads a hostile notebook (generated from
``tests/fixtures/hostile_notebooks/hostile.ipynb`` with the port of a local "beacon" HTTP server
written into every payload) and a few notebooks of the shared corpus into a temporary database,
then runs ``python -m nbsql serve`` on a free port. Chromium (Debian's, never a downloaded one)
visits Datasette's table pages, the canned queries and the plugin's own pages:

* no payload may run, load anything or open a dialog: the beacon must receive no request, no
  dialog may open, and the DOM may hold no script, frame, embedded object, event handler or
  remote URL that came from the notebook;
* a real notebook shows its images, headings, highlighted code and findings; the gallery links
  each image back to its cell; search finds a known cell; the cells table renders markdown.

Full-page screenshots land in ``test-artifacts/screenshots/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright import sync_api  # noqa: E402

import nbsql

from .conftest import CORPUS, REPO, missing

HOSTILE_TEMPLATE = Path(__file__).parent / "fixtures" / "hostile_notebooks" / "hostile.ipynb"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("NBSQL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

DB_NAME = "browser"
#: Every hostile cell carries this word, so searches and the gallery's ?q= find them.
HOSTILE_TERM = "hostilemarker"
#: The same hostile notebook twice: once under a plain name, once under a name that is a payload.
HOSTILE_FILES = ("hostile.ipynb", "\"><img src=x onerror=alert('xss-path')>.ipynb")
#: A few real notebooks (images, headings, findings); the first one that loads with images is used.
REAL_NOTEBOOKS = ("real/ageron__handson-ml2/06_decision_trees.ipynb",
                  "real/ageron__handson-ml2/extra_autodiff.ipynb",
                  "real/ageron__handson-ml2/index.ipynb")
PREFERRED_REAL = "06_decision_trees.ipynb"
PREFERRED_WORD = "graphviz"
RASTER_OR_SVG = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")

#: A notebook with math, lists and a late import (a finding on a cell), loaded beside the others.
EXPLORER_FILE = "math_and_lists.ipynb"
EXPLORER_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                     "display_name": "Python 3"}},
    "cells": [
        {"cell_type": "markdown", "id": "md", "metadata": {}, "source": (
            "# Squares\n\nEach $x_i = i^2$, so\n\n$$\\sum_{i=1}^{n} x_i = \\frac{n(n+1)(2n+1)}{6}$$\n\n"
            "- a bullet\n- another\n\n1. first\n2. second\n")},
        {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1, "outputs": [],
         "source": "squares = [i ** 2 for i in range(10)]"},
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 2, "outputs": [],
         "source": "total = sum(squares)"},
        {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 3, "outputs": [],
         "source": "import json\nprint(json.dumps(total))"},
        {"cell_type": "code", "id": "d", "metadata": {}, "execution_count": 4, "outputs": [],
         "source": "\n".join(f"shared_{i} = total + {i}" for i in range(6))},
    ]}
#: The same notebook again, so that its six-line cell is an NB116 finding naming this copy.
EXPLORER_COPY = "math_and_lists_copy.ipynb"

PAGE_TIMEOUT_MS = 30_000
NAVIGATION_TIMEOUT_MS = 90_000
SERVER_START_SECONDS = 90


# --------------------------------------------------------------------------------------------
# The beacon: any request it receives means notebook content reached the network.


class Beacon:
    """A tiny HTTP server on 127.0.0.1 that records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                with beacon._lock:
                    beacon.requests.append(f"{self.command} {self.path}")
                body = b"beacon"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_OPTIONS = do_PUT = _record

            def log_message(self, *args) -> None:  # keep pytest's output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="beacon", daemon=True)

    def start(self) -> Beacon:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def received(self) -> list[str]:
        with self._lock:
            return list(self.requests)


@pytest.fixture(scope="module")
def beacon():
    server = Beacon().start()
    yield server
    server.stop()


# --------------------------------------------------------------------------------------------
# The nbsql server on a temporary database.


@dataclass
class Site:
    base: str
    db: Path
    hostile_ids: dict[str, int]
    real_id: int
    real_path: str
    log: Path
    notebooks: dict[int, str] = field(default_factory=dict)
    explorer_id: int = 0
    copy_id: int = 0
    hostile_rule: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def table(self, table: str, **params) -> str:
        query = urllib.parse.urlencode(params)
        return self.url(f"/{DB_NAME}/{table}" + (f"?{query}" if query else ""))

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        return conn


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _start_server(db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``python -m nbsql serve`` on a free port, once it answers (a lost port race retries)."""
    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "nbsql", "serve", "--db", str(db), "--port", str(port)],
                                    stdout=out, stderr=subprocess.STDOUT, cwd=str(db.parent))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(base + "/-/versions.json"):
                time.sleep(0.5)
                if proc.poll() is None:  # ours answered, not another server that won the port
                    return proc, base
            time.sleep(0.25)
        _stop_server(proc)
        last_error = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"nbsql serve did not start; its output:\n{last_error}")


def _stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def site(tmp_path_factory, beacon):
    root = tmp_path_factory.mktemp("browser")
    hostile_dir = root / "hostile"
    hostile_dir.mkdir()
    template = HOSTILE_TEMPLATE.read_text(encoding="utf-8")
    assert "BEACON_PORT" in template
    for name in HOSTILE_FILES:
        (hostile_dir / name).write_text(template.replace("BEACON_PORT", str(beacon.port)), encoding="utf-8")
    real = [CORPUS / name for name in REAL_NOTEBOOKS if (CORPUS / name).is_file()]
    if not real:
        pytest.fail(f"the shared corpus is missing at {CORPUS} (set NBSQL_CORPUS)")
    explorer_dir = root / "explorer"
    explorer_dir.mkdir()
    for name in (EXPLORER_FILE, EXPLORER_COPY):
        (explorer_dir / name).write_text(json.dumps(EXPLORER_NOTEBOOK), encoding="utf-8")
    db = root / f"{DB_NAME}.db"
    report = nbsql.load([hostile_dir, explorer_dir, *real], db, jobs=1)
    assert report.failed == 0, report.errors

    conn = sqlite3.connect(db)
    try:
        notebooks = dict(conn.execute("SELECT id, path FROM notebooks"))
        hostile_ids = {path: nid for nid, path in notebooks.items() if path in HOSTILE_FILES}
        explorer_id = next(nid for nid, path in notebooks.items() if path == EXPLORER_FILE)
        copy_id = next(nid for nid, path in notebooks.items() if path == EXPLORER_COPY)
        assert set(hostile_ids) == set(HOSTILE_FILES), notebooks
        # the real notebook: images and markdown headings, the preferred one first
        candidates = conn.execute(
            "SELECT n.id, n.path FROM notebooks n WHERE n.image_count > 0 AND n.id NOT IN ({}) AND EXISTS "
            "(SELECT 1 FROM cells c WHERE c.notebook = n.id AND c.cell_type = 'markdown' AND c.source LIKE '#%') "
            "ORDER BY n.path = ? DESC, n.image_count DESC".format(",".join("?" * len(hostile_ids))),
            [*hostile_ids.values(), PREFERRED_REAL]).fetchall()
        rule_of_the_hostile = conn.execute("SELECT rule FROM findings WHERE notebook = ? ORDER BY rule LIMIT 1",
                                           [hostile_ids["hostile.ipynb"]]).fetchone()[0]
    finally:
        conn.close()
    assert candidates, f"no real notebook with images and headings among {notebooks}"
    real_id, real_path = candidates[0]

    log = root / "serve.log"
    proc, base = _start_server(db, log)
    try:
        yield Site(base=base, db=db, hostile_ids=hostile_ids, real_id=real_id, real_path=real_path, log=log,
                   notebooks=notebooks, explorer_id=explorer_id, copy_id=copy_id, hostile_rule=rule_of_the_hostile)
    finally:
        _stop_server(proc)


# --------------------------------------------------------------------------------------------
# Chromium.


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        missing(f"no Chromium at {CHROMIUM}: run `make test` (it installs Debian's chromium) or set NBSQL_CHROMIUM")
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=120_000)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@dataclass
class Tab:
    """A page plus what it did: dialogs opened, requests to the beacon, console messages."""

    page: object
    dialogs: list[str] = field(default_factory=list)
    beacon_requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.dialogs.clear()
        self.beacon_requests.clear()
        self.console.clear()


@pytest.fixture
def tab(browser, beacon):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=True)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    tab = Tab(page)

    def on_dialog(dialog) -> None:
        tab.dialogs.append(f"{dialog.type}: {dialog.message}")
        with contextlib.suppress(sync_api.Error):  # the page may already be gone
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: tab.beacon_requests.append(request.url)
            if f":{beacon.port}" in request.url else None)
    page.on("console", lambda message: tab.console.append(message.text))
    yield tab
    context.close()


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, timeout=NAVIGATION_TIMEOUT_MS)


def _goto(page, url: str, statuses: tuple[int, ...] = ()):
    """Open ``url``, which must answer 2xx (or one of ``statuses``: a page that says why it found nothing)."""
    response = page.goto(url, wait_until="load")
    assert response is not None and (response.ok or response.status in statuses), \
        f"{url}: HTTP {response and response.status}"
    try:
        page.wait_for_load_state("networkidle", timeout=15_000)
    except sync_api.TimeoutError:
        pass
    return response


#: Scrolls every matching image into view (they load lazily) and waits for each to finish.
LOAD_IMAGES_JS = """async (selector) => {
  const images = Array.from(document.querySelectorAll(selector));
  for (const img of images) {
    img.scrollIntoView({block: 'center'});
    if (!img.getAttribute('src')) continue;  // nothing to load (the sanitiser dropped the source)
    if (!img.complete) {  // a broken image is complete (naturalWidth 0) and fires nothing more
      await new Promise(resolve => {
        img.addEventListener('load', resolve, {once: true});
        img.addEventListener('error', resolve, {once: true});
        setTimeout(resolve, 10000);
      });
    }
  }
  window.scrollTo(0, 0);
  return images.map(img => ({src: (img.getAttribute('src') || '').slice(0, 60), alt: img.alt,
                             width: img.naturalWidth, complete: img.complete}));
}"""


def _load_images(page, selector: str = "img") -> list[dict]:
    return page.evaluate(LOAD_IMAGES_JS, selector)


# --------------------------------------------------------------------------------------------
# Security: the hostile notebook stays inert everywhere it is shown.

#: What the DOM may not hold: script mentioning the beacon or alert, frames and embedded objects,
#: event handler attributes, refreshes, <base>, javascript:/data: links, remote resource URLs.
DOM_AUDIT_JS = """(port) => {
  const beacon = '127.0.0.1:' + port;
  const suspicious = text => !!text && (text.includes(beacon) || /alert\\s*\\(|xss-/i.test(text));
  const describe = el => el.outerHTML.slice(0, 160);
  const found = {scripts: [], frames: [], handlers: [], refresh: [], base: [], links: [], remote: []};
  for (const s of document.querySelectorAll('script')) {
    if (suspicious(s.textContent) || suspicious(s.getAttribute('src')) || suspicious(s.getAttribute('href')))
      found.scripts.push(describe(s));
  }
  for (const el of document.querySelectorAll('iframe, frame, frameset, object, embed, applet, portal'))
    found.frames.push(describe(el));
  for (const el of document.querySelectorAll('meta[http-equiv]')) found.refresh.push(describe(el));
  for (const el of document.querySelectorAll('base')) found.base.push(describe(el));
  const urlAttributes = ['src', 'href', 'xlink:href', 'srcset', 'data', 'action', 'formaction', 'poster',
                         'background', 'style', 'content', 'codebase', 'archive', 'srcdoc'];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      const value = attr.value || '';
      if (name.startsWith('on')) found.handlers.push(`<${el.localName} ${name}="${value.slice(0, 80)}">`);
      if ((name === 'href' || name === 'xlink:href' || name === 'src' || name === 'action')
          && /^\\s*(javascript|vbscript|data:text|data:application)/i.test(value.replace(/[\\t\\n\\r]/g, '')))
        found.links.push(`<${el.localName} ${name}="${value.slice(0, 80)}">`);
      const plainLink = name === 'href' && (el.localName === 'a' || el.localName === 'area')
                        && /^\\s*https?:/i.test(value);  // an ordinary link loads nothing until followed
      if (urlAttributes.includes(name) && value.includes(beacon) && !plainLink)
        found.remote.push(`<${el.localName} ${name}="${value.slice(0, 80)}">`);
    }
  }
  for (const el of document.querySelectorAll('img, source, video, audio, input[type=image], image, link')) {
    const raw = el.getAttribute('src') || el.getAttribute('href') || '';
    if (!raw || raw.startsWith('data:')) continue;
    const url = new URL(raw, document.baseURI);
    if (url.origin !== location.origin) found.remote.push(describe(el));
  }
  for (const s of document.querySelectorAll('style')) if (suspicious(s.textContent)) found.remote.push(describe(s));
  return found;
}"""

CLEAN_DOM = {"scripts": [], "frames": [], "handlers": [], "refresh": [], "base": [], "links": [], "remote": []}

#: Anchors a person could click: whatever the sanitiser left of the payloads' javascript: links.
CLICK_TARGETS = "a[href^='javascript:' i], a[href^='data:' i], a:text-is('click-hostile-js')"


def _hostile_pages(site: Site) -> dict[str, str]:
    plain = site.hostile_ids["hostile.ipynb"]
    named = site.hostile_ids[HOSTILE_FILES[1]]
    term = HOSTILE_TERM
    return {
        "cells-table": site.table("cells", notebook=plain),
        "cells-table-all": site.table("cells", _sort="id", _size="max"),
        "code_cells-view": site.table("code_cells", notebook=plain),
        "outputs-table": site.table("outputs", notebook=plain),
        "error_outputs-view": site.table("error_outputs", notebook=plain),
        "output_data-table": site.table("output_data", notebook=plain),
        "output_data-table-all": site.table("output_data", _size="max"),
        "notebooks-table": site.table("notebooks"),
        "findings-table": site.table("findings", notebook=plain),
        "search_cells-query": site.table("search_cells", q=term),
        "image_gallery-query": site.table("image_gallery", q=term),
        "notebook-page": site.url(f"/-/nbsql/notebooks/{plain}?database={DB_NAME}"),
        "notebook-page-hostile-name": site.url(f"/-/nbsql/notebooks/{named}?database={DB_NAME}"),
        "gallery": site.url("/-/nbsql/gallery"),
        "gallery-q": site.url(f"/-/nbsql/gallery?q={term}"),
        "gallery-reflected-params": site.url("/-/nbsql/gallery?" + urllib.parse.urlencode(
            {"q": f"{term} \"><script>alert('xss-q')</script>",
             "path": "\"><img src=x onerror=alert('xss-gallery-path')>"})),
        "search-page": site.url(f"/-/nbsql/search?q={term}&database={DB_NAME}"),
        "search-page-code": site.url(f"/-/nbsql/search?q={term}&type=code&has_image=1&database={DB_NAME}"),
        "search-page-reflected-params": site.url("/-/nbsql/search?" + urllib.parse.urlencode(
            {"q": f"{term} <script>alert('xss-search-q')</script>", "database": DB_NAME,
             **{name: "\"><img src=x onerror=alert('xss-search-filter')>"
                for name in ("path", "imports", "defines", "calls", "tag", "language")}})),
        "search-page-reflected-error": site.url("/-/nbsql/search?" + urllib.parse.urlencode(
            {"q": "\"><img src=x onerror=alert('xss-search-error')>", "database": DB_NAME})),
        "dashboard": site.url(f"/-/nbsql/?database={DB_NAME}"),
        "rules-page": site.url(f"/-/nbsql/rules?database={DB_NAME}"),
        "rule-page": site.url(f"/-/nbsql/rules/{site.hostile_rule}?database={DB_NAME}"),
        "rule-page-reflected": site.url("/-/nbsql/rules/" + urllib.parse.quote(
            "<img src=x onerror=alert('xss-rule')>")),
        "images-view": site.table("images", notebook=plain),
        "findings-row": site.url(f"/{DB_NAME}/findings/" + str(_first_finding(site, plain))),
    }


def _first_finding(site: Site, notebook: int) -> int:
    conn = site.connect()
    try:
        return conn.execute("SELECT id FROM findings WHERE notebook = ? AND position IS NOT NULL ORDER BY id LIMIT 1",
                            [notebook]).fetchone()[0]
    finally:
        conn.close()


HOSTILE_PAGE_KEYS = ("cells-table", "cells-table-all", "code_cells-view", "outputs-table", "error_outputs-view",
                     "output_data-table", "output_data-table-all", "notebooks-table", "findings-table",
                     "search_cells-query", "image_gallery-query", "notebook-page", "notebook-page-hostile-name",
                     "gallery", "gallery-q", "gallery-reflected-params", "search-page", "search-page-code",
                     "search-page-reflected-params", "search-page-reflected-error", "dashboard", "rules-page",
                     "rule-page", "rule-page-reflected", "images-view", "findings-row")
#: Pages that must visibly hold the hostile content (so the test is not vacuous).
SHOWS_HOSTILE_TEXT = {"cells-table", "cells-table-all", "code_cells-view", "outputs-table", "search_cells-query",
                      "notebook-page", "notebook-page-hostile-name", "output_data-table", "search-page",
                      "search-page-code"}
#: Pages that must show the hostile notebook's images (PNG, and its script-carrying SVG as <img>).
SHOWS_HOSTILE_IMAGES = {"image_gallery-query", "gallery", "gallery-q", "notebook-page", "notebook-page-hostile-name",
                        "search-page-code", "output_data-table", "images-view"}
#: Pages that must show the notebook whose name is a payload, as text.
SHOWS_HOSTILE_NAME = {"dashboard", "rule-page"}


def test_beacon_and_dialog_detection_work(tab, beacon):
    """Positive control: a page that does call the beacon and alert() is caught."""
    beacon.clear()
    tab.page.set_content(f'<img src="{beacon.url}/control-img"><script>alert("control")</script>')
    tab.page.wait_for_timeout(500)
    deadline = time.monotonic() + 10
    while not beacon.received() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("/control-img" in r for r in beacon.received())
    assert tab.dialogs == ["alert: control"]
    beacon.clear()


def test_dom_audit_catches_the_raw_payloads(tab, beacon):
    """Positive control: the raw (unsanitised) HTML payloads trip every check of the DOM audit."""
    notebook = json.loads(HOSTILE_TEMPLATE.read_text(encoding="utf-8").replace("BEACON_PORT", str(beacon.port)))
    raw_html = next("".join(output["data"]["text/html"]) for cell in notebook["cells"]
                    for output in cell.get("outputs", []) if "text/html" in output.get("data", {}))
    page = tab.page
    page.route("**/*", lambda route: route.abort())  # nothing leaves: the beacon stays quiet
    raw_html = raw_html.replace('content="0;url=', 'content="3600;url=')  # no navigation away mid-audit
    page.set_content(raw_html, wait_until="domcontentloaded")
    audit = page.evaluate(DOM_AUDIT_JS, str(beacon.port))
    assert all(audit[check] for check in CLEAN_DOM), audit
    assert page.locator(CLICK_TARGETS).count() >= 4
    beacon.clear()


@pytest.mark.parametrize("key", HOSTILE_PAGE_KEYS)
def test_hostile_notebook_stays_inert(tab, site, beacon, key):
    url = _hostile_pages(site)[key]
    page = tab.page
    beacon.clear()
    tab.clear()
    _goto(page, url, (400, 404) if "reflected" in key else ())
    if key in SHOWS_HOSTILE_IMAGES:
        images = _load_images(page, "img")
        assert images and any(img["width"] > 0 for img in images), f"{key}: no hostile image shown: {images}"
    body_text = page.inner_text("body")
    if key in SHOWS_HOSTILE_TEXT:
        assert HOSTILE_TERM in body_text, f"{key}: the hostile notebook is not on the page"
    if key in SHOWS_HOSTILE_NAME:
        assert HOSTILE_FILES[1] in body_text, f"{key}: the notebook named with a payload is not on the page"
    if key in ("gallery-reflected-params", "search-page-reflected-params"):  # back as inert form values
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        for name in ("q", "path", "imports", "defines", "calls", "tag", "language"):
            if name in params:
                assert page.input_value(f"input[name={name}]") == params[name][0]
    _screenshot(page, f"hostile-{key}")

    audit_before_clicks = page.evaluate(DOM_AUDIT_JS, str(beacon.port))

    # click whatever is left of the javascript: links, as a curious reader would
    targets = page.locator(CLICK_TARGETS)
    clicked = 0
    for index in range(min(targets.count(), 40)):
        link = targets.nth(index)
        try:
            link.click(timeout=5_000, force=True, no_wait_after=True)
            clicked += 1
        except sync_api.Error:
            pass
    if key.startswith("notebook-page"):
        assert clicked > 0, "the sanitised javascript: links should still be on the notebook page as text"
    page.wait_for_timeout(750)
    try:
        page.wait_for_load_state("networkidle", timeout=10_000)
    except sync_api.Error:
        pass

    assert tab.dialogs == [], f"{key}: dialogs opened: {tab.dialogs}"
    time.sleep(0.25)
    assert beacon.received() == [], f"{key}: the beacon was called: {beacon.received()}"
    assert tab.beacon_requests == [], f"{key}: the browser tried to reach the beacon: {tab.beacon_requests}"
    blocked = [m for m in tab.console if f":{beacon.port}" in m]
    assert blocked == [], f"{key}: CSP blocked notebook content that got through the sanitiser: {blocked}"
    assert audit_before_clicks == CLEAN_DOM, f"{key}: hostile markup in the DOM: {audit_before_clicks}"
    if page.url == url or page.url.split("#")[0] == url:
        assert page.evaluate(DOM_AUDIT_JS, str(beacon.port)) == CLEAN_DOM


def _plugin_urls(site: Site) -> dict[str, str]:
    plain = site.hostile_ids["hostile.ipynb"]
    return {
        "hostile notebook": site.url(f"/-/nbsql/notebooks/{plain}?database={DB_NAME}"),
        "real notebook": site.url(f"/-/nbsql/notebooks/{site.real_id}?database={DB_NAME}"),
        "gallery": site.url("/-/nbsql/gallery"),
        "gallery ?q=": site.url(f"/-/nbsql/gallery?q={HOSTILE_TERM}"),
        "dashboard": site.url("/-/nbsql/"),
        "rules": site.url("/-/nbsql/rules"),
        "rule": site.url(f"/-/nbsql/rules/{site.hostile_rule}"),
    }


def test_plugin_pages_send_a_script_free_csp(site):
    for name, url in _plugin_urls(site).items():
        with urllib.request.urlopen(url, timeout=60) as response:
            assert response.status == 200, name
            csp = response.headers.get("Content-Security-Policy", "")
            directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
            assert directives.get("script-src") == "script-src 'none'", f"{name}: CSP {csp!r}"
            assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in directives.get("script-src", "")
            assert response.headers.get("X-Content-Type-Options") == "nosniff", name
    conn = site.connect()
    try:
        image_id = conn.execute("SELECT id FROM output_data WHERE mime = 'image/png' AND data IS NOT NULL "
                                "LIMIT 1").fetchone()[0]
        svg_id = conn.execute("SELECT id FROM output_data WHERE mime = 'image/svg+xml' LIMIT 1").fetchone()[0]
    finally:
        conn.close()
    with urllib.request.urlopen(site.url(f"/-/nbsql/images/{image_id}?database={DB_NAME}"), timeout=60) as response:
        assert response.headers.get("Content-Type") == "image/png"
        assert "sandbox" in response.headers.get("Content-Security-Policy", "")
    # SVG (which can carry script) is served as an image, and opened on its own is a download under
    # a policy that runs nothing: never a document
    with urllib.request.urlopen(site.url(f"/-/nbsql/images/{svg_id}?database={DB_NAME}"), timeout=60) as response:
        assert response.headers.get("Content-Type") == "image/svg+xml"
        assert response.headers.get("Content-Disposition", "").startswith("attachment;")
        assert "sandbox" in response.headers.get("Content-Security-Policy", "")


# --------------------------------------------------------------------------------------------
# What a person sees on a real notebook.


def _real_facts(site: Site) -> dict:
    conn = site.connect()
    try:
        nid = site.real_id
        image_outputs = conn.execute(
            "SELECT count(DISTINCT output) FROM output_data WHERE notebook = ? AND invalid_base64 = 0 AND "
            "mime IN ('image/png', 'image/jpeg', 'image/gif', 'image/svg+xml')", [nid]).fetchone()[0]
        code_cells = conn.execute("SELECT count(*) FROM cells WHERE notebook = ? AND cell_type = 'code'",
                                  [nid]).fetchone()[0]
        findings = conn.execute("SELECT count(*) FROM findings WHERE notebook = ?", [nid]).fetchone()[0]
        headings = []
        for (source,) in conn.execute("SELECT source FROM cells WHERE notebook = ? AND cell_type = 'markdown' "
                                      "ORDER BY position", [nid]):
            for line in (source or "").splitlines():
                match = re.match(r"^#{1,2}\s+(.+?)\s*#*\s*$", line)
                if match:
                    headings.append(re.sub(r"[*_`]", "", match.group(1)).strip())
        return {"image_outputs": image_outputs, "code_cells": code_cells, "findings": findings,
                "headings": headings}
    finally:
        conn.close()


def _distinctive_word(site: Site) -> tuple[str, set[int]]:
    """A word of one of the real notebook's code cells that no other notebook has, and those cells' positions."""
    conn = site.connect()
    try:
        sources = conn.execute("SELECT position, source FROM cells WHERE notebook = ? AND cell_type = 'code' "
                               "ORDER BY position", [site.real_id]).fetchall()
        words = [PREFERRED_WORD] + [w for _, s in sources for w in re.findall(r"[A-Za-z]{7,}", s or "")]
        for word in dict.fromkeys(words):
            positions = {p for p, s in sources
                         if re.search(rf"(?<![A-Za-z0-9]){word}(?![A-Za-z0-9])", s or "", re.IGNORECASE)}
            if not positions:
                continue
            hits = conn.execute("SELECT c.notebook, c.position FROM cells_fts JOIN cells c ON c.text = cells_fts.rowid "
                                "WHERE cells_fts MATCH ?", [f'"{word}"']).fetchall()
            if hits and {n for n, _ in hits} == {site.real_id} and len(hits) <= 20:
                return word, positions
    finally:
        conn.close()
    pytest.fail(f"no distinctive word in the code cells of {site.real_path}")


def test_real_notebook_page(tab, site):
    facts = _real_facts(site)
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/notebooks/{site.real_id}?database={DB_NAME}"))
    assert page.inner_text("h1.nbsql-path").strip() == site.real_path

    # images: every output image decodes to real pixels
    images = _load_images(page, ".nbsql-output img")
    assert len(images) == facts["image_outputs"] > 0, images
    broken = [img for img in images if img["width"] == 0]
    assert broken == [], f"images that did not render: {broken}"

    # headings from the markdown cells, as h1/h2 elements with their text
    rendered = [t.strip() for t in page.locator(".nbsql-source h1, .nbsql-source h2").all_inner_texts()]
    assert rendered and all(rendered), rendered
    missing = [h for h in facts["headings"] if h not in rendered]
    assert missing == [], f"markdown headings not rendered as h1/h2: {missing} (rendered: {rendered})"

    # highlighted code: one Pygments block per code cell, with coloured token spans
    code_blocks = page.locator(".nbsql-source .nbsql-code")
    assert code_blocks.count() == facts["code_cells"] > 0
    assert page.locator(".nbsql-source .nbsql-code span[class]").count() > facts["code_cells"]
    colours = page.evaluate("""() => {
      const block = document.querySelector('.nbsql-source .nbsql-code pre');
      const keyword = document.querySelector('.nbsql-source .nbsql-code .kn, .nbsql-source .nbsql-code .k');
      return [getComputedStyle(block).color, keyword && getComputedStyle(keyword).color];
    }""")
    assert colours[1] is not None and colours[0] != colours[1], f"keywords are not coloured: {colours}"

    # findings, each beside its cell or at the top
    findings = page.locator("li.nbsql-finding")
    if facts["findings"]:
        assert findings.count() == facts["findings"], "findings in the database are missing from the page"
        assert all(re.match(r"NB\d{3}", t.strip()) for t in findings.all_inner_texts())
    else:
        assert findings.count() == 0

    # the page runs no script of its own, and the CSP holds
    assert tab.dialogs == []
    _screenshot(page, "real-notebook-page")


def test_gallery_links_images_to_their_cells(tab, site):
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/gallery?path={urllib.parse.quote(site.real_path)}&database={DB_NAME}"))
    images = _load_images(page, ".nbsql-gallery img")
    assert len(images) == _real_facts(site)["image_outputs"], images
    assert all(img["width"] > 0 for img in images), f"images that did not render: {images}"
    links = page.eval_on_selector_all(".nbsql-figure > a", "links => links.map(a => [a.getAttribute('href'), "
                                      "a.querySelectorAll('img').length])")
    assert len(links) == len(images)
    pattern = re.compile(rf"^/-/nbsql/notebooks/{site.real_id}\?database={DB_NAME}#cell-(\d+)$")
    assert all(pattern.match(href) and count == 1 for href, count in links), links
    _screenshot(page, "gallery-real-notebook")

    # following a figure lands on that cell, which shows the image
    href = links[0][0]
    position = pattern.match(href).group(1)
    page.locator(".nbsql-figure > a").first.click()
    page.wait_for_url(re.compile(rf"#cell-{position}$"))
    cell = page.locator(f"#cell-{position}")
    assert cell.count() == 1
    assert cell.locator(".nbsql-output img").count() >= 1
    cell_images = _load_images(page, f"#cell-{position} .nbsql-output img")
    assert cell_images and all(img["width"] > 0 for img in cell_images)

    # the whole gallery (real and hostile notebooks) also renders
    _goto(page, site.url("/-/nbsql/gallery"))
    everything = _load_images(page, ".nbsql-gallery img")
    assert len(everything) >= len(images) and all(img["width"] > 0 for img in everything), everything
    _screenshot(page, "gallery")


def test_search_finds_a_known_cell(tab, site):
    word, positions = _distinctive_word(site)
    page = tab.page
    _goto(page, site.table("search_cells", q=word))
    rows = page.eval_on_selector_all(
        "table.rows-and-columns tbody tr",
        "rows => rows.map(r => Object.fromEntries(Array.from(r.querySelectorAll('td')).map("
        "td => [Array.from(td.classList).find(c => c.startsWith('col-')), td.innerText.trim()])))")
    matching = [r for r in rows if r.get("col-path") == site.real_path and r.get("col-cell_type") == "code"]
    assert matching, f"{word!r}: no code cell of {site.real_path} found in {rows}"
    assert {int(r["col-cell"]) for r in matching} & positions
    assert page.locator("td.col-source_snippet mark").count() >= 1, "matches are not highlighted"
    _screenshot(page, "search-results")


def test_image_gallery_query_shows_images(tab, site):
    conn = site.connect()
    try:
        source = conn.execute("SELECT c.source FROM output_data d JOIN cells c ON c.id = d.cell "
                              "WHERE d.notebook = ? AND d.mime = 'image/png' AND d.data IS NOT NULL "
                              "ORDER BY c.position LIMIT 1", [site.real_id]).fetchone()[0]
    finally:
        conn.close()
    word = max(re.findall(r"[A-Za-z]{4,}", source), key=len)
    page = tab.page
    _goto(page, site.table("image_gallery", q=word))
    images = _load_images(page, "td.col-image img")
    assert images and all(img["width"] > 0 for img in images), f"{word!r}: {images}"


def test_cells_table_renders_markdown_and_code(tab, site):
    page = tab.page
    _goto(page, site.table("cells", notebook=site.real_id, _sort="position", _size="max"))
    rows = page.eval_on_selector_all(
        "table.rows-and-columns tbody tr",
        """rows => rows.map(r => {
             const type = r.querySelector('td.col-cell_type');
             const source = r.querySelector('td.col-source');
             return {type: type && type.innerText.trim(), text: source ? source.innerText : '',
                     headings: source ? source.querySelectorAll('h1, h2, h3, h4, h5, h6').length : 0,
                     code: source ? source.querySelectorAll('.nbsql-code span[class]').length : 0};
           })""")
    markdown = [r for r in rows if r["type"] == "markdown"]
    code = [r for r in rows if r["type"] == "code"]
    assert markdown and code, rows[:3]
    raw_headings = [r["text"][:80] for r in markdown if re.search(r"^\s*#{1,6}\s", r["text"], re.MULTILINE)]
    assert raw_headings == [], f"markdown shown raw: {raw_headings}"
    assert sum(r["headings"] for r in markdown) >= len(_real_facts(site)["headings"]) > 0
    unhighlighted = [r["text"][:80] for r in code if r["text"].strip() and r["code"] == 0]
    assert unhighlighted == [], f"code cells without highlighting: {unhighlighted}"
    _screenshot(page, "cells-table")


# --------------------------------------------------------------------------------------------
# Every raster format a notebook saves is shown (the hostile notebook's cell 3 holds a JPEG, a
# WebP and a script-carrying SVG, in that order).

IMAGES_CELL = 3


def _output_images(tab, site: Site) -> list[dict]:
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/notebooks/{site.hostile_ids['hostile.ipynb']}?database={DB_NAME}"))
    _load_images(page, f"#cell-{IMAGES_CELL} .nbsql-output img")
    return page.eval_on_selector_all(
        f"#cell-{IMAGES_CELL} .nbsql-output",
        "outputs => outputs.map(o => { const img = o.querySelector('img');"
        " return {text: o.innerText.trim(), src: img ? img.getAttribute('src').slice(0, 22) : null,"
        "         width: img ? img.naturalWidth : 0}; })")


def test_jpeg_and_svg_outputs_render(tab, site):
    outputs = _output_images(tab, site)
    assert len(outputs) == 3, outputs
    jpeg, _webp, svg = outputs
    assert jpeg["src"].startswith("/-/nbsql/images/") and jpeg["width"] > 0, jpeg  # fetched from the server
    assert svg["src"].startswith("/-/nbsql/images/") and svg["width"] > 0, svg  # SVG only ever inside <img>


def test_webp_output_renders_on_the_notebook_page(tab, site):
    _jpeg, webp, _svg = _output_images(tab, site)
    assert webp["src"] is not None and webp["src"].startswith("/-/nbsql/images/") and webp["width"] > 0, webp


def test_webp_blob_renders_in_the_output_data_table(tab, site):
    page = tab.page
    _goto(page, site.table("output_data", notebook=site.hostile_ids["hostile.ipynb"], mime="image/webp"))
    assert page.locator("table.rows-and-columns tbody tr").count() == 1
    images = _load_images(page, "td.col-data img")
    assert len(images) == 1 and images[0]["width"] > 0, page.inner_text("td.col-data")


def test_gallery_survives_a_bad_limit(site):
    try:
        with urllib.request.urlopen(site.url("/-/nbsql/gallery?limit=abc"), timeout=60) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status in (200, 400), status


# --------------------------------------------------------------------------------------------
# Cell dependencies: "needs cells ..." under each Python code cell, and the slice download.


def test_needs_cells_links_lead_to_the_cells_and_the_slice_downloads(tab, site):
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/notebooks/{site.real_id}?database={DB_NAME}"))
    conn = site.connect()
    try:
        analysed = {row[0] for row in conn.execute(
            "SELECT position FROM cells WHERE notebook = ? AND cell_type = 'code' AND parse_error IS NULL AND "
            "(sloc IS NOT NULL OR trim(source) = '')", [site.real_id])}
        needing = {row[0] for row in conn.execute(
            "SELECT DISTINCT c.position FROM cell_dependencies x JOIN cells c ON c.id = x.cell WHERE c.notebook = ?",
            [site.real_id])}
    finally:
        conn.close()
    assert needing, f"{site.real_path}: no cell needs another"
    shown = page.eval_on_selector_all(".nbsql-cell", """cells => cells.map(cell => {
      const needs = cell.querySelector('.nbsql-needs');
      return {id: cell.id, needs: needs ? Array.from(needs.querySelectorAll('a[href^="#cell-"]')).map(
                a => [a.getAttribute('href'), !!document.getElementById(a.getAttribute('href').slice(1))]) : null,
              download: needs ? needs.querySelector('a.nbsql-slice').getAttribute('href') : null,
              visible: needs ? needs.offsetHeight > 0 : false};
    })""")
    by_position = {int(cell["id"].removeprefix("cell-")): cell for cell in shown}
    assert {p for p, cell in by_position.items() if cell["needs"] is not None} == analysed
    assert {p for p, cell in by_position.items() if cell["needs"]} == needing
    assert all(target for cell in shown for _, target in cell["needs"] or []), "a link to a cell not on the page"
    assert all(cell["visible"] for cell in shown if cell["needs"] is not None)
    position = min(needing)
    first = by_position[position]
    assert first["download"] == f"/-/nbsql/notebooks/{site.real_id}/slice/{position}.ipynb?database={DB_NAME}"

    # following a "needs" link lands on that cell
    href = first["needs"][0][0]
    page.locator(f"#cell-{position} .nbsql-needs a[href='{href}']").click()
    page.wait_for_url(re.compile(f"{href}$"))
    assert page.evaluate(f"document.querySelector('{href}').getBoundingClientRect().top") < 100
    _screenshot(page, "notebook-page-needs-cells")

    # the download is a notebook the browser saves, not a page it shows
    with page.expect_download() as download:
        page.locator(f"#cell-{position} a.nbsql-slice").click()
    saved = download.value
    assert saved.suggested_filename.endswith(f"-cell-{position}-slice.ipynb")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", saved.suggested_filename)
    notebook = json.loads(Path(saved.path()).read_text(encoding="utf-8"))
    assert notebook["cells"][-1]["metadata"]["nbsql"]["position"] == position
    assert tab.dialogs == []


def test_the_hostile_notebooks_slice_download_is_safely_named(site):
    named = site.hostile_ids[HOSTILE_FILES[1]]
    conn = site.connect()
    try:
        position = conn.execute("SELECT position FROM cells WHERE notebook = ? AND cell_type = 'code' AND "
                                "parse_error IS NULL AND sloc IS NOT NULL ORDER BY position LIMIT 1",
                                [named]).fetchone()[0]
    finally:
        conn.close()
    url = site.url(f"/-/nbsql/notebooks/{named}/slice/{position}.ipynb?database={DB_NAME}")
    with urllib.request.urlopen(url, timeout=60) as response:
        disposition = response.headers["Content-Disposition"]
        assert response.headers["Content-Type"].startswith("application/x-ipynb+json")
        assert "sandbox" in response.headers["Content-Security-Policy"]
        json.loads(response.read())
    name = re.fullmatch(r'attachment; filename="([A-Za-z0-9._-]+)"', disposition)
    assert name and name.group(1).endswith(f"-cell-{position}-slice.ipynb"), disposition


def test_an_svg_opened_on_its_own_is_a_download_not_a_page(tab, site, beacon):
    """The hostile notebook's script-carrying SVG, navigated to directly: Chromium saves it, runs nothing."""
    conn = site.connect()
    try:
        svg_id = conn.execute("SELECT id FROM output_data WHERE notebook = ? AND mime = 'image/svg+xml' LIMIT 1",
                              [site.hostile_ids["hostile.ipynb"]]).fetchone()[0]
    finally:
        conn.close()
    beacon.clear()
    page = tab.page
    with page.expect_download() as download, contextlib.suppress(sync_api.Error):
        page.goto(site.url(f"/-/nbsql/images/{svg_id}?database={DB_NAME}"))  # "Download is starting"
    assert download.value.suggested_filename == f"image-{svg_id}.svg"
    page.wait_for_timeout(750)
    assert tab.dialogs == [] and beacon.received() == [] and tab.beacon_requests == []


# --------------------------------------------------------------------------------------------
# The explorer (issue 14): one click from a finding, a search hit, a canned query row, a cells
# table row and an NB116 finding to the cell, scrolled into view and marked.


def _lands_on_cell(page, notebook: int, position: int) -> None:
    page.wait_for_url(re.compile(rf"/-/nbsql/notebooks/{notebook}\?database={DB_NAME}#cell-{position}$"))
    page.wait_for_load_state("load")
    cell = page.evaluate(f"""() => {{
      const cell = document.getElementById('cell-{position}');
      const box = cell.getBoundingClientRect();
      return {{top: box.top, target: cell.matches(':target'), outline: getComputedStyle(cell).outlineStyle,
               height: window.innerHeight}};
    }}""")
    assert cell["target"] and cell["outline"] != "none", cell  # marked
    assert 0 <= cell["top"] < cell["height"] - 100, cell  # scrolled into view


def _explorer_finding(site: Site) -> tuple[int, int]:
    conn = site.connect()
    try:
        return conn.execute("SELECT id, position FROM findings WHERE notebook = ? AND position IS NOT NULL "
                            "AND rule != 'NB116' ORDER BY id LIMIT 1", [site.explorer_id]).fetchone()
    finally:
        conn.close()


def test_one_click_from_a_finding_to_its_cell(tab, site):
    finding, position = _explorer_finding(site)
    page = tab.page
    _goto(page, site.table("findings", notebook=site.explorer_id, _sort="id"))
    page.locator(f"tr:has(a[href='/{DB_NAME}/findings/{finding}']) td.col-position a").click()
    _lands_on_cell(page, site.explorer_id, position)
    _goto(page, site.url(f"/{DB_NAME}/findings/{finding}"))  # the finding's own row page
    page.locator("td.col-position a").click()
    _lands_on_cell(page, site.explorer_id, position)


def test_one_click_from_a_search_hit_to_its_cell(tab, site):
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/search?q=range&type=code&path={EXPLORER_FILE}&database={DB_NAME}"))
    page.locator(".nbsql-result h2 a").first.click()
    _lands_on_cell(page, site.explorer_id, 1)


def test_one_click_from_a_canned_query_row_to_its_cell(tab, site):
    page = tab.page
    _goto(page, site.table("search_cells", q="json"))
    row = page.locator(f"tr:has(td.col-path:text-is('{EXPLORER_FILE}'))").first
    row.locator("td.col-cell a").click()
    _lands_on_cell(page, site.explorer_id, 3)


def test_one_click_from_a_cells_table_row_to_its_cell(tab, site):
    page = tab.page
    _goto(page, site.table("cells", notebook=site.explorer_id, _sort="position"))
    page.locator("table.rows-and-columns tbody tr").nth(2).locator("td.col-position a").click()
    _lands_on_cell(page, site.explorer_id, 2)


def test_one_click_from_an_nb116_finding_to_the_copy(tab, site):
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/notebooks/{site.explorer_id}?database={DB_NAME}"))
    page.locator(f"#cell-4 li.nbsql-finding a:text-is('{EXPLORER_COPY}')").click()
    _lands_on_cell(page, site.copy_id, 4)
    page.locator("li.nbsql-finding a[href*='/-/nbsql/rules/NB116']").first.click()  # the rule's page
    page.wait_for_url(re.compile(rf"/-/nbsql/rules/NB116\?database={DB_NAME}$"))
    assert page.inner_text("h1").startswith("NB116")


def test_math_and_lists_render_without_script(tab, site):
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/notebooks/{site.explorer_id}?database={DB_NAME}"))
    shown = page.evaluate("""() => {
      const box = el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
      const styles = css => Array.from(document.querySelectorAll(css), li => getComputedStyle(li).listStyleType);
      const maths = Array.from(document.querySelectorAll('#cell-0 math'));
      return {maths: maths.map(m => [m.getAttribute('display'), ...box(m)]),
              fraction: box(document.querySelector('#cell-0 math[display=block] mfrac')),
              line: parseFloat(getComputedStyle(document.querySelector('#cell-0 p')).lineHeight),
              bullets: styles('#cell-0 ul > li'), numbers: styles('#cell-0 ol > li'),
              text: document.querySelector('#cell-0').innerText};
    }""")
    assert [m[0] for m in shown["maths"]] == ["inline", "block"] and all(w > 0 and h > 0 for _, w, h in shown["maths"])
    assert shown["fraction"][1] > shown["line"], shown  # a real fraction: numerator over denominator
    assert shown["bullets"] == ["disc", "disc"] and shown["numbers"] == ["decimal", "decimal"], shown
    assert "$" not in shown["text"] and "\\frac" not in shown["text"]
    assert tab.dialogs == []
    _screenshot(page, "notebook-page-math-and-lists")


def test_a_rule_page_highlights_its_examples(tab, site):
    page = tab.page
    _goto(page, site.url(f"/-/nbsql/rules/NB102?database={DB_NAME}"))
    assert page.locator("h2").all_inner_texts()[:4] == ["What it does", "Why is this bad?", "Example", "Use instead"]
    colours = page.evaluate("""() => Array.from(document.querySelectorAll('pre.nbsql-code span[class]'))
                               .map(span => getComputedStyle(span).color)""")
    assert len(set(colours)) > 1, colours
    _screenshot(page, "rule-page")


def test_the_dashboard_draws_its_charts(tab, site):
    page = tab.page
    _goto(page, site.url("/-/nbsql/"))
    widths = page.evaluate("() => Array.from(document.querySelectorAll('.nbsql-bar')).map(b => b.offsetWidth)")
    heights = page.evaluate("() => Array.from(document.querySelectorAll('.nbsql-column-bar')).map(b => b.offsetHeight)")
    assert widths and max(widths) > 50 and len(heights) == 10 and max(heights) > 50, (widths, heights)
    assert page.locator("h2").all_inner_texts() == ["Health scores", "Most frequent rules", "Most imported packages",
                                                    "Notebooks by language", "Notebooks by kernel", "Execution order",
                                                    "Largest notebooks"]
    _screenshot(page, "dashboard")


# --------------------------------------------------------------------------------------------
# Data first (issue 14 point 10): on the corpus, at 1400x1000, the first row is in view.


@pytest.fixture(scope="module")
def corpus_site(corpus_db, tmp_path_factory):
    log = tmp_path_factory.mktemp("corpus-site") / "serve.log"
    proc, base = _start_server(corpus_db, log)
    try:
        yield base + "/" + corpus_db.stem
    finally:
        _stop_server(proc)


@pytest.mark.parametrize("table", ["notebooks", "cells", "findings"])
def test_the_first_row_is_in_view_without_scrolling(browser, corpus_site, table):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        _goto(page, f"{corpus_site}/{table}")
        first = page.evaluate("""() => { const r = document.querySelector('table.rows-and-columns tbody tr')
                                          .getBoundingClientRect(); return [r.top, r.height]; }""")
        assert first[0] + min(first[1], 40) <= 1000, f"{table}: the first row starts at {first[0]:.0f} px"
        docs = page.locator("details.nbsql-column-docs dl")
        assert not docs.is_visible()
        page.locator("details.nbsql-column-docs summary").click()  # one click away
        assert docs.is_visible() and docs.locator("dt").count() >= 5
        _screenshot(page, f"data-first-{table}")
    finally:
        context.close()


def test_code_has_a_readable_width_on_a_row_page(tab, site):
    """A cell's row page has 25 columns: its source once wrapped letter by letter in a 3-character column."""
    conn = site.connect()
    try:
        cell = conn.execute("SELECT id FROM cells WHERE notebook = ? AND cell_type = 'code' AND line_count > 3 "
                            "ORDER BY position LIMIT 1", [site.real_id]).fetchone()[0]
    finally:
        conn.close()
    page = tab.page
    _goto(page, site.url(f"/{DB_NAME}/cells/{cell}"))
    width = page.evaluate("document.querySelector('td.col-source').getBoundingClientRect().width")
    characters = page.evaluate("""() => { const pre = document.querySelector('td.col-source pre');
      const probe = document.createElement('span'); probe.textContent = 'x'.repeat(40); pre.appendChild(probe);
      const w = probe.getBoundingClientRect().width; probe.remove(); return w / 40; }""")
    assert width / characters >= 40, f"the source column is {width:.0f} px, {width / characters:.0f} characters"
    _screenshot(page, "cells-row-page")
