"""Stripe's error object, raised as an exception and rendered once by the server.

The body is `{"error": {...}}` as in Stripe's API reference. async-stripe's `ApiErrors` needs
only `type`; every other field is optional there, but we send the keys Stripe sends (with
nulls) so a client that logs the whole object sees the familiar shape.
"""

DOC_BASE = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An API error with its HTTP status.

    `replayable` is False for errors found before the endpoint started its work (a malformed
    or missing parameter). Stripe does not store those under an idempotency key, so a retry
    with corrected input and the same key is executed.
    """

    def __init__(self, status, type_, message, code=None, param=None, decline_code=None,
                 replayable=True, headers=None, **extra):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.replayable = replayable
        self.headers = headers or {}
        self.extra = extra

    def body(self, request_id=None):
        error = {
            "type": self.type,
            "code": self.code,
            "decline_code": self.decline_code,
            "message": self.message,
            "param": self.param,
        }
        if self.code:
            error["doc_url"] = DOC_BASE + self.code
        if request_id:
            error["request_log_url"] = (
                "https://dashboard.stripe.com/test/logs/" + request_id)
        error.update(self.extra)
        return {"error": error}


def invalid(message, param=None, code=None, replayable=True, status=400):
    return StripeError(status, "invalid_request_error", message, code=code, param=param,
                       replayable=replayable)


def invalid_param(message, param, code=None):
    """A parameter that fails validation: never stored under an idempotency key."""
    return invalid(message, param=param, code=code, replayable=False)


def missing_param(param):
    return invalid_param("Missing required param: %s." % param, param, "parameter_missing")


def unknown_param(param):
    return invalid_param("Received unknown parameter: %s" % param, param, "parameter_unknown")


def no_such(kind, object_id, param=None):
    """Stripe's 404 for an id that does not exist, e.g. "No such PaymentMethod: 'pm_x'"."""
    return StripeError(404, "invalid_request_error", "No such %s: '%s'" % (kind, object_id),
                       code="resource_missing", param=param)


def unexpected_state(message, code="payment_intent_unexpected_state", param=None, **extra):
    return StripeError(400, "invalid_request_error", message, code=code, param=param, **extra)


def api_error(message, status=502):
    return StripeError(status, "api_error", message)


def unauthorized(message):
    return StripeError(401, "invalid_request_error", message,
                       headers={"WWW-Authenticate": 'Basic realm="Stripe"'})
