"""All of the fake's state, one lock, and `state.json` so a restart keeps it.

Objects are kept exactly as the API returns them (Stripe-shaped dicts), grouped by their
`object` name and in creation order; the few facts Stripe keeps but never shows (which test
card a PaymentMethod came from, whether it was used once unattached) live in `hidden`.
"""

import copy
import json
import logging
import os
import secrets
import string
import threading
import time

from .errors import invalid_param, no_such

log = logging.getLogger("stripe-fake")

ID_ALPHABET = string.ascii_letters + string.digits
KINDS = ("payment_method", "payment_intent", "charge", "refund", "event", "webhook_endpoint")
MAX_DELIVERY_LOG = 2000


def new_id(prefix, length=24):
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def empty_state():
    return {
        "objects": {kind: {} for kind in KINDS},
        "hidden": {"pm_card": {}, "pm_consumed": {}},
        "idempotency": {},
        "deliveries": [],
        "clock": {"offset_secs": 0, "signature_offset_secs": 0},
    }


class Store:
    """The state dict behind an RLock; callers hold `lock` for any read-modify-write."""

    def __init__(self, state_dir=None):
        self.lock = threading.RLock()
        self.path = os.path.join(state_dir, "state.json") if state_dir else None
        self.state = empty_state()
        if self.path:
            os.makedirs(state_dir, exist_ok=True)
            self._load()

    # --- persistence ---------------------------------------------------------------

    def _load(self):
        if not os.path.exists(self.path):
            return
        try:
            with open(self.path, encoding="utf-8") as handle:
                loaded = json.load(handle)
            fresh = empty_state()
            fresh.update({key: loaded[key] for key in fresh if key in loaded})
            for kind in KINDS:
                fresh["objects"].setdefault(kind, {})
            self.state = fresh
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # A broken file must not keep the fake from starting; keep it for inspection.
            aside = "%s.broken-%d" % (self.path, int(time.time()))
            log.warning("state file %s unreadable (%s); moved to %s", self.path, exc, aside)
            os.replace(self.path, aside)

    def save(self):
        """Write the whole state atomically (temp file + rename), so a crash never halves it."""
        if not self.path:
            return
        with self.lock:
            data = json.dumps(self.state, separators=(",", ":"))
            temp = self.path + ".tmp"
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(data)
            os.replace(temp, self.path)

    def reset(self):
        with self.lock:
            self.state = empty_state()
            self.save()

    # --- clock -----------------------------------------------------------------------

    def now(self):
        return int(time.time()) + self.state["clock"]["offset_secs"]

    def signature_time(self):
        return self.now() - self.state["clock"]["signature_offset_secs"]

    # --- objects ---------------------------------------------------------------------

    def objects(self, kind):
        return self.state["objects"][kind]

    def put(self, obj):
        self.objects(obj["object"])[obj["id"]] = obj
        return obj

    def get(self, kind, object_id, label=None, param=None):
        """The stored object, or Stripe's 404 naming the object (`label`) and parameter."""
        obj = self.objects(kind).get(object_id) if isinstance(object_id, str) else None
        if obj is None:
            raise no_such(label or kind, object_id, param)
        return obj

    def hidden(self, table):
        return self.state["hidden"].setdefault(table, {})

    def record_delivery(self, entry):
        log_ = self.state["deliveries"]
        log_.append(entry)
        del log_[:-MAX_DELIVERY_LOG]


def snapshot(obj):
    """A deep copy, so an event's `data.object` keeps the state it had when it happened."""
    return copy.deepcopy(obj)


def list_page(items, params, url):
    """Stripe's list envelope over `items` (already newest first) with cursor pagination."""
    limit_raw = params.get("limit")
    limit = 10
    if limit_raw not in (None, ""):
        if not isinstance(limit_raw, str) or not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 100:
            raise invalid_param("Invalid integer: %s; limit must be between 1 and 100." % limit_raw,
                                "limit", "parameter_invalid_integer")
        limit = int(limit_raw)
    ids = [item["id"] for item in items]
    after, before = params.get("starting_after"), params.get("ending_before")
    if after:
        if after not in ids:
            raise no_such("object", after, "starting_after")
        window = items[ids.index(after) + 1:]
        page, has_more = window[:limit], len(window) > limit
    elif before:
        if before not in ids:
            raise no_such("object", before, "ending_before")
        window = items[:ids.index(before)]
        page, has_more = window[-limit:], len(window) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def newest_first(objects):
    """Objects in creation order are reversed: Stripe lists the newest first."""
    return list(reversed(list(objects)))


def created_filter(params, name="created"):
    """A predicate for `created=N` or `created[gt|gte|lt|lte]=N`."""
    value = params.get(name)
    if value in (None, ""):
        return lambda _ts: True
    bounds = value if isinstance(value, dict) else {"eq": value}
    checks = []
    for op, raw in bounds.items():
        if op not in ("eq", "gt", "gte", "lt", "lte") or not isinstance(raw, str) or not raw.isdigit():
            raise invalid_param("Invalid %s filter." % name, name)
        checks.append((op, int(raw)))
    compare = {"eq": int.__eq__, "gt": int.__gt__, "gte": int.__ge__,
               "lt": int.__lt__, "lte": int.__le__}
    return lambda ts: all(compare[op](ts, bound) for op, bound in checks)


def expand(store, obj, params, fields):
    """Apply `expand[]`: replace id fields named in `fields` ({field: kind}) by their objects.

    Only one level, and only for objects the fake holds; others stay ids, which async-stripe's
    `Expandable` accepts either way.
    """
    wanted = params.get("expand") or []
    if isinstance(wanted, str):
        wanted = [wanted]
    if isinstance(wanted, dict):
        wanted = list(wanted.values())
    result = copy.deepcopy(obj)
    for field in wanted:
        if isinstance(field, str) and field.startswith("data."):
            field = field[len("data."):]  # lists and searches name fields under `data.`
        kind = fields.get(field)
        value = result.get(field)
        if kind and isinstance(value, str) and value in store.objects(kind):
            result[field] = copy.deepcopy(store.objects(kind)[value])
    return result
