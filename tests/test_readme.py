"""The README is a learner's front door: its first screen holds the CPU-only PyTorch step, then the two commands;
every file and section it links to exists; its picture is light; the guides it links to are pages of the website."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from minivit.environment import CPU_INDEX

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FIRST_SCREEN = README.splitlines()[:60]
CPU_STEP = ["python3 -m venv .venv", f".venv/bin/pip install torch torchvision --index-url {CPU_INDEX}"]
TWO_COMMANDS = ["make course     # set everything up, then open JupyterLab on the course",
                "make test       # set everything up, then run every test"]
GUIDES = ["book/instructor.md", "book/testing.md", "book/package.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")  # [text](target), ![alt](target), <img src=...>


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def links(markdown: str) -> list[str]:
    return [link or image for link, image in LINK.findall(markdown)]


def anchors(markdown: str) -> set[str]:
    return {slug(h) for h in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)}


def test_the_first_screen_holds_the_cpu_only_step_then_the_two_commands():
    lines = [line.strip() for line in FIRST_SCREEN]
    for command in CPU_STEP + TWO_COMMANDS:
        assert command in lines, f"not in the README's first 60 lines: {command}"
    order = [lines.index(c) for c in CPU_STEP + TWO_COMMANDS]
    assert order == sorted(order), "the CPU-only step must come before the two commands"
    cpu_step = lines.index(CPU_STEP[0])
    assert "Linux without an NVIDIA GPU" in " ".join(lines[cpu_step - 6:cpu_step]), "the step says whom it is for"


def test_the_first_screen_says_what_the_first_run_does_and_how_to_stop():
    screen = " ".join(FIRST_SCREEN)
    assert "course/00_getting_started.ipynb" in screen and (ROOT / "course/00_getting_started.ipynb").is_file()
    assert "`mywork/`" in screen and "Ctrl-C" in screen
    copied = len(list((ROOT / "course").glob("*.ipynb"))) + len(list((ROOT / "exercises").glob("*.ipynb")))
    assert f"copies the course's {copied} notebooks into `mywork/`" in re.sub(r"\s+", " ", screen)
    for guide in GUIDES:  # a teacher or a contributor finds their page from the first screen too
        assert f"]({guide})" in screen, guide


def test_every_file_and_section_the_readme_links_to_exists():
    targets = links(README)
    assert set(GUIDES) <= set(targets)
    for target in targets:
        if target.startswith(("http:", "https:")):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (ROOT / path).exists(), f"README links to a missing file: {target}"
        if anchor:
            linked = README if not path else (ROOT / path).read_text()
            assert anchor in anchors(linked), f"README links to a missing section: {target}"


def test_the_guides_link_only_to_what_exists_and_are_pages_of_the_website():
    index = (ROOT / "book" / "index.md").read_text()
    toctrees = "\n".join(re.findall(r"```\{toctree\}(.*?)```", index, re.DOTALL))
    for guide in GUIDES:
        page = ROOT / guide
        assert re.search(rf"^{Path(guide).stem}$", toctrees, re.MULTILINE), f"{guide} is not in book/index.md"
        for target in links(page.read_text()):
            if not target.startswith(("http:", "https:")):
                assert (page.parent / target.partition("#")[0]).exists(), f"{guide} links to a missing file: {target}"


def test_the_picture_is_a_small_png():
    picture = ROOT / "book/images/shifted_windows.png"
    assert '<img src="book/images/shifted_windows.png"' in README.split("## Start here")[0]
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.stat().st_size < 150_000


def test_the_sections_others_point_to_are_there():
    assert "where-your-work-lives" in anchors(README)  # environment.yml and notebook 00 point to it
    assert '"Where your work lives"' in (ROOT / "environment.yml").read_text()
    # Notebook 00 sends the learner to the README's glossary; the package's page includes it from there.
    notebook = nbformat.read(ROOT / "course/00_getting_started.ipynb", as_version=4)
    assert any("glossary in the repository's top-level `README.md`" in cell.source for cell in notebook.cells)
    glossary = README[README.index("## Glossary"):]
    assert "<!-- glossary -->" in glossary and "<!-- /glossary -->" in glossary
    assert "nh heads" in glossary.split("<!-- /glossary -->")[0]
    assert ":start-after: <!-- glossary -->" in (ROOT / "book/package.md").read_text()
