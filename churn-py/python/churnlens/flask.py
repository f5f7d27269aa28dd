"""Flask integration: track every request and mount the read API.

::

    from flask import Flask, request
    import churnlens, churnlens.flask

    app = Flask(__name__)
    analytics = churnlens.Analytics("events.db")
    churnlens.flask.init_app(app, analytics, user=lambda: request.headers.get("X-User"))

Each request becomes an ``http_request`` event with ``path``, ``method``, ``status``
and ``duration_ms`` properties, under the id ``user()`` returns (requests without a
user are not tracked unless ``anonymous`` gives an id). Tracking never fails a
request: errors are logged. The read API (see :mod:`churnlens._api`) is mounted at
``mount_api`` (``None`` to skip it); protect it like any admin route.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from ._api import ModelSource, handle
from ._churnlens import Analytics
from .errors import ChurnError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("churnlens.flask")

UserFn = Callable[[], Optional[str]]


def init_app(
    app: "Flask",
    analytics: Analytics,
    *,
    user: Optional[UserFn] = None,
    anonymous: Optional[UserFn] = None,
    mount_api: Optional[str] = "/churn",
    model: ModelSource = None,
    event: str = "http_request",
) -> None:
    """Register request tracking and the read API on a Flask ``app``.

    ``user`` / ``anonymous`` are called inside the request context and return the
    user id / anonymous id (or None). ``model`` is the :class:`ChurnModel` (or a
    callable returning it) behind ``<mount_api>/churn/scores``.
    """
    from flask import Response, g, request

    api_prefix = (mount_api or "").rstrip("/")

    @app.before_request
    def _churn_start() -> None:
        g._churnlens_t0 = time.perf_counter()

    @app.after_request
    def _churn_track(response: Any) -> Any:
        t0 = getattr(g, "_churnlens_t0", None)
        if t0 is None or (api_prefix and request.path.startswith(api_prefix + "/")):
            return response
        uid = user() if user else None
        aid = anonymous() if anonymous else None
        if uid is None and aid is None:
            return response
        props = {
            "path": request.path,
            "method": request.method,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - t0) * 1000.0, 3),
        }
        try:
            analytics.track(event, user_id=uid, anonymous_id=aid, properties=props)
        except ChurnError as e:
            log.warning("churnlens: request not tracked: %s", e)
        return response

    if not api_prefix:
        return

    def _api(subpath: str = "") -> Any:
        status, body = handle(analytics, subpath, dict(request.args.items()), model)
        import json

        return Response(json.dumps(body), status=status, mimetype="application/json")

    app.add_url_rule(api_prefix + "/<path:subpath>", "churnlens_api", _api, methods=["GET"])
