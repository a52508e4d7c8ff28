"""Webhook delivery: Stripe's signature, asynchronous sending with bounded retries.

Each (event, endpoint) pair is POSTed with the event as pretty-printed JSON, as Stripe sends
it, and the header `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">` keyed
with the endpoint's secret. The exact bytes that are signed are the bytes sent, so a receiver
must verify the raw body. A non-2xx answer, a redirect (Stripe does not follow them) or a
connection failure is retried `max_attempts` times in all, `retry_delay_ms * 2**n` apart.
"""

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import threading
import time
from urllib.parse import urlsplit

from .errors import StripeError
from .events import endpoint as find_endpoint
from .store import new_id

log = logging.getLogger("stripe-fake")
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(secret, timestamp, body):
    signed = b"%d." % timestamp + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (timestamp, digest)


def event_body(event):
    return json.dumps(event, indent=2).encode("utf-8")


def post(url, body, headers, timeout):
    """POST once; answer (status, None) or (None, error text). Never raises."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, "invalid URL %r" % url
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    try:
        connection = connection_class(parts.hostname, parts.port, timeout=timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # Stripe reads and ignores the receiver's answer
            return response.status, None
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, "%s: %s" % (type(exc).__name__, exc)


class Delivery:
    """A small scheduler: jobs ordered by due time, worked by a few threads."""

    def __init__(self, app, max_attempts=5, retry_delay_ms=200, timeout_secs=5.0, workers=2):
        self.app = app
        self.max_attempts = max_attempts
        self.retry_delay_ms = retry_delay_ms
        self.timeout_secs = timeout_secs
        self.workers = workers
        self._jobs = []  # heap of (due, seq, event_id, endpoint_id, attempt, generation)
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._generation = 0
        self._stopped = False
        self._threads = []

    def start(self):
        for number in range(self.workers):
            thread = threading.Thread(target=self._work, name="webhooks-%d" % number,
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def enqueue(self, event_id, endpoint_id, attempt=1, delay_secs=0.0, generation=None):
        with self._cond:
            if generation is None:
                generation = self._generation
            elif generation != self._generation:
                return  # a retry of work from before a reset
            heapq.heappush(self._jobs, (time.monotonic() + delay_secs, next(self._seq),
                                        event_id, endpoint_id, attempt, generation))
            self._cond.notify_all()

    def clear(self):
        """Forget queued work (for `/_fake/reset`); attempts under way are not recorded."""
        with self._cond:
            self._jobs.clear()
            self._generation += 1
            self._cond.notify_all()

    def pending(self):
        with self._cond:
            return len(self._jobs) + self._in_flight

    def wait_idle(self, timeout_secs):
        """Block until nothing is queued or being sent, or the timeout passes."""
        deadline = time.monotonic() + timeout_secs
        with self._cond:
            while self._jobs or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.5))
            return True

    def _work(self):
        while True:
            with self._cond:
                job = self._next_due()
                if job is None:
                    return
                self._in_flight += 1
            try:
                self._run(job)
            except Exception:  # a bug here must not kill the worker thread
                log.exception("webhook delivery failed unexpectedly")
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _next_due(self):
        """Wait (holding the condition) for the earliest job to fall due; None when stopped."""
        while not self._stopped:
            if self._jobs:
                wait = self._jobs[0][0] - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._jobs)
                self._cond.wait(wait)
            else:
                self._cond.wait()
        return None

    def _run(self, job):
        _due, _seq, event_id, endpoint_id, attempt, generation = job
        entry = self.attempt(event_id, endpoint_id, attempt, "automatic", generation)
        if entry and not entry["ok"] and attempt < self.max_attempts:
            delay = self.retry_delay_ms * (2 ** (attempt - 1)) / 1000.0
            self.enqueue(event_id, endpoint_id, attempt + 1, delay, generation)

    def attempt(self, event_id, endpoint_id, attempt, mode, generation=None):
        """One signed POST of one event to one endpoint, recorded in the delivery log."""
        store = self.app.store
        with store.lock:
            event = store.objects("event").get(event_id)
            try:
                target = find_endpoint(self.app, endpoint_id)
            except StripeError:
                target = None
            if event is None or target is None:
                return None  # deleted or reset since it was queued
            body = event_body(event)
            timestamp = store.signature_time()
            url, secret = target["url"], target["secret"]
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature_header(secret, timestamp, body),
            "User-Agent": USER_AGENT,
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
        }
        started = time.monotonic()
        status, error = post(url, body, headers, self.timeout_secs)
        ok = status is not None and 200 <= status < 300
        if status is not None and not ok:
            error = "HTTP %d" % status
        entry = {
            "id": new_id("whdel_"), "mode": mode, "event_id": event_id,
            "event_type": event["type"], "endpoint": endpoint_id, "url": url,
            "attempt": attempt, "status": status, "ok": ok, "error": error,
            "signature_timestamp": timestamp,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
        with store.lock:
            if generation is not None and generation != self._generation:
                return entry  # a reset happened meanwhile: keep the log clean
            entry["at"] = store.now()
            store.record_delivery(entry)
            live = store.objects("event").get(event_id)
            if ok and mode == "automatic" and live and live["pending_webhooks"] > 0:
                live["pending_webhooks"] -= 1
            store.save()
        return entry
