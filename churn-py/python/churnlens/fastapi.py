"""Starlette / FastAPI integration: an ASGI middleware that tracks requests and serves
the read API.

::

    from fastapi import FastAPI
    import churnlens
    from churnlens.fastapi import ChurnMiddleware

    analytics = churnlens.Analytics("events.db")
    app = FastAPI()
    app.add_middleware(ChurnMiddleware, analytics=analytics,
                       user=lambda req: req.headers.get("x-user"))

Each HTTP request becomes an ``http_request`` event (``path``, ``method``, ``status``,
``duration_ms``) under the id ``user(request)`` returns (a Starlette ``Request``);
requests without an id are not tracked. Requests under ``mount_api`` are answered by
the read API (:mod:`churnlens._api`) in a worker thread, never reaching the app.
Tracking never fails a request: errors are logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, MutableMapping, Optional
from urllib.parse import parse_qsl

from ._api import ModelSource, handle
from ._churnlens import Analytics
from .errors import ChurnError

log = logging.getLogger("churnlens.fastapi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UserFn = Callable[[Any], Optional[str]]


def _request(scope: Scope) -> Any:
    try:
        from starlette.requests import Request
    except ImportError:  # plain ASGI: hand the scope itself
        return scope
    return Request(scope)


class ChurnMiddleware:
    """ASGI middleware: tracks each request and serves the read API at ``mount_api``.

    ``user`` / ``anonymous`` take the request (a Starlette ``Request``, or the ASGI
    scope without Starlette) and return an id or None. ``model`` is the
    :class:`ChurnModel` (or a callable returning it) behind ``/churn/scores``.
    """

    def __init__(
        self,
        app: ASGIApp,
        analytics: Analytics,
        user: Optional[UserFn] = None,
        anonymous: Optional[UserFn] = None,
        mount_api: Optional[str] = "/churn",
        model: ModelSource = None,
        event: str = "http_request",
    ) -> None:
        self.app = app
        self.analytics = analytics
        self.user = user
        self.anonymous = anonymous
        self.prefix = (mount_api or "").rstrip("/")
        self.model = model
        self.event = event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if self.prefix and path.startswith(self.prefix + "/") and scope.get("method") == "GET":
            await self._api(scope, path[len(self.prefix):], send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status["code"] = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._track(scope, path, status["code"], t0)

    def _track(self, scope: Scope, path: str, status: int, t0: float) -> None:
        if self.user is None and self.anonymous is None:
            return
        req = _request(scope)
        uid = self.user(req) if self.user else None
        aid = self.anonymous(req) if self.anonymous else None
        if uid is None and aid is None:
            return
        props: Dict[str, Any] = {
            "path": path,
            "method": scope.get("method", ""),
            "status": status,
            "duration_ms": round((time.perf_counter() - t0) * 1000.0, 3),
        }
        try:
            self.analytics.track(self.event, user_id=uid, anonymous_id=aid, properties=props)
        except ChurnError as e:
            log.warning("churnlens: request not tracked: %s", e)

    async def _api(self, scope: Scope, subpath: str, send: Send) -> None:
        raw = scope.get("query_string", b"")
        params = dict(parse_qsl(raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)))
        loop = asyncio.get_running_loop()
        status, body = await loop.run_in_executor(
            None, handle, self.analytics, subpath, params, self.model
        )
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
