"""`make book`: the course as a website built from the stored outputs (no notebook is run), checked in a
real browser (headless Chromium, as in test_browser.py): every page loads without console errors, every
image loads, every internal link resolves, and the pages follow the course order. The pages are as readable as
the notebooks: at 1440 x 900 no code or output block needs sideways scrolling and a 100-character code line fits
on one line, no figure is taller than the window; at 420 px (a phone) no page is wider than the screen; the
search finds "window partition"; every explorer's saved view has text at least 10 px tall at 1440 x 900; and
nothing is fetched from the network."""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import nbformat
import pytest
from PIL import Image

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
    page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:"))  # the theme works offline
            else problems.append(f"fetched from outside the site: {r.url}"))
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


def _pages(out: Path, base: str) -> list[str]:
    """Every page of the site: the index, the notebooks in course order, the guides."""
    return ([base] + [f"{base}course/{p.name}" for p in sorted((out / "course").glob("*.html"))]
            + [f"{base}{guide}.html" for guide in GUIDES])


def test_no_page_links_or_loads_a_script_or_style_from_the_network(site):
    out, _ = site
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//", re.IGNORECASE)
    for html in sorted(out.rglob("*.html")):
        found = remote.search(html.read_text())
        assert not found, f"{html.relative_to(out)} loads from the network: {found.group(0)}"


# Each visible code or output block: its scroll width against its width, and whether a 100-character line of its
# font fits in it on one line.
MEASURE_BLOCKS = """() => [...document.querySelectorAll('div.cell_input pre, div.cell_output pre, div.highlight pre')]
  .filter(pre => pre.offsetParent !== null).map(pre => {
    const style = getComputedStyle(pre), line = document.createElement('span');
    line.style.whiteSpace = 'pre';
    line.textContent = 'x'.repeat(100);
    pre.appendChild(line);
    const lineWidth = line.getBoundingClientRect().width;
    line.remove();
    const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return {scroll: pre.scrollWidth, width: pre.clientWidth, fits100: lineWidth <= inner + 0.5,
            text: pre.textContent.slice(0, 60)};
  })"""
# Blocks allowed to scroll sideways at 1440 px, as (page, first characters of the block): reason. None is needed:
# a line longer than the column (about 113 characters of code) wraps where it has a space.
WIDE_BLOCKS: dict[tuple[str, str], str] = {}


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=NO_CHROMIUM)
def test_code_and_outputs_fit_the_column_at_1440(site, page):
    out, base = site
    overflowing, narrow = [], []
    for url in _pages(out, base):
        page.goto(url, wait_until="load")
        name = Path(urlsplit(url).path).stem or "index"
        for block in page.evaluate(MEASURE_BLOCKS):
            if block["scroll"] > block["width"] + 1 and (name, block["text"][:20]) not in WIDE_BLOCKS:
                overflowing.append(f"{name}: {block['scroll']} px in {block['width']} px: {block['text']!r}")
            if not block["fits100"]:
                narrow.append(f"{name}: {block['width']} px: {block['text']!r}")
        if name.startswith("04_"):
            page.evaluate("document.querySelector('div.cell_output pre').scrollIntoView()")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / "book_04_at_1440.png")
    assert not overflowing, "blocks that scroll sideways at 1440 x 900:\n" + "\n".join(overflowing[:20])
    assert not narrow, "blocks too narrow for a 100-character line:\n" + "\n".join(narrow[:20])


