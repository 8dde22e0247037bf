"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) that make no request outside the server.

FastAPI's own pages load their scripts from a CDN. These serve the bundles that the
``fastapi-offline`` package ships, from ``/static-offline-docs/``, and take out what would
still go outside: ReDoc's sidebar draws the Redocly logo from ``cdn.redoc.ly`` (replaced by
an inline image), Swagger UI sends the spec to ``validator.swagger.io`` when the server is
not on localhost (``validatorUrl: null``), and neither page links web fonts or a remote
favicon.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

if TYPE_CHECKING:
    from fastapi import FastAPI

ASSETS = "/static-offline-docs"
_TYPES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
#: Everything in a bundle that would make the browser fetch from outside, and its local stand-in.
_OUTSIDE = {
    "redoc.standalone.js": [(b"https://cdn.redoc.ly/redoc/logo-mini.svg",
                             b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='12' "
                             b"height='12'/%3E")],
}


def install(api: FastAPI) -> None:
    """Add ``/docs``, ``/docs/oauth2-redirect``, ``/redoc`` and their assets to ``api`` (built with
    ``docs_url=None, redoc_url=None``)."""
    openapi_url = api.openapi_url or "/openapi.json"
    oauth2 = api.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @api.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{api.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2}", swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css", swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None, **(api.swagger_ui_parameters or {})})

    @api.get(oauth2, include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @api.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{openapi_url}", title=f"{api.title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS}/favicon.png", with_google_fonts=False)

    @api.get(ASSETS + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in _TYPES:
            raise HTTPException(404, "Not Found")
        return Response(_asset(name), media_type=_TYPES[name], headers={"Cache-Control": "public, max-age=86400"})


@functools.cache
def _asset(name: str) -> bytes:
    """A bundle of ``fastapi-offline``, with every outside URL in :data:`_OUTSIDE` replaced."""
    import fastapi_offline

    data = (Path(fastapi_offline.__file__).parent / "static" / name).read_bytes()
    for remote, local in _OUTSIDE.get(name, []):
        data = data.replace(remote, local)
    return data
