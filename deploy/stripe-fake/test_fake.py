"""Tests for the local Stripe fake (standard library only).

Run from the repository root: `python3 -m unittest deploy/stripe-fake/test_fake.py`.
Each test class starts the fake as a real process on a free port, next to a stub upstream
(standing in for stripe-stateful-mock) and a webhook receiver, both in this process.
Tests wait on the fake's `/_fake/deliveries/wait`, never on a sleep.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fakestripe import forms  # noqa: E402  (needs the path above)
from fakestripe.errors import StripeError  # noqa: E402

KEY = "sk_test_berth_local"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- helpers -----------------------------------------------------------------------------

class Recorder(ThreadingHTTPServer):
    """A local HTTP server that records requests and answers with `respond(request)`."""

    daemon_threads = True

    def __init__(self, respond):
        self.requests, self.respond, self.lock = [], respond, threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = {"method": self.command, "path": self.path,
                           "headers": dict(self.headers), "body": body}
                with recorder.lock:
                    recorder.requests.append(request)
                status, payload = recorder.respond(request)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def received(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.shutdown()
        self.server_close()


def stub_upstream(request):
    """Enough of stripe-stateful-mock: two customers, one deleted, and an echo."""
    path = request["path"].split("?")[0]
    if path == "/v1/customers/cus_known":
        return 200, {"id": "cus_known", "object": "customer", "livemode": False}
    if path == "/v1/customers/cus_gone":
        return 200, {"id": "cus_gone", "object": "customer", "deleted": True}
    if path.startswith("/v1/customers/"):
        return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                               "message": "No such customer", "param": "id"}}
    return 200, {"echo": request["body"].decode(), "path": request["path"]}


def accept(request):
    return 200, {"received": True}


class Fake:
    """The fake as a subprocess; `start` waits for its "listening on" line."""

    def __init__(self, state_dir, *extra):
        self.state_dir, self.extra, self.process, self.url = state_dir, extra, None, None

    def start(self):
        command = [sys.executable, os.path.join(HERE, "fake.py"), "--listen", "127.0.0.1:0",
                   "--state-dir", self.state_dir, "--retry-delay-ms", "20"] + list(self.extra)
        # The log goes to a file: a pipe nobody reads could fill up and stall the fake.
        self.log = open(os.path.join(self.state_dir, "fake.log"), "a+")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log,
                                        text=True)
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.process.kill()
            self.log.seek(0)
            raise RuntimeError("fake did not start: %r %s" % (line, self.log.read()))
        self.url = line.strip().split("listening on ")[1].rstrip("/")
        return self

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.log.close()


def call(base, method, path, params=None, key=KEY, headers=None, raw=None, json_body=None):
    """One HTTP request; answers (status, headers, decoded JSON body)."""
    data = raw
    if params is not None:
        data = urlencode(params, doseq=True).encode()
        if method == "GET":
            path, data = path + "?" + data.decode(), None
    if json_body is not None:
        data = json.dumps(json_body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if key:
        request.add_header("Authorization", "Bearer " + key)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with NO_PROXY.open(request, timeout=20) as response:
            return response.status, response.headers, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, json.loads(error.read() or b"{}")


class FakeTestCase(unittest.TestCase):
    """One fake per class, with a stub upstream and a webhook receiver; reset per test."""

    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.upstream = Recorder(stub_upstream)
        cls.receiver = Recorder(accept)
        cls.state_dir = tempfile.mkdtemp(prefix="stripe-fake-test-")
        cls.fake = Fake(cls.state_dir, "--upstream", cls.upstream.url, *cls.extra_args).start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        cls.upstream.stop()
        cls.receiver.stop()
        shutil.rmtree(cls.state_dir, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.admin("POST", "/_fake/reset")[0], 200)
        with self.receiver.lock:
            self.receiver.requests.clear()
        with self.upstream.lock:
            self.upstream.requests.clear()
        self.receiver.respond = accept

    def api(self, method, path, params=None, **kwargs):
        return call(self.fake.url, method, path, params, **kwargs)

    def admin(self, method, path, body=None, query=None):
        full = path + ("?" + urlencode(query) if query else "")
        return call(self.fake.url, method, full, key=None, json_body=body)

    def endpoint(self, events=("*",)):
        status, _, endpoint = self.api("POST", "/v1/webhook_endpoints", [
            ("url", self.receiver.url + "/hooks/stripe")] + [("enabled_events[]", e) for e in events])
        self.assertEqual(status, 200, endpoint)
        return endpoint

    def wait_deliveries(self):
        status, _, body = self.admin("POST", "/_fake/deliveries/wait", {"timeout_ms": 10000})
        self.assertTrue(body["idle"], body)

    def paid_intent(self, amount=1000, **extra):
        params = {"amount": amount, "currency": "eur", "payment_method": "pm_card_visa",
                  "confirm": "true", "off_session": "true", "customer": "cus_known"}
        params.update(extra)
        status, _, intent = self.api("POST", "/v1/payment_intents", params)
        self.assertEqual(status, 200, intent)
        return intent


# --- form parsing --------------------------------------------------------------------------

class FormParsingTest(unittest.TestCase):
    def test_brackets_become_nested_hashes_and_arrays(self):
        parsed = forms.parse("metadata[invoice_id]=x&expand[]=a&expand[]=b"
                             "&items[0][price]=p&items[1][price]=q&items[1][quantity]=2"
                             "&payment_method_types[]=card&amount=100")
        self.assertEqual(parsed, {
            "metadata": {"invoice_id": "x"}, "expand": ["a", "b"],
            "items": [{"price": "p"}, {"price": "q", "quantity": "2"}],
            "payment_method_types": ["card"], "amount": "100"})

    def test_percent_encoded_brackets_as_serde_qs_writes_them(self):
        self.assertEqual(forms.parse("expand%5B0%5D=latest_charge&metadata%5Bk%5D=v%20w"),
                         {"expand": ["latest_charge"], "metadata": {"k": "v w"}})

    def test_numeric_metadata_keys_stay_a_hash(self):
        parsed = forms.parse("metadata[0]=a&metadata[1]=b")
        self.assertEqual(forms.metadata(parsed), {"0": "a", "1": "b"})

    def test_a_key_used_as_both_scalar_and_hash_is_refused(self):
        with self.assertRaises(StripeError) as caught:
            forms.parse("metadata=x&metadata[a]=b")
        self.assertEqual(caught.exception.status, 400)

    def test_invalid_utf8_is_refused(self):
        with self.assertRaises(StripeError):
            forms.parse(b"description=%ff%fe")


class ParametersOverHttpTest(FakeTestCase):
    def test_nested_and_array_parameters_reach_the_object(self):
        status, _, intent = self.api("POST", "/v1/payment_intents", [
            ("amount", "2000"), ("currency", "EUR"), ("metadata[invoice_id]", "inv_1"),
            ("metadata[tenant]", "t1"), ("payment_method_types[]", "card"),
            ("payment_method", "pm_card_visa"), ("confirm", "true"),
            ("expand[]", "latest_charge"), ("expand[]", "payment_method")])
        self.assertEqual(status, 200, intent)
        self.assertEqual(intent["metadata"], {"invoice_id": "inv_1", "tenant": "t1"})
        self.assertEqual(intent["payment_method_types"], ["card"])
        self.assertEqual(intent["currency"], "eur")
        self.assertEqual(intent["latest_charge"]["object"], "charge")
        self.assertEqual(intent["payment_method"]["card"]["last4"], "4242")

    def test_missing_amount_is_parameter_missing(self):
        status, _, body = self.api("POST", "/v1/payment_intents", {"currency": "eur"})
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "parameter_missing")
        self.assertEqual(body["error"]["param"], "amount")

    def test_unknown_parameter_is_refused_like_stripe(self):
        status, _, body = self.api("POST", "/v1/payment_intents",
                                   {"amount": 1000, "currency": "eur", "colour": "red"})
        self.assertEqual((status, body["error"]["param"]), (400, "colour"))

    def test_garbage_does_not_stop_the_fake(self):
        for raw in (b"%%%", b"a[=1", b"\xff\xfe=\x00", b"x" * 5000):
            status, headers, body = self.api("POST", "/v1/payment_intents", raw=raw)
            self.assertIn(status, (400, 404), body)
            self.assertEqual(body["error"]["type"], "invalid_request_error")
        status, _, _ = self.admin("POST", "/_fake/clock", None)
        self.assertEqual(status, 200)
        status, _, body = call(self.fake.url, "POST", "/_fake/events/deliver", key=None,
                               raw=b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(self.admin("GET", "/_fake/health")[2]["ok"], True)

    def test_a_broken_request_line_gets_a_stripe_error(self):
        host, port = self.fake.url.split("//")[1].split(":")
        for raw in (b"GARBAGE\r\n\r\n", b"BREW /v1/x HTTP/1.1\r\nHost: x\r\n\r\n"):
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(raw)
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            if raw.startswith(b"GARBAGE"):
                head, body = b"", answer  # read as HTTP/0.9, which has no headers
            else:
                head, _, body = answer.partition(b"\r\n\r\n")
                self.assertIn(b"Request-Id: req_", head)
            self.assertIn("message", json.loads(body)["error"])


# --- authentication and idempotency ----------------------------------------------------

class AuthTest(FakeTestCase):
    def test_missing_key_is_401(self):
        status, headers, body = self.api("GET", "/v1/payment_intents", key=None)
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["type"], "invalid_request_error")
        self.assertTrue(headers["Request-Id"].startswith("req_"))

    def test_wrong_key_is_401(self):
        status, _, body = self.api("GET", "/v1/payment_intents", key="sk_test_wrong")
        self.assertEqual(status, 401)
        self.assertIn("Invalid API Key", body["error"]["message"])

    def test_basic_auth_with_the_key_as_user_is_accepted(self):
        token = base64.b64encode((KEY + ":").encode()).decode()
        status, _, body = call(self.fake.url, "GET", "/v1/payment_intents", key=None,
                               headers={"Authorization": "Basic " + token})
        self.assertEqual((status, body["object"]), (200, "list"))


class IdempotencyTest(FakeTestCase):
    params = {"amount": 1500, "currency": "eur", "metadata[invoice]": "inv_idem"}

    def count(self, invoice="inv_idem"):
        return self.admin("GET", "/_fake/payment_intents", query={"metadata[invoice]": invoice}
                          )[2]["count"]

    def test_same_key_same_parameters_replays_the_first_answer(self):
        first = self.api("POST", "/v1/payment_intents", self.params,
                         headers={"Idempotency-Key": "k-1"})
        second = self.api("POST", "/v1/payment_intents", self.params,
                          headers={"Idempotency-Key": "k-1"})
        self.assertEqual(first[0], 200)
        self.assertEqual(second[0], 200)
        self.assertEqual(first[2], second[2])
        self.assertEqual(second[1]["Idempotent-Replayed"], "true")
        self.assertIsNone(first[1]["Idempotent-Replayed"])
        self.assertEqual(self.count(), 1)

    def test_same_key_different_parameters_is_an_idempotency_error(self):
        self.api("POST", "/v1/payment_intents", self.params, headers={"Idempotency-Key": "k-2"})
        changed = dict(self.params, amount=1600)
        status, _, body = self.api("POST", "/v1/payment_intents", changed,
                                   headers={"Idempotency-Key": "k-2"})
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["type"], "idempotency_error")
        self.assertEqual(self.count(), 1)

    def test_a_declined_payment_is_replayed_with_its_402(self):
        params = {"amount": 1500, "currency": "eur", "confirm": "true", "off_session": "true",
                  "payment_method": "pm_card_chargeDeclined", "metadata[invoice]": "inv_d"}
        first = self.api("POST", "/v1/payment_intents", params, headers={"Idempotency-Key": "k-3"})
        second = self.api("POST", "/v1/payment_intents", params, headers={"Idempotency-Key": "k-3"})
        self.assertEqual((first[0], second[0]), (402, 402))
        self.assertEqual(first[2], second[2])
        self.assertEqual(self.count("inv_d"), 1)

    def test_a_validation_error_is_not_stored_under_the_key(self):
        status, _, _ = self.api("POST", "/v1/payment_intents", {"currency": "eur"},
                                headers={"Idempotency-Key": "k-4"})
        self.assertEqual(status, 400)
        status, headers, _ = self.api("POST", "/v1/payment_intents", self.params,
                                      headers={"Idempotency-Key": "k-4"})
        self.assertEqual(status, 200)
        self.assertIsNone(headers["Idempotent-Replayed"])

    def test_concurrent_requests_with_one_key_create_one_object(self):
        statuses = []

        def send():
            statuses.append(self.api("POST", "/v1/payment_intents", self.params,
                                     headers={"Idempotency-Key": "k-race"})[0])

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertLessEqual(set(statuses), {200, 409})
        self.assertEqual(self.count(), 1)

    def test_keys_expire_after_24_hours(self):
        self.api("POST", "/v1/payment_intents", self.params, headers={"Idempotency-Key": "k-5"})
        self.admin("POST", "/_fake/clock", {"advance_secs": 24 * 3600 + 1})
        status, headers, _ = self.api("POST", "/v1/payment_intents", self.params,
                                      headers={"Idempotency-Key": "k-5"})
        self.assertEqual(status, 200)
        self.assertIsNone(headers["Idempotent-Replayed"])
        self.assertEqual(self.count(), 2)


# --- payment methods, intents, refunds ----------------------------------------------------

class PaymentTest(FakeTestCase):
    def test_attaching_a_test_card_makes_a_new_payment_method_for_the_customer(self):
        status, _, pm = self.api("POST", "/v1/payment_methods/pm_card_visa/attach",
                                 {"customer": "cus_known"})
        self.assertEqual(status, 200, pm)
        self.assertTrue(pm["id"].startswith("pm_") and pm["id"] != "pm_card_visa")
        self.assertEqual((pm["customer"], pm["card"]["brand"]), ("cus_known", "visa"))
        listed = self.api("GET", "/v1/customers/cus_known/payment_methods", {"type": "card"})[2]
        self.assertEqual([p["id"] for p in listed["data"]], [pm["id"]])
        self.assertEqual(self.api("GET", "/v1/payment_methods", {"customer": "cus_known",
                                                                 "type": "card"})[2]["data"],
                         listed["data"])

    def test_attaching_to_an_unknown_customer_is_404_naming_customer(self):
        for customer in ("cus_missing", "cus_gone"):
            status, _, body = self.api("POST", "/v1/payment_methods/pm_card_visa/attach",
                                       {"customer": customer})
            self.assertEqual(status, 404)
            self.assertEqual(body["error"]["code"], "resource_missing")
            self.assertEqual(body["error"]["param"], "customer")

    def test_unknown_payment_method_is_404(self):
        status, _, body = self.api("GET", "/v1/payment_methods/pm_nope")
        self.assertEqual((status, body["error"]["code"]), (404, "resource_missing"))
        self.assertEqual(body["error"]["param"], "payment_method")

    def test_off_session_payment_with_a_saved_card_succeeds(self):
        pm = self.api("POST", "/v1/payment_methods/pm_card_mastercard/attach",
                      {"customer": "cus_known"})[2]
        intent = self.paid_intent(payment_method=pm["id"], description="renewal")
        self.assertEqual(intent["status"], "succeeded")
        self.assertEqual(intent["amount_received"], 1000)
        self.assertTrue(intent["latest_charge"].startswith("ch_"))
        self.assertEqual(intent["payment_method"], pm["id"])
        charge = self.api("GET", "/v1/charges/" + intent["latest_charge"])[2]
        self.assertEqual((charge["paid"], charge["payment_intent"]), (True, intent["id"]))

    def test_declined_off_session_payment_is_402_with_the_payment_intent(self):
        status, _, body = self.api("POST", "/v1/payment_intents", {
            "amount": 1000, "currency": "eur", "customer": "cus_known", "confirm": "true",
            "off_session": "true", "payment_method": "pm_card_chargeDeclinedInsufficientFunds"})
        self.assertEqual(status, 402)
        error = body["error"]
        self.assertEqual((error["type"], error["code"], error["decline_code"]),
                         ("card_error", "card_declined", "insufficient_funds"))
        intent = error["payment_intent"]
        self.assertEqual(intent["status"], "requires_payment_method")
        self.assertEqual(intent["last_payment_error"]["decline_code"], "insufficient_funds")
        stored = self.api("GET", "/v1/payment_intents/" + intent["id"])[2]
        self.assertEqual(stored["status"], "requires_payment_method")

    def test_expired_card_declines_with_expired_card(self):
        status, _, body = self.api("POST", "/v1/payment_intents", {
            "amount": 1000, "currency": "eur", "confirm": "true",
            "payment_method": "pm_card_chargeDeclinedExpiredCard"})
        self.assertEqual((status, body["error"]["code"]), (402, "expired_card"))

    def test_confirm_and_cancel_follow_stripes_state_machine(self):
        intent = self.api("POST", "/v1/payment_intents", {"amount": 800, "currency": "eur"})[2]
        self.assertEqual(intent["status"], "requires_payment_method")
        confirmed = self.api("POST", "/v1/payment_intents/%s/confirm" % intent["id"],
                             {"payment_method": "pm_card_visa"})[2]
        self.assertEqual(confirmed["status"], "succeeded")
        status, _, body = self.api("POST", "/v1/payment_intents/%s/cancel" % intent["id"])
        self.assertEqual((status, body["error"]["code"]), (400, "payment_intent_unexpected_state"))

    def test_an_update_that_fails_validation_changes_nothing(self):
        intent = self.api("POST", "/v1/payment_intents", {"amount": 800, "currency": "eur"})[2]
        status, _, _ = self.api("POST", "/v1/payment_intents/" + intent["id"], {
            "description": "changed", "amount": 900, "payment_method": "pm_missing"})
        self.assertEqual(status, 404)
        after = self.api("GET", "/v1/payment_intents/" + intent["id"])[2]
        self.assertEqual(after, intent)

    def test_list_filters_by_customer_and_search_finds_metadata(self):
        self.paid_intent(**{"metadata[invoice]": "inv_A"})
        self.api("POST", "/v1/payment_intents", {"amount": 700, "currency": "eur",
                                                 "metadata[invoice]": "inv_B"})
        listed = self.api("GET", "/v1/payment_intents", {"customer": "cus_known"})[2]
        self.assertEqual((listed["object"], len(listed["data"]), listed["has_more"]),
                         ("list", 1, False))
        found = self.api("GET", "/v1/payment_intents/search",
                         {"query": "metadata['invoice']:'inv_B'"})[2]
        self.assertEqual([pi["metadata"]["invoice"] for pi in found["data"]], ["inv_B"])
        counts = self.admin("GET", "/_fake/payment_intents", query={"metadata[invoice]": "inv_A"})
        self.assertEqual((counts[2]["count"], counts[2]["succeeded"]), (1, 1))

    def test_lists_page_with_cursors_and_expand_under_data(self):
        first, second = self.paid_intent(), self.paid_intent()
        page = self.api("GET", "/v1/payment_intents",
                        [("limit", "1"), ("expand[]", "data.latest_charge")])[2]
        self.assertEqual(([pi["id"] for pi in page["data"]], page["has_more"]),
                         ([second["id"]], True))
        self.assertEqual(page["data"][0]["latest_charge"]["object"], "charge")
        rest = self.api("GET", "/v1/payment_intents",
                        {"limit": 1, "starting_after": second["id"]})[2]
        self.assertEqual(([pi["id"] for pi in rest["data"]], rest["has_more"]),
                         ([first["id"]], False))

    def test_refunds_are_bounded_by_what_was_charged(self):
        intent = self.paid_intent(amount=1000)
        first = self.api("POST", "/v1/refunds", {"payment_intent": intent["id"], "amount": 600,
                                                 "reason": "requested_by_customer"})
        self.assertEqual((first[0], first[2]["amount"], first[2]["status"]),
                         (200, 600, "succeeded"))
        too_much = self.api("POST", "/v1/refunds", {"payment_intent": intent["id"],
                                                    "amount": 500})
        self.assertEqual((too_much[0], too_much[2]["error"]["param"]), (400, "amount"))
        rest = self.api("POST", "/v1/refunds", {"payment_intent": intent["id"]})[2]
        self.assertEqual(rest["amount"], 400)
        again = self.api("POST", "/v1/refunds", {"payment_intent": intent["id"]})
        self.assertEqual(again[2]["error"]["code"], "charge_already_refunded")
        self.assertEqual(self.api("GET", "/v1/refunds/" + rest["id"])[2]["amount"], 400)
        charge = self.api("GET", "/v1/charges/" + intent["latest_charge"])[2]
        self.assertEqual((charge["amount_refunded"], charge["refunded"]), (1000, True))

    def test_an_unpaid_intent_cannot_be_refunded(self):
        intent = self.api("POST", "/v1/payment_intents", {"amount": 800, "currency": "eur"})[2]
        status, _, body = self.api("POST", "/v1/refunds", {"payment_intent": intent["id"]})
        self.assertEqual(status, 400, body)


# --- events and webhooks ---------------------------------------------------------------

def check_signature(test, request, secret):
    """Verify Stripe-Signature from the raw body, independently of the fake's code."""
    header = request["headers"]["Stripe-Signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + request["body"],
                        hashlib.sha256).hexdigest()
    test.assertTrue(hmac.compare_digest(fields["v1"], expected), header)
    return int(fields["t"])


