"""Local Sphinx extension for the book.

1. Offline MathJax: serve MathJax 3 from the build itself (the PyPI package django-static-mathjax
   ships MathJax 3.2.2 as a plain ``mathjax`` package) instead of the default CDN.
2. ``static/rnnbook.css``: the book's few style adjustments.
3. A guard: an ``intersphinx_mapping`` (a download at build time) is an error.
4. sphinx-thebe (always loaded by Jupyter Book 1) is stripped from every page: the book has no
   live-code buttons, its script points at a CDN, and when myst-nb re-reads a page (to fill the
   execution table) it injects its config script twice, a JavaScript redeclaration error.
5. A favicon and the theme's default colour mode, so browsers neither request a missing
   /favicon.ico nor log "invalid theme mode".
6. Every executed chapter is downloadable as .ipynb (with outputs) from the page's download menu;
   the theme offers that only when a launch service is configured, which an offline book has not.
7. ``RNNBOOK_EXECUTE=force|cache|off`` overrides ``execute.execute_notebooks`` for one build, so CI
   can force execution without a second config file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_MODES = ("force", "cache", "auto", "off")


def _mathjax_es5() -> Path:
    import mathjax  # from django-static-mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise RuntimeError(f"MathJax not found under {es5}; is django-static-mathjax installed?")
    return es5


def _config_inited(app, config):
    # The book builds with no network: an intersphinx inventory would be a download.
    if getattr(config, "intersphinx_mapping", None):
        raise ValueError("intersphinx_mapping is set, but the book must build offline")
    _mathjax_es5()
    config.mathjax_path = "mathjax/es5/tex-mml-chtml.js"
    static = Path(__file__).parent / "static"
    config.html_static_path.append(str(static))
    config.html_favicon = str(static / "favicon.svg")
    config.html_context = {**(config.html_context or {}), "default_mode": "auto"}
    mode = os.environ.get("RNNBOOK_EXECUTE", "").strip()
    if mode:
        if mode not in _MODES:
            raise ValueError(f"RNNBOOK_EXECUTE={mode!r}; valid: {', '.join(_MODES)}")
        config.nb_execution_mode = mode


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        # The fonts and lazily loaded components must sit beside the entry script.
        shutil.copytree(_mathjax_es5(), Path(app.outdir) / "_static" / "mathjax" / "es5",
                        dirs_exist_ok=True)


def _strip_thebe(app, pagename, templatename, context, doctree):
    def keep(asset) -> bool:
        name = str(getattr(asset, "filename", asset) or "")
        body = str(getattr(asset, "attributes", {}).get("body", ""))
        return "thebe" not in name and "THEBE" not in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if keep(a)]


def _offer_ipynb(app, pagename, templatename, context, doctree):
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if app.builder.format != "html" or not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"  # read by the theme's download buttons


def setup(app):
    app.connect("config-inited", _config_inited)
    app.add_css_file("rnnbook.css")
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _strip_thebe, priority=900)
    app.connect("html-page-context", _offer_ipynb, priority=500)  # before the theme's buttons
    return {"parallel_read_safe": True, "parallel_write_safe": True}
