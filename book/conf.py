"""The course as a website: `make book` (sphinx-build -b html book out/book).

Sphinx with myst-nb, because it builds offline from the outputs stored in the notebooks (no notebook is
run), is pure Python from PyPI (no Node.js, no theme fetched at build time), is maintained by the
Executable Books project, and builds the whole course in well under a minute. book/course is a link to
../course, so every notebook there is a page, in the order of its number.
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

html_theme = "alabaster"
html_theme_options = {"page_width": "1180px", "sidebar_width": "240px", "show_relbars": True}
html_title = "minivit: vision transformers you can read"
html_show_sourcelink = False
html_copy_source = False
html_favicon = "favicon.svg"  # a page without one makes the browser log a 404
copyright = "the minivit authors, MIT licence"