# Stored figures allowed to be taller than a 900 px window, as (page, first line of the cell): reason. None today:
# a figure scaled down to the window by CSS would have unreadable labels, so a tall figure is redrawn instead.
TALL_FIGURES: dict[tuple[str, str], str] = {}


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=NO_CHROMIUM)
def test_no_figure_is_taller_than_the_window_at_1440(site, page):
    out, base = site
    tall = []
    for url in _pages(out, base):
        page.goto(url, wait_until="load")
        name = Path(urlsplit(url).path).stem or "index"
        for height, cell in page.evaluate("""() => [...document.images].map(img => {
              const cell = img.closest('div.cell'), code = cell && cell.querySelector('div.cell_input pre');
              return [img.getBoundingClientRect().height, code ? code.textContent.split('\\n')[0] : img.alt];
            })"""):
            if height > page.viewport_size["height"] and (name, cell) not in TALL_FIGURES:
                tall.append(f"{name}: {height:.0f} px tall: {cell}")
    assert not tall, "figures taller than the 900 px window at 1440 px:\n" + "\n".join(tall)


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=NO_CHROMIUM)
def test_no_page_is_wider_than_a_phone_screen(site, browser):
    out, base = site
    context = browser.new_context(viewport={"width": 420, "height": 900})
    page = context.new_page()
    wide = []
    try:
        for url in _pages(out, base):
            page.goto(url, wait_until="load")
            width = page.evaluate("document.documentElement.scrollWidth")
            images = page.evaluate("Math.max(0, ...[...document.images].map(i => i.getBoundingClientRect().right))")
            if width > 420 or images > 420:
                wide.append(f"{url.removeprefix(base) or 'index'}: page {width} px, figures up to {images:.0f} px")
            if "/04_" in url:
                page.evaluate("document.querySelector('div.cell_output img').scrollIntoView()")
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SHOTS / "book_04_at_420.png")
    finally:
        context.close()
    assert not wide, "pages wider than a 420 px screen:\n" + "\n".join(wide)


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=NO_CHROMIUM)
def test_search_finds_window_partition(site, page):
    """As a learner searches: the search field (Ctrl+K), then Sphinx's own search, in the page, offline."""
    _, base = site
    page.goto(base, wait_until="load")
    page.keyboard.press("Control+k")
    page.keyboard.type("window partition")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search.html?q=window+partition*")
    page.wait_for_selector("#search-results ul.search li a")
    page.wait_for_function("document.querySelector('#search-results').textContent.includes('Search finished')")
    found = page.evaluate("[...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
    assert any(href.endswith("course/04_window_shift_mask.html") for href in found), found


def explorer_outputs(notebook: Path) -> int:
    """How many outputs of the notebook are an explorer's: a widget with a PNG of its view beside it."""
    return sum("application/vnd.jupyter.widget-view+json" in output.get("data", {}) and "image/png" in output["data"]
               for cell in nbformat.read(notebook, 4).cells if cell.cell_type == "code" for output in cell.outputs)


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=NO_CHROMIUM)
def test_explorers_saved_views_have_text_at_least_10_px_at_1440(site, page):
    """Each explorer's saved view (a PNG: the widget's pictures as a sheet, see minivit.widgets) as Chromium shows
    it at 1440 x 900: its smallest text is at least MIN_TEXT_PX = 10 CSS pixels tall.

    A PNG has no text to measure in the page, so the height is worked out from what the PNG was made with:
    minivit.widgets records in it (tEXt chunks) the font size in points of the smallest text matplotlib drew and
    the dpi it drew at. That text is points * dpi / 72 PNG pixels tall, and the page shows each PNG pixel as
    (displayed width / natural width) CSS pixels, both measured in Chromium from the <img> element. An explorer
    whose PNG records nothing fails: its notebook was run before the record existed (re-run it)."""
    from minivit.widgets import DPI_KEY, FONT_KEY, MIN_TEXT_PX

    out, base = site
    notebooks = {p.stem: explorer_outputs(p) for p in sorted((ROOT / "course").glob("*.ipynb"))}
    small, missing, measured = [], [], {}
    for name, count in notebooks.items():
        if not count:
            continue
        page.goto(f"{base}course/{name}.html", wait_until="load")
        found = 0
        for image in page.evaluate("""() => [...document.querySelectorAll('div.cell_output img')].map(img => {
              const code = img.closest('div.cell').querySelector('div.cell_input pre');
              return {src: img.src, natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
                      cell: code ? code.textContent.trim().split('\\n').pop() : img.alt};
            })"""):
            png = Image.open(out / unquote(urlsplit(image["src"]).path).lstrip("/"))
            if "explore_" not in image["cell"] and FONT_KEY not in png.text:
                continue  # a figure, not an explorer's view
            found += 1
            if FONT_KEY not in png.text or DPI_KEY not in png.text:
                missing.append(f"{name}: {image['cell']}")
                continue
            points, dpi = float(png.text[FONT_KEY]), float(png.text[DPI_KEY])
            height = points * dpi / 72 * image["shown"] / image["natural"]
            measured[f"{name}: {image['cell']}"] = height
            if height < MIN_TEXT_PX - 0.05:  # whole pixels: a PNG 1799 px wide shown 899.5 px wide
                small.append(f"{name}: {image['cell']}: {points:g} pt at {dpi:g} dpi, {image['natural']} px shown "
                             f"{image['shown']:.0f} px wide: {height:.1f} px")
        if found != count:
            missing.append(f"{name}: {count} explorers stored, {found} explorer pictures on the page")
        if name.startswith("07_") and found:
            explorer = page.locator("div.cell_input", has_text="explore_")  # the cell that makes 07's explorer
            view = page.locator("div.cell", has=explorer).locator("div.cell_output img").first
            view.scroll_into_view_if_needed()
            SHOTS.mkdir(parents=True, exist_ok=True)
            view.screenshot(path=SHOTS / "book_07_explorer.png")
    assert measured or missing, "no explorer found"
    assert not small and not missing, (
        f"explorers with text under {MIN_TEXT_PX:g} px at 1440 x 900:\n" + "\n".join(small)
        + "\nexplorer pictures without a record of their font size and dpi:\n" + "\n".join(missing))
