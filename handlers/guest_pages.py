"""HTML pages guests open from our messages: templates, answers, and their one stylesheet.

The templates and ``pages.css`` live in ``handlers/pages/`` and ship in the
wheel with the package. The security headers middleware forbids inline
styles and scripts, so everything a page looks like comes from the
stylesheet route; nothing on these pages needs JavaScript.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined

STYLESHEET_PATH = "/static/pages.css"

_ENVIRONMENT = Environment(
    loader=PackageLoader("handlers", "pages"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(template: str, *, status: int = 200, **context: Any) -> web.Response:
    body = _ENVIRONMENT.get_template(template).render(stylesheet=STYLESHEET_PATH, **context)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    # Pages name the guest's organisation and wedding: no shared cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


@cache
def _stylesheet() -> bytes:
    return (files("handlers") / "pages" / "pages.css").read_bytes()


async def stylesheet(request: web.Request) -> web.Response:
    response = web.Response(body=_stylesheet(), content_type="text/css", charset="utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