class WebhookTest(FakeTestCase):
    def test_events_are_recorded_with_their_request(self):
        status, headers, intent = self.api("POST", "/v1/payment_intents", {
            "amount": 1000, "currency": "eur", "payment_method": "pm_card_visa",
            "confirm": "true"}, headers={"Idempotency-Key": "evt-key"})
        listed = self.api("GET", "/v1/events", {"type": "payment_intent.succeeded"})[2]
        self.assertEqual(len(listed["data"]), 1)
        event = self.api("GET", "/v1/events/" + listed["data"][0]["id"])[2]
        self.assertEqual(event["data"]["object"]["id"], intent["id"])
        self.assertEqual(event["request"], {"id": headers["Request-Id"],
                                            "idempotency_key": "evt-key"})
        self.assertEqual(event["pending_webhooks"], 0)
        types = {e["type"] for e in self.api("GET", "/v1/events", {"limit": 100})[2]["data"]}
        self.assertEqual(types, {"payment_intent.created", "payment_intent.succeeded",
                                 "charge.succeeded"})

    def test_delivery_is_signed_over_the_raw_body(self):
        endpoint = self.endpoint()
        self.assertTrue(endpoint["secret"].startswith("whsec_"))
        self.paid_intent()
        self.wait_deliveries()
        received = self.receiver.received()
        self.assertEqual(len(received), 3)
        for request in received:
            self.assertEqual(request["path"], "/hooks/stripe")
            self.assertEqual(request["headers"]["Content-Type"], "application/json; charset=utf-8")
            stamp = check_signature(self, request, endpoint["secret"])
            self.assertLess(abs(stamp - time.time()), 60)
            self.assertEqual(json.loads(request["body"])["object"], "event")

    def test_only_subscribed_events_are_sent(self):
        self.endpoint(events=("payment_intent.succeeded",))
        self.paid_intent()
        self.wait_deliveries()
        types = [json.loads(r["body"])["type"] for r in self.receiver.received()]
        self.assertEqual(types, ["payment_intent.succeeded"])

    def test_failed_deliveries_are_retried_until_they_succeed(self):
        self.endpoint(events=("payment_intent.created",))
        # Refuse every event's first two deliveries (the receiver learns ids as they come).
        refuse = {}

        def script(request):
            event_id = json.loads(request["body"])["id"]
            refuse.setdefault(event_id, [500, 502])
            return (refuse[event_id].pop(0) if refuse[event_id] else 200), {}

        self.receiver.respond = script
        self.api("POST", "/v1/payment_intents", {"amount": 900, "currency": "eur"})
        self.wait_deliveries()
        log = self.admin("GET", "/_fake/deliveries")[2]["data"]
        self.assertEqual([(e["attempt"], e["status"], e["ok"]) for e in log],
                         [(1, 500, False), (2, 502, False), (3, 200, True)])
        for request in self.receiver.received():
            self.assertEqual(json.loads(request["body"])["type"], "payment_intent.created")

    def test_retries_stop_after_the_last_attempt(self):
        self.endpoint(events=("payment_intent.created",))
        self.receiver.respond = lambda request: (500, {})
        self.api("POST", "/v1/payment_intents", {"amount": 900, "currency": "eur"})
        self.wait_deliveries()
        log = self.admin("GET", "/_fake/deliveries")[2]["data"]
        self.assertEqual([e["attempt"] for e in log], [1, 2, 3, 4, 5])
        self.assertFalse(any(e["ok"] for e in log))

    def test_deliver_replays_events_times_over_in_shuffled_order(self):
        endpoint = self.endpoint(events=("payment_intent.*",))
        self.paid_intent()
        self.wait_deliveries()
        with self.receiver.lock:
            self.receiver.requests.clear()
        ids = [e["id"] for e in self.api("GET", "/v1/events",
                                          {"type": "payment_intent.*"})[2]["data"]]
        self.assertEqual(len(ids), 2)
        status, _, result = self.admin("POST", "/_fake/events/deliver",
                                       {"event_ids": ids, "times": 3, "shuffle": True,
                                        "seed": 7})
        self.assertEqual((status, result["count"]), (200, 6))
        self.assertTrue(all(d["status"] == 200 for d in result["deliveries"]))
        received = [json.loads(r["body"])["id"] for r in self.receiver.received()]
        self.assertEqual(received, [d["event_id"] for d in result["deliveries"]])
        self.assertEqual(sorted(received), sorted(ids * 3))
        self.assertNotEqual(received, sorted(received))  # seed 7 does not sort them
        for request in self.receiver.received():
            check_signature(self, request, endpoint["secret"])

    def test_signature_offset_makes_stale_timestamps(self):
        endpoint = self.endpoint(events=("payment_intent.created",))
        self.admin("POST", "/_fake/clock", {"signature_offset_secs": 600})
        self.api("POST", "/v1/payment_intents", {"amount": 900, "currency": "eur"})
        self.wait_deliveries()
        stamp = check_signature(self, self.receiver.received()[0], endpoint["secret"])
        self.assertAlmostEqual(stamp, time.time() - 600, delta=60)

    def test_endpoint_secret_is_shown_only_on_creation_and_delete_works(self):
        endpoint = self.endpoint()
        fetched = self.api("GET", "/v1/webhook_endpoints/" + endpoint["id"])[2]
        self.assertNotIn("secret", fetched)
        self.assertEqual(fetched["url"], endpoint["url"])
        deleted = self.api("DELETE", "/v1/webhook_endpoints/" + endpoint["id"])[2]
        self.assertEqual(deleted, {"id": endpoint["id"], "object": "webhook_endpoint",
                                   "deleted": True})
        self.assertEqual(self.api("GET", "/v1/webhook_endpoints/" + endpoint["id"])[0], 404)


