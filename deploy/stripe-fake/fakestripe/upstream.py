"""The upstream mock (stripe-stateful-mock): forwarding and customer look-ups.

Everything under /v1 the fake does not implement goes there unchanged. When no upstream is
configured or it cannot be reached, the answer is a Stripe `api_error` with status 502, which
async-stripe reads as an ordinary Stripe error instead of a transport failure.
"""

import http.client
import json
from urllib.parse import urlsplit

from .errors import api_error, no_such

# What a resource handler answers for a request that is not its own (an upstream charge's
# refund, say): the server then forwards it unchanged.
PROXY = object()

FORWARDED_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key",
                             "Stripe-Version", "Stripe-Account", "Accept", "User-Agent")
# Stripe-Version is not among them: the fake sends its own on every answer.
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Request-Id", "Idempotent-Replayed",
                              "Stripe-Should-Retry")


class Upstream:
    def __init__(self, base_url=None, timeout_secs=10.0):
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout_secs = timeout_secs

    def forward(self, method, path, body, headers):
        """Send the request on; answer (status, [(header, value)], body bytes)."""
        if not self.base_url:
            raise api_error("This request (%s %s) is served by the upstream Stripe mock, but "
                            "the fake was started without --upstream." % (method, path))
        parts = urlsplit(self.base_url)
        prefix = parts.path.rstrip("/")
        sent = {name: headers[name] for name in FORWARDED_REQUEST_HEADERS if headers.get(name)}
        connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                            else http.client.HTTPConnection)
        try:
            connection = connection_class(parts.hostname, parts.port, timeout=self.timeout_secs)
            try:
                connection.request(method, prefix + path, body=body or None, headers=sent)
                response = connection.getresponse()
                payload = response.read()
                kept = [(name, response.getheader(name)) for name in FORWARDED_RESPONSE_HEADERS
                        if response.getheader(name)]
                return response.status, kept, payload
            finally:
                connection.close()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise api_error("The upstream Stripe mock at %s could not be reached: %s"
                            % (self.base_url, exc))

    def check_customer(self, customer_id, authorization, param="customer"):
        """Raise Stripe's 404 unless the upstream knows this customer (and it is not deleted).

        Without an upstream there is nobody to ask, so any id is taken: that keeps the fake
        usable on its own for PaymentIntents without a customer mock.
        """
        if not self.base_url:
            return
        if not isinstance(customer_id, str) or not customer_id or "/" in customer_id:
            raise no_such("customer", customer_id, param)
        status, _headers, payload = self.forward(
            "GET", "/v1/customers/" + customer_id, b"", {"Authorization": authorization})
        if status == 404:
            raise no_such("customer", customer_id, param)
        if status >= 400:
            raise api_error("The upstream answered %d when asked for customer %s."
                            % (status, customer_id))
        try:
            customer = json.loads(payload)
        except ValueError:
            raise api_error("The upstream answered customer %s with invalid JSON." % customer_id)
        if customer.get("deleted"):
            raise no_such("customer", customer_id, param)
