"""`make book`: the course as a website built from the stored outputs (no notebook is run), checked in a
real browser (headless Chromium, as in test_browser.py): every page loads without console errors, every
image loads, every internal link resolves, and the pages follow the course order."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import pytest

from course_helpers import CHROMIUM, NO_CHROMIUM, ROOT, SHOTS, free_port

SPHINX = Path(sys.executable).with_name("sphinx-build")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The website, built as `make book` builds it, into a temporary folder; served on localhost."""
    out = tmp_path_factory.mktemp("book")
    subprocess.run([str(SPHINX), "-q", "-W", "-b", "html", "book", str(out)], cwd=ROOT, check=True)
    handler = functools.partial(QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield out, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_make_book_builds_the_site_with_sphinx():
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "book"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert "sphinx-build -q -b html book out/book" in dry_run


def test_every_notebook_is_a_page_in_course_order(site):
    out, _ = site
    pages = [p.stem for p in sorted((ROOT / "course").glob("*.ipynb"))]
    assert [p.stem for p in sorted((out / "course").glob("*.html"))] == pages
    index = (out / "index.html").read_text()
    positions = [index.index(f'href="course/{page}.html"') for page in pages]
    assert positions == sorted(positions)  # the table of contents in course order
    for before, after in zip(pages, pages[1:]):  # and "next" leads on in that order
        assert f'href="{after}.html"' in (out / "course" / f"{before}.html").read_text()


GUIDES = ["instructor", "testing", "package"]  # the README's links for instructors and contributors, as pages


def test_the_readmes_guides_are_pages_after_the_course(site):
    out, _ = site
    index = (out / "index.html").read_text()
    last_notebook = index.index(f'href="course/{sorted((ROOT / "course").glob("*.ipynb"))[-1].stem}.html"')
    positions = [index.index(f'href="{guide}.html"') for guide in GUIDES]
    assert last_notebook < positions[0] and positions == sorted(positions)
    assert "nh heads" in (out / "package.html").read_text()  # the README's glossary, included
    assert "<table" in (out / "instructor.html").read_text()  # e.g. the helpers each task may call


def test_explorers_saved_views_are_pictures_not_widget_text(site):
    out, _ = site
    for notebook in sorted((ROOT / "course").glob("*.ipynb")):
        text = notebook.read_text()
        if '"image/png"' in text and "application/vnd.jupyter.widget-view+json" in text and "Explorer(" in text:
            html = (out / "course" / f"{notebook.stem}.html").read_text()
            if "Explorer(children=" in html:
                pytest.fail(f"{notebook.name}: an explorer shows as text on its page (re-run the notebook)")


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=NO_CHROMIUM)
def test_every_page_loads_its_images_and_links_in_chromium(site, page):
    out, base = site
    pytest.importorskip("playwright.sync_api", reason='Playwright is missing: pip install -e ".[test]"')
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED"  # cut short by the next page
            else problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    pages = [base] + [f"{base}course/{p.name}" for p in sorted((out / "course").glob("*.html"))]
    for url in pages + [f"{base}{guide}.html" for guide in GUIDES]:
        page.goto(url, wait_until="load")
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        problems += [f"{url}: image does not load: {src[:80]}" for src in broken]
        ids = set(page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)"))
        for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"):
            if href.startswith(("http:", "https:", "mailto:")):
                continue  # the site links out only to papers and projects: not ours to check offline
            target, anchor = urldefrag(urljoin(url, href))
            path = out / target.removeprefix(base)
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                problems.append(f"{url}: link to a missing page: {href}")
            elif anchor and target == urldefrag(url)[0] and anchor not in ids:
                problems.append(f"{url}: link to a missing anchor: {href}")
        if url == base:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / "book_index.png")
    page.goto(pages[-1])
    page.screenshot(path=SHOTS / "book_last_page.png", full_page=False)
    assert not problems, "\n".join(problems[:20])
