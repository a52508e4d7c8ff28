"""The HTTP side: routing, authentication, idempotency, the proxy, and the answer's headers.

One `Handler` call is one request: read and parse it, check the API key, then either run a
local handler (with the store lock held, so each request sees and leaves consistent state)
or forward it to the upstream mock. Any failure ends as a Stripe error object, never as a
dropped connection: a test that sends garbage learns what was wrong with it.
"""

import base64
import binascii
import json
import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import admin, events, forms
from . import payment_intents as pis
from . import payment_methods as pms
from . import refunds
from .errors import StripeError, unauthorized
from .idempotency import fingerprint
from .store import new_id
from .upstream import PROXY

log = logging.getLogger("stripe-fake")
MAX_BODY = 1024 * 1024
ID = r"(?P<{}>[^/]+)"


def _route(method, pattern, handler):
    regex = re.compile("^" + pattern.format(pm=ID.format("payment_method_id"),
                                            pi=ID.format("intent_id"),
                                            cus=ID.format("customer_id"),
                                            re=ID.format("refund_id"),
                                            ch=ID.format("charge_id"),
                                            we=ID.format("endpoint_id"),
                                            evt=ID.format("event_id")) + "$")
    return method, regex, handler


# Routes the fake serves itself; every other /v1 request goes to the upstream. Order matters
# where a literal segment could be read as an id (`search`).
ROUTES = [
    _route("GET", "/v1/payment_methods", pms.list_all),
    _route("GET", "/v1/payment_methods/{pm}", pms.retrieve),
    _route("POST", "/v1/payment_methods/{pm}", pms.update),
    _route("POST", "/v1/payment_methods/{pm}/attach", pms.attach),
    _route("POST", "/v1/payment_methods/{pm}/detach", pms.detach),
    _route("GET", "/v1/customers/{cus}/payment_methods", pms.list_for_customer),
    _route("GET", "/v1/customers/{cus}/payment_methods/{pm}", pms.retrieve_for_customer),
    _route("GET", "/v1/payment_intents", pis.list_all),
    _route("POST", "/v1/payment_intents", pis.create),
    _route("GET", "/v1/payment_intents/search", pis.search),
    _route("GET", "/v1/payment_intents/{pi}", pis.retrieve),
    _route("POST", "/v1/payment_intents/{pi}", pis.update),
    _route("POST", "/v1/payment_intents/{pi}/confirm", pis.confirm),
    _route("POST", "/v1/payment_intents/{pi}/capture", pis.capture),
    _route("POST", "/v1/payment_intents/{pi}/cancel", pis.cancel),
    _route("GET", "/v1/refunds", refunds.list_all),
    _route("POST", "/v1/refunds", refunds.create),
    _route("GET", "/v1/refunds/{re}", refunds.retrieve),
    _route("POST", "/v1/refunds/{re}", refunds.update),
    _route("GET", "/v1/charges", refunds.list_charges),
    _route("GET", "/v1/charges/{ch}", refunds.retrieve_charge),
    _route("GET", "/v1/webhook_endpoints", events.list_endpoints),
    _route("POST", "/v1/webhook_endpoints", events.create_endpoint),
    _route("GET", "/v1/webhook_endpoints/{we}", events.retrieve_endpoint),
    _route("POST", "/v1/webhook_endpoints/{we}", events.update_endpoint),
    _route("DELETE", "/v1/webhook_endpoints/{we}", events.delete_endpoint),
    _route("GET", "/v1/events", events.list_events),
    _route("GET", "/v1/events/{evt}", events.retrieve_event),
]


def find_route(method, path):
    for route_method, regex, handler in ROUTES:
        match = regex.match(path)
        if match and route_method == method:
            return handler, match.groupdict()
    return None, None


