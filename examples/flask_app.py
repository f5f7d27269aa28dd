"""A Flask app that tracks its requests with churnlens and serves the read API.

Run:  pip install ./churn-py flask && flask --app examples/flask_app.py run
Then: curl -H 'X-User: u1' localhost:5000/ && curl localhost:5000/churn/active-users

gunicorn: open the Analytics per worker (post_fork) or let the inherited file-backed
instance reopen itself in each worker on first use; never share an in-memory one.
"""

from __future__ import annotations

from typing import Optional

from flask import Flask, request

import churnlens
import churnlens.flask

analytics = churnlens.Analytics("events.db")
app = Flask(__name__)


def current_user() -> Optional[str]:
    """The signed-in user (here: a header, for the demo)."""
    return request.headers.get("X-User")


churnlens.flask.init_app(app, analytics, user=current_user, mount_api="/churn")


@app.get("/")
def index() -> str:
    """A page to track."""
    return "hello"


if __name__ == "__main__":
    app.run()
