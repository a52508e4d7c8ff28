"""Test controls under `/_fake/` (no API key): counts, replays, the clock, reset.

These exist so tests can assert on what Berth asked Stripe to do and can make webhook
deliveries happen on cue (again, out of order, with a stale signature), without sleeping.
Bodies are JSON; GET filters are query parameters in Stripe's bracket form.
"""

import json
import random

from . import forms
from .errors import StripeError, invalid
from .events import all_endpoints, subscribed


def handle(app, method, path, query, body):
    route = ROUTES.get((method, path.rstrip("/")))
    if route is None:
        raise StripeError(404, "invalid_request_error", "Unknown test control: %s %s"
                          % (method, path))
    params = forms.parse(query)
    payload = _json(body)
    if route in UNLOCKED:
        return route(app, params, payload)
    with app.store.lock:
        return route(app, params, payload)


def _json(body):
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise invalid("The body must be JSON: %s" % exc)
    if not isinstance(payload, dict):
        raise invalid("The body must be a JSON object.")
    return payload


def _number(payload, name, default, minimum=None):
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or (
            minimum is not None and value < minimum):
        raise invalid("%s must be an integer%s." % (
            name, "" if minimum is None else " of at least %d" % minimum), param=name)
    return value


def health(app, params, payload):
    return 200, {"ok": True, "upstream": app.upstream.base_url,
                 "pending_deliveries": app.delivery.pending()}


def payment_intents(app, params, payload):
    """`?metadata[invoice]=X&customer=cus_..&status=..`: how many, how many succeeded, which."""
    wanted_metadata = forms.as_dict(params.get("metadata") or {}, "metadata")

    def keep(intent):
        if any(intent["metadata"].get(k) != v for k, v in wanted_metadata.items()):
            return False
        return all(params.get(name) in (None, intent[name]) for name in ("customer", "status"))

    data = [pi for pi in app.store.objects("payment_intent").values() if keep(pi)]
    return 200, {"count": len(data),
                 "succeeded": sum(1 for pi in data if pi["status"] == "succeeded"),
                 "data": data}


def deliver(app, params, payload):
    """Deliver events again, synchronously: each (event, endpoint) pair `times` times."""
    with app.store.lock:
        jobs = _delivery_jobs(app, payload)
    # Sent without the lock: the receiver may well call the fake back while it handles one.
    results = [app.delivery.attempt(event_id, endpoint_id, 1, "manual")
               for event_id, endpoint_id in jobs]
    return 200, {"count": len(results), "deliveries": [r for r in results if r]}


def _delivery_jobs(app, payload):
    store = app.store
    event_ids = payload.get("event_ids")
    if event_ids is None:
        event_ids = list(store.objects("event"))
    if not isinstance(event_ids, list) or not all(isinstance(e, str) for e in event_ids):
        raise invalid("event_ids must be a list of event ids.", param="event_ids")
    times = _number(payload, "times", 1, minimum=1)
    only = payload.get("endpoint_ids")
    jobs = []
    for event_id in event_ids:
        event = store.get("event", event_id, "event", "event_ids")
        for endpoint in all_endpoints(app):
            if subscribed(endpoint, event["type"]) and (not only or endpoint["id"] in only):
                jobs.extend([(event_id, endpoint["id"])] * times)
    if payload.get("shuffle"):
        random.Random(payload.get("seed")).shuffle(jobs)
    return jobs


def deliveries(app, params, payload):
    def keep(entry):
        return all(params.get(name) in (None, str(entry[name]))
                   for name in ("event_id", "endpoint", "event_type", "mode"))

    data = [entry for entry in app.store.state["deliveries"] if keep(entry)]
    return 200, {"count": len(data), "data": data}


def wait_deliveries(app, params, payload):
    """Block until no webhook delivery is queued or under way (or `timeout_ms` passes)."""
    timeout_ms = _number(payload, "timeout_ms", 5000, minimum=0)
    idle = app.delivery.wait_idle(timeout_ms / 1000.0)
    return 200, {"idle": idle, "pending": app.delivery.pending()}


def clock(app, params, payload):
    settings = app.store.state["clock"]
    if payload:
        settings["offset_secs"] += _number(payload, "advance_secs", 0)
        if "signature_offset_secs" in payload:
            settings["signature_offset_secs"] = _number(payload, "signature_offset_secs", 0)
        app.store.save()
    return 200, {"now": app.store.now(), "offset_secs": settings["offset_secs"],
                 "signature_offset_secs": settings["signature_offset_secs"]}


def reset(app, params, payload):
    app.delivery.clear()
    app.store.reset()
    return 200, {"reset": True}


ROUTES = {
    ("GET", "/_fake/health"): health,
    ("GET", "/_fake/payment_intents"): payment_intents,
    ("POST", "/_fake/events/deliver"): deliver,
    ("GET", "/_fake/deliveries"): deliveries,
    ("POST", "/_fake/deliveries/wait"): wait_deliveries,
    ("GET", "/_fake/clock"): clock,
    ("POST", "/_fake/clock"): clock,
    ("POST", "/_fake/reset"): reset,
}
UNLOCKED = {deliver, wait_deliveries}