def api_key_of(authorization):
    """The key from `Bearer <key>` or HTTP Basic with the key as user name (Stripe takes both)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def check_key(app, authorization):
    key = api_key_of(authorization)
    if key is None:
        raise unauthorized(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.")
    if key != app.config.secret_key:
        raise unauthorized("Invalid API Key provided: %s****%s" % (key[:8], key[-4:]))
    return key


class Context:
    """What a resource handler may know about the request that called it."""

    def __init__(self, app, request_id, api_key, authorization, idempotency_key):
        self.app = app
        self.request_id = request_id
        self.api_key = api_key
        self.authorization = authorization
        self.idempotency_key = idempotency_key


class Answer:
    def __init__(self, status, body, content_type="application/json", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
        self.content_type = content_type
        self.headers = list(headers or [])


def error_answer(error, request_id):
    return Answer(error.status, error.body(request_id), headers=list(error.headers.items()))


class Handler(BaseHTTPRequestHandler):
    server_version = "stripe-fake"
    app = None  # set by make_server
    timeout = 30  # a client that promises a body and never sends it must not hold a thread

    def send_error(self, code, message=None, explain=None):
        """Errors http.server finds itself (bad request line, method): in Stripe's shape."""
        body = json.dumps({"error": {"type": "invalid_request_error",
                                     "message": message or explain or "Bad request"}}).encode()
        self.close_connection = True
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Request-Id", new_id("req_", 14))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PUT(self):  # Stripe has no PUT or PATCH; the upstream gets to say so
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def log_message(self, fmt, *args):
        log.debug("%s %s", self.address_string(), fmt % args)

    def _serve(self, method):
        request_id = new_id("req_", 14)
        try:
            answer = self._answer(method, request_id)
        except StripeError as error:
            answer = error_answer(error, request_id)
        except Exception:  # a bug in the fake: say so in Stripe's words, keep serving
            log.exception("unhandled error for %s %s", method, self.path)
            answer = error_answer(StripeError(500, "api_error", "The Stripe fake failed "
                                              "unexpectedly; see its log."), request_id)
        self._send(answer, request_id)

    def _answer(self, method, request_id):
        parts = urlsplit(self.path)
        body = self._read_body()
        if parts.path.startswith("/_fake/"):
            return Answer(*admin.handle(self.app, method, parts.path, parts.query, body))
        if not parts.path.startswith("/v1/"):
            raise StripeError(404, "invalid_request_error", "Unrecognized request URL (%s: %s)."
                              % (method, parts.path))
        authorization = self.headers.get("Authorization")
        api_key = check_key(self.app, authorization)
        params = forms.parse(body if method == "POST" else parts.query)
        key = self.headers.get("Idempotency-Key") if method == "POST" else None
        ctx = Context(self.app, request_id, api_key, authorization, key)
        if not key:
            return self._execute(ctx, method, parts, params, body)
        return self._idempotent(ctx, method, parts, params, body)

    def _idempotent(self, ctx, method, parts, params, body):
        keys, print_ = self.app.keys, fingerprint(method, parts.path, params)
        stored = keys.begin(ctx.api_key, ctx.idempotency_key, print_)
        if stored is not None:
            return Answer(stored["status"], stored["body"].encode("utf-8"),
                          stored["content_type"],
                          [("Idempotent-Replayed", "true"),
                           ("Original-Request", stored["request_id"]),
                           ("Idempotency-Key", ctx.idempotency_key)])
        try:
            answer = self._execute(ctx, method, parts, params, body)
            keep = answer.status < 500
        except StripeError as error:
            answer = error_answer(error, ctx.request_id)
            keep = error.replayable and error.status < 500
        except BaseException:
            keys.finish(ctx.api_key, ctx.idempotency_key, print_, 0, b"", "", "", False)
            raise
        answer.headers.append(("Idempotency-Key", ctx.idempotency_key))
        keys.finish(ctx.api_key, ctx.idempotency_key, print_, answer.status, answer.body,
                    answer.content_type, ctx.request_id, keep)
        return answer

    def _execute(self, ctx, method, parts, params, body):
        handler, path_args = find_route(method, parts.path)
        result = PROXY
        if handler is not None:
            store = self.app.store
            with store.lock:
                try:
                    result = handler(ctx, params, **path_args)
                finally:
                    if method != "GET":
                        store.save()  # a decline (402) also changed state
        if result is PROXY:
            return self._proxy(method, parts, body)
        status, obj = result
        return Answer(status, obj)

    def _proxy(self, method, parts, body):
        path = parts.path + ("?" + parts.query if parts.query else "")
        status, headers, payload = self.app.upstream.forward(method, path, body, self.headers)
        content_type = dict(headers).pop("Content-Type", "application/json")
        return Answer(status, payload, content_type,
                      [(name, value) for name, value in headers if name != "Content-Type"])

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit():
            self.close_connection = True
            raise StripeError(400, "invalid_request_error", "Invalid Content-Length header.")
        if int(length) > MAX_BODY:
            self.close_connection = True
            raise StripeError(413, "invalid_request_error", "The request body is too large.")
        return self.rfile.read(int(length))

    def _send(self, answer, request_id):
        headers = dict(answer.headers)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            if "Request-Id" not in headers:
                self.send_header("Request-Id", request_id)
            self.send_header("Stripe-Version", self.headers.get("Stripe-Version")
                             or self.app.config.api_version)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away before the answer to %s", self.path)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(app, host, port):
    handler = type("BoundHandler", (Handler,), {"app": app})
    return Server((host, port), handler)
