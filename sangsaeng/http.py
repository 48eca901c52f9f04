"""Plumbing shared by the platform's HTTP services (registry, gateway): no business rules."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_ASSETS_URL = "/static-offline-docs"


def service_app(**kwargs: Any) -> FastAPI:
    """A FastAPI app whose `/docs` and `/redoc` need no internet; `kwargs` go to FastAPI.

    FastAPI's own pages load Swagger UI and ReDoc from a CDN, a blank page on a factory
    network. These load them from `DOCS_ASSETS_URL` on the service itself (assets from
    the `fastapi-offline` package), and Swagger UI's online validator badge is off.
    """
    parameters = {"validatorUrl": None, **kwargs.pop("swagger_ui_parameters", {})}
    return FastAPIOffline(static_url=DOCS_ASSETS_URL, swagger_ui_parameters=parameters, **kwargs)


class BodyLimit:
    """Refuse bodies larger than `limit` bytes with 413, whatever Content-Length says.

    Reads at most `limit` + 1 bytes, so a client streaming gigabytes costs nothing.
    `too_large(limit)` builds the refusal in the service's own error format.
    """

    def __init__(self, app: ASGIApp, limit: int, too_large: Callable[[int], Response]) -> None:
        self.app, self.limit, self.too_large = app, limit, too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self.too_large(self.limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
