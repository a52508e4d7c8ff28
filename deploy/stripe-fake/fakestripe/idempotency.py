"""Idempotency keys, as Stripe documents them.

A POST with `Idempotency-Key` stores its answer (status and body) for 24 hours, scoped to the
API key. The same key with the same method, path and parameters replays that answer with
`Idempotent-Replayed: true`; with anything else it is refused with 400 `idempotency_error`;
while the first request is still running, a second one gets 409. Answers to requests that
failed validation are not stored, so the caller may fix the input and retry with the key.
"""

import hashlib
import json
import threading

from .errors import StripeError

TTL_SECS = 24 * 3600
MAX_KEY_LENGTH = 255


def fingerprint(method, path, params):
    canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def scope(api_key, key):
    # The API key itself is a secret: keep only a digest of it in state.json.
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16] + ":" + key


class Keys:
    def __init__(self, store):
        self.store = store
        self._running = set()
        self._lock = threading.Lock()

    def _table(self):
        return self.store.state["idempotency"]

    def begin(self, api_key, key, print_):
        """Answer the stored entry to replay, or None after claiming the key for this request."""
        if len(key) > MAX_KEY_LENGTH:
            raise StripeError(400, "invalid_request_error",
                              "Idempotency-Key must be at most %d characters." % MAX_KEY_LENGTH,
                              param="Idempotency-Key", replayable=False)
        name = scope(api_key, key)
        with self.store.lock, self._lock:
            self._expire()
            if name in self._running:
                raise StripeError(409, "idempotency_error",
                                  "There is currently another in-progress request using this "
                                  "idempotency key. Try again later.",
                                  code="idempotency_key_in_use")
            entry = self._table().get(name)
            if entry is None:
                self._running.add(name)
                return None
            if entry["fingerprint"] != print_:
                raise StripeError(400, "idempotency_error",
                                  "Keys for idempotent requests can only be used with the same "
                                  "parameters they were first used with. Try using a key other "
                                  "than '%s' if you meant to execute a different request." % key)
            return entry

    def finish(self, api_key, key, print_, status, body, content_type, request_id, keep):
        name = scope(api_key, key)
        with self.store.lock, self._lock:
            self._running.discard(name)
            if keep:
                self._table()[name] = {
                    "fingerprint": print_, "status": status,
                    "body": body.decode("utf-8", "replace"), "content_type": content_type,
                    "request_id": request_id, "created": self.store.now()}
                self.store.save()

    def _expire(self):
        oldest = self.store.now() - TTL_SECS
        table = self._table()
        for name in [name for name, entry in table.items() if entry["created"] < oldest]:
            del table[name]
