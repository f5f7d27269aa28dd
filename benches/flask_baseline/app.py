"""The baseline most small teams run: a minimal Flask `/api/track` storing each event
with one SQLite insert per request (WAL, synchronous=NORMAL, a connection per request
as in Flask's tutorial). Run under gunicorn with 2 sync workers:

    FLASK_DB=/tmp/flask.db gunicorn -w 2 -b 127.0.0.1:PORT app:app
"""
import json
import os
import sqlite3

from flask import Flask, jsonify, request

DB = os.environ.get("FLASK_DB", "flask_baseline.db")
app = Flask(__name__)


def connect():
    con = sqlite3.connect(DB, timeout=30)
    con.execute("PRAGMA synchronous=NORMAL")
    return con


with connect() as con:
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, message_id TEXT UNIQUE,"
        " user_id TEXT, event TEXT NOT NULL, ts TEXT, properties TEXT)"
    )


@app.post("/api/track")
def track():
    e = request.get_json(silent=True)
    if not isinstance(e, dict) or not e.get("event"):
        return jsonify(error="event is required"), 400
    con = connect()
    try:
        with con:
            con.execute(
                "INSERT OR IGNORE INTO events (message_id, user_id, event, ts, properties)"
                " VALUES (?, ?, ?, ?, ?)",
                (e.get("messageId"), e.get("userId"), e["event"], e.get("timestamp"),
                 json.dumps(e.get("properties") or {})),
            )
    finally:
        con.close()
    return jsonify(success=True)
