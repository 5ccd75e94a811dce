"""The hub's REST API (OpenAPI) and operations pages; `create_app` builds the ASGI app, `serve` runs it."""

from medcom_bridge.web.app import create_app

__all__ = ["create_app"]