class CommandLineWebhookTest(FakeTestCase):
    secret = "whsec_from_the_command_line"

    @classmethod
    def setUpClass(cls):
        cls.receiver = Recorder(accept)
        cls.extra_args = ("--webhook-url", cls.receiver.url + "/cli",
                          "--webhook-secret", cls.secret)
        cls.upstream = Recorder(stub_upstream)
        cls.state_dir = tempfile.mkdtemp(prefix="stripe-fake-test-")
        cls.fake = Fake(cls.state_dir, "--upstream", cls.upstream.url, *cls.extra_args).start()

    def test_the_fixed_endpoint_receives_every_event(self):
        self.api("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": "cus_known"})
        self.wait_deliveries()
        (request,) = self.receiver.received()
        self.assertEqual(request["path"], "/cli")
        check_signature(self, request, self.secret)
        self.assertEqual(json.loads(request["body"])["type"], "payment_method.attached")


# --- the upstream, and restarts ------------------------------------------------------------

class ProxyTest(FakeTestCase):
    def test_other_routes_are_forwarded_unchanged(self):
        status, _, body = self.api("POST", "/v1/customers?x=1", [("email", "a@example.com"),
                                                                  ("metadata[k]", "v")],
                                   headers={"Idempotency-Key": "proxy-1"})
        self.assertEqual(status, 200)
        self.assertEqual(body["echo"], "email=a%40example.com&metadata%5Bk%5D=v")
        (request,) = self.upstream.received()
        self.assertEqual(request["path"], "/v1/customers?x=1")
        self.assertEqual(request["headers"]["Authorization"], "Bearer " + KEY)
        self.assertEqual(request["headers"]["Idempotency-Key"], "proxy-1")

    def test_upstream_errors_pass_through(self):
        status, headers, body = self.api("GET", "/v1/customers/cus_missing")
        self.assertEqual((status, body["error"]["code"]), (404, "resource_missing"))
        self.assertTrue(headers["Request-Id"].startswith("req_"))

    def test_a_refund_of_an_upstream_charge_is_forwarded(self):
        status, _, body = self.api("POST", "/v1/refunds", {"charge": "ch_upstream", "amount": 5})
        self.assertEqual((status, body["path"]), (200, "/v1/refunds"))


