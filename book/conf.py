"""The course as a website: `make book` (sphinx-build -b html book out/book).

Sphinx with myst-nb, because it builds offline from the outputs stored in the notebooks (no notebook is
run), is pure Python from PyPI (no Node.js, no theme fetched at build time, nothing fetched when a page is
viewed), is maintained by the Executable Books project, and builds the whole course in well under a minute.
book/course is a link to ../course, so every notebook there is a page, in the order of its number.
"""

project = "minivit"
author = "the minivit authors"
extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["course/results", "course/README.md", "**/.ipynb_checkpoints"]

nb_execution_mode = "off"  # the stored outputs, as nbval checks them
# An explorer's output holds a widget and a PNG of its view: a page without a kernel shows the PNG, and
# loads no widget JavaScript from the network.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}
myst_enable_extensions = ["html_image"]

# The book theme of Jupyter Book (Executable Books, on PyPI): its fonts, icons and scripts ship in the package, so
# a page fetches nothing from the network; Sphinx's own search runs in the page from searchindex.js. No download
# button: its "source file" would link to the sources this site does not copy (html_copy_source).
html_theme = "sphinx_book_theme"
html_theme_options = {"show_navbar_depth": 1, "navigation_with_keys": False, "use_download_button": False}
# Light by default, as the figures are drawn (without a mode stored, the theme logs an error otherwise).
html_context = {"default_mode": "light"}
html_static_path = ["_static"]
html_css_files = ["minivit.css"]  # a content column that holds the code lines; figures that fit a phone
html_title = "minivit: vision transformers you can read"
html_show_sourcelink = False
html_copy_source = False
html_favicon = "favicon.svg"  # a page without one makes the browser log a 404
copyright = "the minivit authors, MIT licence"
