"""Send track / identify / page / alias / batch through the real Python SDKs.

Each sender returns what it sent, as expectations for check_store():
  events:  {message_id?, user, name, props, ts_ms}
  traits:  {user: {trait: value}}
  aliases: [(anonymous_id, user_id)]   (the link the store must hold)
"""
from datetime import datetime, timezone, timedelta
import uuid

BASE = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=timezone.utc)


def ts(i):
    return BASE + timedelta(minutes=i, milliseconds=i * 37)


def ms(dt):
    return int(dt.timestamp() * 1000 + 0.5)


def segment(url, write_key, tag):
    from segment.analytics import Client

    errors = []
    c = Client(write_key, host=url, on_error=lambda e, b: errors.append(repr(e)),
               max_retries=1, upload_size=100, sync_mode=False)
    ev, traits, aliases = [], {}, []
    u = f"seg-{tag}-u1"
    for i in range(150):  # a batch: 150 tracks, several /v1/batch requests
        mid = f"seg-{tag}-t{i}"
        props = {"plan": "pro", "i": i, "price": 9.5, "nested": {"ok": True}}
        c.track(user_id=u, event="Order Completed", properties=props, timestamp=ts(i),
                message_id=mid)
        ev.append(dict(message_id=mid, user=u, name="Order Completed", props=props, ts_ms=ms(ts(i))))
    mid = f"seg-{tag}-p1"
    c.page(user_id=u, name="Pricing", properties={"path": "/pricing"}, timestamp=ts(200), message_id=mid)
    ev.append(dict(message_id=mid, user=u, name="page_view", props={"path": "/pricing"}, ts_ms=ms(ts(200))))
    c.identify(user_id=u, traits={"email": "a@example.com", "plan": "pro"}, timestamp=ts(201),
               message_id=f"seg-{tag}-i1")
    traits[u] = {"email": "a@example.com", "plan": "pro"}
    anon = f"seg-{tag}-anon"
    c.alias(previous_id=anon, user_id=u, timestamp=ts(202), message_id=f"seg-{tag}-a1")
    aliases.append((anon, u))
    c.flush()
    c.shutdown()
    # The same SDK with gzip request bodies.
    gz = Client(write_key, host=url, on_error=lambda e, b: errors.append(repr(e)),
                max_retries=1, gzip=True)
    for i in range(5):
        mid = f"seg-{tag}-gz{i}"
        gz.track(user_id=u, event="Signed Up", properties={"gz": i}, timestamp=ts(500 + i),
                 message_id=mid)
        ev.append(dict(message_id=mid, user=u, name="Signed Up", props={"gz": i}, ts_ms=ms(ts(500 + i))))
    gz.flush()
    gz.shutdown()
    if errors:
        raise SystemExit(f"segment SDK reported errors: {errors}")
    return ev, traits, aliases


def posthog(url, api_key, tag):
    from posthog import Posthog

    errors = []
    p = Posthog(api_key, host=url, on_error=lambda e, b: errors.append(repr(e)),
                max_retries=1, flush_at=50, sync_mode=False, disable_geoip=True)
    ev, traits, aliases = [], {}, []
    u = f"ph-{tag}-u1"
    for i in range(120):
        mid = str(uuid.uuid4())
        props = {"plan": "team", "i": i, "ratio": 0.25}
        p.capture("file_uploaded", distinct_id=u, properties=props, timestamp=ts(i), uuid=mid)
        ev.append(dict(message_id=mid, user=u, name="file_uploaded", props=props, ts_ms=ms(ts(i))))
    mid = str(uuid.uuid4())
    p.capture("$pageview", distinct_id=u, properties={"$current_url": "https://x.test/a"},
              timestamp=ts(300), uuid=mid)
    ev.append(dict(message_id=mid, user=u, name="page_view", props={}, ts_ms=ms(ts(300))))
    p.set(distinct_id=u, properties={"email": "b@example.com", "seats": 3}, timestamp=ts(301))
    traits[u] = {"email": "b@example.com", "seats": 3}
    anon = f"ph-{tag}-anon"
    p.alias(previous_id=u, distinct_id=anon, timestamp=ts(302))  # PostHog: alias_id joins u
    aliases.append((anon, u))
    p.flush()
    p.shutdown()
    if errors:
        raise SystemExit(f"posthog SDK reported errors: {errors}")
    return ev, traits, aliases
