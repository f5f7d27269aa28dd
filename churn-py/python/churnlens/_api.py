"""The read API shared by the Flask and Starlette/FastAPI integrations.

Routes (under the mount point, GET only), each answering churn-core's report JSON:

* ``/active-users``  -- :meth:`Analytics.active_users` (``period``, ``from``, ``to``)
* ``/retention``     -- :meth:`Analytics.retention` (``period``, ``from``, ``to``)
* ``/sessions``      -- :meth:`Analytics.sessions` (``period``, ``from``, ``to``)
* ``/revenue``       -- :meth:`Analytics.revenue` (``period``, ``from``, ``to``, ``currency``)
* ``/users/<id>``    -- the user's profile (:meth:`Analytics.user_profile`)
* ``/funnel``        -- :meth:`Analytics.funnel` (``steps=a,b,c``, ``from``, ``to``)
* ``/churn/scores``  -- :meth:`Analytics.churn_scores` of the configured model
  (``as_of``, ``segment`` to filter, ``limit``)

Errors answer ``{"error": code, "message": text}`` with 400 (validation), 404 (not
found, unknown route, no model) or 500.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from ._churnlens import Analytics, ChurnModel
from .errors import ChurnError, NotFoundError, ValidationError

#: A model, or a callable giving the current one (or None).
ModelSource = Union[ChurnModel, Callable[[], Optional[ChurnModel]], None]

Response = Tuple[int, Any]


def _range(params: Mapping[str, str]) -> Dict[str, Any]:
    opts: Dict[str, Any] = {}
    if "period" in params:
        opts["period"] = params["period"]
    if "from" in params or "to" in params:
        opts["range"] = (params.get("from"), params.get("to"))
    return opts


def _model(source: ModelSource) -> ChurnModel:
    model = source() if callable(source) else source
    if model is None:
        raise NotFoundError("no churn model is configured for this API")
    return model


def _scores(a: Analytics, params: Mapping[str, str], source: ModelSource) -> Any:
    scores = a.churn_scores(_model(source), params.get("as_of"))
    seg = params.get("segment")
    if seg is not None:
        scores = [s for s in scores if s["segment"] == seg]
    scores.sort(key=lambda s: -float(s["probability"]))
    if "limit" in params:
        try:
            scores = scores[: int(params["limit"])]
        except ValueError:
            raise ValidationError("limit must be an integer") from None
    return scores


def handle(
    a: Analytics, path: str, params: Mapping[str, str], model: ModelSource = None
) -> Response:
    """Answer one API request: ``path`` is relative to the mount point."""
    parts = [p for p in path.split("/") if p]
    try:
        if parts == ["active-users"]:
            return 200, a.active_users(**_range(params))
        if parts == ["retention"]:
            return 200, a.retention(**_range(params))
        if parts == ["sessions"]:
            return 200, a.sessions(**_range(params))
        if parts == ["revenue"]:
            opts = _range(params)
            if "currency" in params:
                opts["currency"] = params["currency"]
            return 200, a.revenue(**opts)
        if len(parts) == 2 and parts[0] == "users":
            return 200, a.user_profile(parts[1])
        if parts == ["funnel"] and "steps" in params:
            steps = [{"event": s} for s in params["steps"].split(",") if s]
            opts = _range(params)
            opts.pop("period", None)
            return 200, a.funnel(steps=steps, **opts)
        if parts == ["churn", "scores"]:
            return 200, _scores(a, params, model)
        return 404, {"error": "ERR_NOT_FOUND", "message": f"no route /{'/'.join(parts)}"}
    except ValidationError as e:
        return 400, {"error": e.code, "message": str(e)}
    except NotFoundError as e:
        return 404, {"error": e.code, "message": str(e)}
    except ChurnError as e:
        return 500, {"error": e.code, "message": str(e)}