class NoUpstreamTest(unittest.TestCase):
    def test_missing_or_unreachable_upstream_is_a_502_api_error(self):
        closed = Recorder(stub_upstream)
        closed.stop()  # a port nobody listens on any more
        for extra in ((), ("--upstream", closed.url)):
            state_dir = tempfile.mkdtemp(prefix="stripe-fake-test-")
            fake = Fake(state_dir, *extra).start()
            try:
                status, _, body = call(fake.url, "GET", "/v1/customers")
                self.assertEqual((status, body["error"]["type"]), (502, "api_error"))
                status, _, _ = call(fake.url, "GET", "/v1/payment_intents")
                self.assertEqual(status, 200)  # local routes keep working
            finally:
                fake.stop()
                shutil.rmtree(state_dir, ignore_errors=True)


class RestartTest(unittest.TestCase):
    def test_state_survives_a_restart(self):
        state_dir = tempfile.mkdtemp(prefix="stripe-fake-test-")
        self.addCleanup(shutil.rmtree, state_dir, True)
        fake = Fake(state_dir).start()
        try:
            intent = call(fake.url, "POST", "/v1/payment_intents", {
                "amount": 1200, "currency": "eur", "payment_method": "pm_card_visa",
                "confirm": "true"}, headers={"Idempotency-Key": "restart-1"})[2]
        finally:
            fake.stop()
        self.assertTrue(os.path.exists(os.path.join(state_dir, "state.json")))
        fake = Fake(state_dir).start()
        try:
            status, _, again = call(fake.url, "GET", "/v1/payment_intents/" + intent["id"])
            self.assertEqual((status, again), (200, intent))
            status, headers, _ = call(fake.url, "POST", "/v1/payment_intents", {
                "amount": 1200, "currency": "eur", "payment_method": "pm_card_visa",
                "confirm": "true"}, headers={"Idempotency-Key": "restart-1"})
            self.assertEqual(headers["Idempotent-Replayed"], "true")
        finally:
            fake.stop()

    def test_an_unreadable_state_file_is_set_aside(self):
        state_dir = tempfile.mkdtemp(prefix="stripe-fake-test-")
        self.addCleanup(shutil.rmtree, state_dir, True)
        with open(os.path.join(state_dir, "state.json"), "w") as handle:
            handle.write("{half a file")
        fake = Fake(state_dir).start()
        try:
            listed = call(fake.url, "GET", "/v1/payment_intents")[2]
            self.assertEqual(listed["data"], [])
        finally:
            fake.stop()
        self.assertTrue(any(name.startswith("state.json.broken-")
                            for name in os.listdir(state_dir)))


if __name__ == "__main__":
    unittest.main()
