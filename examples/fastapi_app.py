"""A FastAPI app that tracks its requests with churnlens and serves the read API.

Run:  pip install ./churn-py fastapi uvicorn && uvicorn examples.fastapi_app:app
Then: curl -H 'x-user: u1' localhost:8000/ && curl localhost:8000/churn/active-users
"""

from __future__ import annotations

from typing import Dict, Optional

from fastapi import FastAPI, Request

import churnlens
from churnlens.fastapi import ChurnMiddleware

analytics = churnlens.Analytics("events.db")
app = FastAPI()


def current_user(request: Request) -> Optional[str]:
    """The signed-in user (here: a header, for the demo)."""
    return request.headers.get("x-user")


app.add_middleware(ChurnMiddleware, analytics=analytics, user=current_user, mount_api="/churn")


@app.get("/")
def index() -> Dict[str, str]:
    """A route to track."""
    return {"hello": "world"}
