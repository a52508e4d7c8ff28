"""Events and webhook endpoints: `/v1/events` and `/v1/webhook_endpoints`.

`record` is what the resource modules call when something happens: it stores the Event
Stripe would create (with a snapshot of the object as `data.object`) and queues one delivery
per endpoint whose `enabled_events` match, as Stripe does at the moment the event occurs.
"""

import fnmatch

from . import forms
from .errors import invalid_param, missing_param
from .store import created_filter, list_page, new_id, newest_first, snapshot

ENDPOINT_PARAMS = {"url", "enabled_events", "description", "metadata", "api_version", "connect",
                   "expand", "disabled"}
FIXED_ENDPOINT_ID = "we_commandline"


def record(ctx, event_type, obj):
    store = ctx.app.store
    targets = [ep for ep in all_endpoints(ctx.app) if subscribed(ep, event_type)]
    event = {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": ctx.app.config.api_version,
        "created": store.now(),
        "data": {"object": snapshot(obj)},
        "livemode": False,
        "pending_webhooks": len(targets),
        "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
        "type": event_type,
    }
    store.put(event)
    for endpoint in targets:
        ctx.app.delivery.enqueue(event["id"], endpoint["id"])
    return event


def subscribed(endpoint, event_type):
    if endpoint.get("status") != "enabled":
        return False
    # Stripe takes "*" for everything; a pattern like "payment_intent.*" is a convenience here.
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in endpoint["enabled_events"])


def all_endpoints(app):
    endpoints = list(app.store.objects("webhook_endpoint").values())
    if app.config.fixed_endpoint:
        endpoints.insert(0, app.config.fixed_endpoint)
    return endpoints


def endpoint(app, endpoint_id):
    if app.config.fixed_endpoint and endpoint_id == FIXED_ENDPOINT_ID:
        return app.config.fixed_endpoint
    return app.store.get("webhook_endpoint", endpoint_id, "webhook endpoint", "id")


def fixed_endpoint(url, secret, created):
    """The endpoint given on the command line (`--webhook-url`, `--webhook-secret`)."""
    return _endpoint_object(FIXED_ENDPOINT_ID, url, ["*"], secret, created,
                            description="from the command line")


def _endpoint_object(endpoint_id, url, enabled_events, secret, created, description=None):
    return {
        "id": endpoint_id,
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": created,
        "description": description,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": {},
        "secret": secret,
        "status": "enabled",
        "url": url,
    }


def _public(endpoint_obj):
    """Stripe shows an endpoint's signing secret only in the answer to its creation."""
    shown = dict(endpoint_obj)
    shown.pop("secret", None)
    return shown


def _url(params, required):
    url = forms.string(params, "url", required=required)
    if url is not None and not url.startswith(("http://", "https://")):
        raise invalid_param("Invalid URL: %s. URLs must begin with http:// or https://" % url,
                            "url", "url_invalid")
    return url


def _events(params, required):
    if required and "enabled_events" not in params:
        raise missing_param("enabled_events")
    events = forms.as_list(params, "enabled_events")
    if "enabled_events" in params and not events:
        raise invalid_param("enabled_events must not be empty.", "enabled_events")
    return events


# --- handlers (called with the store lock held) ------------------------------------------

def create_endpoint(ctx, params):
    forms.reject_unknown(params, ENDPOINT_PARAMS - {"disabled"})
    url, enabled = _url(params, True), _events(params, True)
    store = ctx.app.store
    endpoint_obj = _endpoint_object(new_id("we_"), url, enabled, new_id("whsec_", 32),
                                    store.now(), forms.string(params, "description"))
    endpoint_obj["metadata"] = forms.metadata(params)
    endpoint_obj["api_version"] = forms.string(params, "api_version")
    store.put(endpoint_obj)
    return 200, dict(endpoint_obj)


def retrieve_endpoint(ctx, params, endpoint_id):
    return 200, _public(endpoint(ctx.app, endpoint_id))


def update_endpoint(ctx, params, endpoint_id):
    forms.reject_unknown(params, ENDPOINT_PARAMS - {"connect", "api_version"})
    endpoint_obj = endpoint(ctx.app, endpoint_id)
    url, enabled = _url(params, False), _events(params, False)
    if url:
        endpoint_obj["url"] = url
    if enabled:
        endpoint_obj["enabled_events"] = enabled
    if "description" in params:
        endpoint_obj["description"] = forms.string(params, "description") or None
    if "disabled" in params:
        endpoint_obj["status"] = "disabled" if forms.boolean(params, "disabled") else "enabled"
    endpoint_obj["metadata"] = forms.metadata(params, endpoint_obj["metadata"])
    return 200, _public(endpoint_obj)


def delete_endpoint(ctx, params, endpoint_id):
    endpoint(ctx.app, endpoint_id)
    if endpoint_id == FIXED_ENDPOINT_ID:
        raise invalid_param("The command-line endpoint cannot be deleted.", "id")
    del ctx.app.store.objects("webhook_endpoint")[endpoint_id]
    return 200, {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def list_endpoints(ctx, params):
    items = [_public(ep) for ep in newest_first(all_endpoints(ctx.app))]
    return 200, list_page(items, params, "/v1/webhook_endpoints")


def retrieve_event(ctx, params, event_id):
    return 200, ctx.app.store.get("event", event_id, "event", "id")


def list_events(ctx, params):
    wanted = set(forms.as_list(params, "types"))
    single = forms.string(params, "type")
    created_ok = created_filter(params)

    def keep(event):
        if single and not fnmatch.fnmatchcase(event["type"], single):
            return False
        return (not wanted or event["type"] in wanted) and created_ok(event["created"])

    items = [e for e in newest_first(ctx.app.store.objects("event").values()) if keep(e)]
    return 200, list_page(items, params, "/v1/events")
