"""`/docs` (Swagger UI) and `/redoc` that work on a hospital network without internet access.

FastAPI's own pages load their scripts from a CDN. The assets here come from the `fastapi-offline` package
(Swagger UI and ReDoc bundles, pinned with it) and are served by the hub itself, behind the same
authentication as every other route (`dependencies`). The pages carry no inline script, so the only
loosening of the content security policy they need is for styles the two bundles set at run time and
ReDoc's web worker (`DOCS_CSP`, applied to these paths by `docs_csp_overrides`).

Create the app with `docs_url=None, redoc_url=None, openapi_url=None` and call `mount_offline_docs(app, ...)`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, params
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape

ASSET_PACKAGE = "fastapi_offline"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def docs_csp_overrides(
    docs_url: str = "/docs", redoc_url: str = "/redoc", assets_url: str = "/docs-assets"
) -> dict[str, str]:
    """Path prefix -> CSP for `SecurityHeadersMiddleware(csp_overrides=...)`."""
    return {docs_url: DOCS_CSP, redoc_url: DOCS_CSP, assets_url: DOCS_CSP}


def _asset(name: str) -> bytes:
    return (resources.files(ASSET_PACKAGE) / "static" / name).read_bytes()


def mount_offline_docs(
    app: FastAPI,
    *,
    docs_url: str = "/docs",
    redoc_url: str = "/redoc",
    assets_url: str = "/docs-assets",
    openapi_url: str = "/openapi.json",
    dependencies: Sequence[params.Depends] = (),
) -> None:
    """Add the OpenAPI document, Swagger UI, ReDoc and their assets, all behind `dependencies`."""
    if app.docs_url or app.redoc_url or app.openapi_url:
        raise ValueError("create the app with docs_url=None, redoc_url=None, openapi_url=None")
    deps = list(dependencies)
    title = str(escape(app.title))

    @app.get(openapi_url, include_in_schema=False, dependencies=deps)
    def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(f"{assets_url}/swagger-init.js", include_in_schema=False, dependencies=deps)
    def swagger_init() -> Response:
        options: dict[str, Any] = {
            "url": openapi_url,
            "dom_id": "#swagger-ui",
            "deepLinking": True,
            "validatorUrl": None,  # the default would send the spec to an online validator
        }
        script = (
            f"window.ui = SwaggerUIBundle(Object.assign({json.dumps(options)}, "
            "{presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset], "
            'layout: "BaseLayout"}));\n'
        )
        return Response(script, media_type="text/javascript")

    @app.get(f"{assets_url}/{{name}}", include_in_schema=False, dependencies=deps)
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, "no such asset")
        return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "max-age=86400"})

    def page(subtitle: str, head: str, body: str) -> HTMLResponse:
        return HTMLResponse(
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title} - {subtitle}</title>{head}'
            f'<link rel="icon" href="{assets_url}/favicon.png"></head><body>{body}</body></html>'
        )

    @app.get(docs_url, include_in_schema=False, dependencies=deps)
    def swagger_page() -> HTMLResponse:
        return page(
            "API",
            f'<link rel="stylesheet" href="{assets_url}/swagger-ui.css">',
            f'<div id="swagger-ui"></div><script src="{assets_url}/swagger-ui-bundle.js"></script>'
            f'<script src="{assets_url}/swagger-init.js"></script>',
        )

    @app.get(redoc_url, include_in_schema=False, dependencies=deps)
    def redoc_page() -> HTMLResponse:
        return page(
            "API reference",
            "",
            f'<redoc spec-url="{openapi_url}"></redoc><script src="{assets_url}/redoc.standalone.js"></script>',
        )
