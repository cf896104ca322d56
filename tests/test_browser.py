"""The built book, opened page by page in headless Chromium with the network cut off.

Runs after the book is built (``.ci/run`` calls ``pytest -m browser``; plain ``make test``
deselects it, since there is no HTML yet). For every page: no console error or uncaught exception,
no request leaving localhost, every image decoded (naturalWidth > 0), every math element typeset
by the MathJax copy in ``_static`` (no raw TeX left, no TeX error), every internal link and
#fragment resolving.
A full-page screenshot of each page goes to ``_build/browser/`` for CI to keep.

Environment: ``RNNBOOK_HTML`` (default ``_build/html``), ``CHROMIUM`` (default: ``chromium`` on
PATH, Debian's package).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("RNNBOOK_HTML", ROOT / "_build" / "html"))
SHOTS = ROOT / "_build" / "browser"
PAGES = sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html") if "_static" not in p.parts)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").is_file():
        raise FileNotFoundError(f"no built book at {HTML}: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not exe:
        raise FileNotFoundError("chromium not found (apt-get install chromium, or set CHROMIUM)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@functools.cache
def _ids(page_path: str) -> frozenset[str]:
    text = (HTML / page_path).read_text(encoding="utf-8")
    return frozenset(re.findall(r'\bid="([^"]+)"', text))


def test_pages_were_built():
    assert "book/preliminaries.html" in PAGES and len(PAGES) >= 5


@pytest.mark.parametrize("page_path", PAGES)
def test_page_in_browser(page_path, server, browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    external, problems = [], []

    def route(r):
        if urlparse(r.request.url).hostname == "127.0.0.1" or r.request.url.startswith("data:"):
            r.continue_()
        else:  # the network is unavailable to the book
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(f"{server}/{page_path}", wait_until="networkidle")

    n_math = page.evaluate("() => document.querySelectorAll('.math').length")
    if n_math:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
        src = page.evaluate(
            "() => Array.from(document.scripts).map(s => s.src).filter(s => /mathjax/i.test(s))")
        assert src and all(s.startswith(server) and "/_static/mathjax/es5/" in s for s in src), src
        raw = page.evaluate("""() => Array.from(document.querySelectorAll('.math'))
            .filter(e => !e.querySelector('mjx-container') && e.tagName !== 'MJX-CONTAINER')
            .map(e => e.textContent.slice(0, 60))""")
        assert raw == [], f"math left untypeset: {raw[:5]}"
        assert page.evaluate("() => document.querySelectorAll('mjx-container').length") >= n_math
        # a TeX syntax error renders as <mjx-merror>; an undefined macro (MathJax's noundefined
        # extension) renders as its own name in red, so a backslash in typeset text is an error
        tex_errors = page.evaluate(r"""() => Array.from(document.querySelectorAll('mjx-container'))
            .filter(e => e.querySelector('mjx-merror') || e.textContent.includes('\\'))
            .map(e => e.textContent.slice(0, 60))""")
        assert tex_errors == [], f"TeX errors: {tex_errors}"

    broken = page.evaluate("""() => Array.from(document.images)
        .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)""")
    assert broken == [], f"images not loaded: {broken}"

    for href in set(page.evaluate("() => Array.from(document.links).map(a => a.href)")):
        url, frag = urldefrag(href)
        if not url.startswith(server):
            continue
        target = urlparse(url).path.lstrip("/") or "index.html"
        if target.endswith("/"):
            target += "index.html"
        if not (HTML / target).is_file():
            problems.append(f"broken link: {href}")
        elif frag and target.endswith(".html") and frag not in _ids(target):
            problems.append(f"missing anchor: {href}")

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (page_path.replace("/", "__") + ".png")), full_page=True)
    context.close()
    assert external == [], f"requests to the network: {external}"
    assert problems == [], "\n".join(problems)
