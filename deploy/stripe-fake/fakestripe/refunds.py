"""Refunds and charges of the fake's own PaymentIntents (`/v1/refunds`, `/v1/charges`).

A charge made by a PaymentIntent here lives here; a charge the upstream mock made (through
its `/v1/charges`) lives there. A handler answers `PROXY` for an id it does not hold, and the
server forwards the request unchanged.
"""

from . import events, forms
from .errors import invalid, invalid_param, no_such, unexpected_state
from .store import expand, list_page, new_id, newest_first
from .upstream import PROXY
REFUND_PARAMS = {"payment_intent", "charge", "amount", "reason", "metadata", "expand",
                 "instructions_email", "origin", "refund_application_fee", "reverse_transfer",
                 "currency", "customer"}
REFUND_EXPANDABLE = {"charge": "charge", "payment_intent": "payment_intent"}
CHARGE_EXPANDABLE = {"payment_intent": "payment_intent"}
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _money(amount, currency):
    return "%.2f %s" % (amount / 100, currency)


def _charge_to_refund(ctx, params):
    """The local charge a refund request names, or PROXY for one of the upstream's."""
    store = ctx.app.store
    intent_id = forms.string(params, "payment_intent") or None
    charge_id = forms.string(params, "charge") or None
    if not intent_id and not charge_id:
        raise invalid_param("One of the following params should be provided for this request: "
                            "payment_intent or charge.", "payment_intent")
    if charge_id and not intent_id:
        return store.objects("charge").get(charge_id) or PROXY
    intent = store.get("payment_intent", intent_id, "payment_intent", "payment_intent")
    charge = store.objects("charge").get(intent["latest_charge"] or "")
    if intent["status"] != "succeeded" or charge is None or not charge["captured"]:
        raise unexpected_state("This PaymentIntent (%s) does not have a successful charge to "
                               "refund." % intent_id, param="payment_intent")
    if charge_id and charge_id != charge["id"]:
        raise invalid("The charge %s does not belong to PaymentIntent %s."
                      % (charge_id, intent_id), param="charge")
    return charge


def create(ctx, params):
    forms.reject_unknown(params, REFUND_PARAMS)
    charge = _charge_to_refund(ctx, params)
    if charge is PROXY:
        return PROXY
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid("Charge %s has already been refunded." % charge["id"],
                      param="charge", code="charge_already_refunded")
    amount = forms.integer(params, "amount", minimum=1)
    if amount is None:
        amount = remaining
    if amount > remaining:
        raise invalid("Refund amount (%s) is greater than unrefunded amount on charge (%s)"
                      % (_money(amount, charge["currency"]), _money(remaining, charge["currency"])),
                      param="amount", code="amount_too_large")
    store = ctx.app.store
    refund = store.put({
        "id": new_id("re_"), "object": "refund", "amount": amount,
        "balance_transaction": new_id("txn_"), "charge": charge["id"],
        "created": store.now(), "currency": charge["currency"], "description": None,
        "destination_details": None, "metadata": forms.metadata(params),
        "payment_intent": charge["payment_intent"],
        "reason": forms.choice(params, "reason", REASONS), "receipt_number": None,
        "source_transfer_reversal": None, "status": "succeeded", "transfer_reversal": None,
    })
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    events.record(ctx, "refund.created", refund)
    events.record(ctx, "charge.refunded", charge)
    return 200, expand(store, refund, params, REFUND_EXPANDABLE)


def retrieve(ctx, params, refund_id):
    refund = ctx.app.store.objects("refund").get(refund_id)
    if refund is None:
        return PROXY
    return 200, expand(ctx.app.store, refund, params, REFUND_EXPANDABLE)


def update(ctx, params, refund_id):
    refund = ctx.app.store.objects("refund").get(refund_id)
    if refund is None:
        return PROXY
    forms.reject_unknown(params, {"metadata", "expand"})
    refund["metadata"] = forms.metadata(params, refund["metadata"])
    events.record(ctx, "refund.updated", refund)
    return 200, expand(ctx.app.store, refund, params, REFUND_EXPANDABLE)


def list_all(ctx, params):
    store = ctx.app.store
    intent_id = forms.string(params, "payment_intent") or None
    charge_id = forms.string(params, "charge") or None
    if charge_id and charge_id not in store.objects("charge"):
        return PROXY
    if not intent_id and not charge_id:
        return PROXY  # an unfiltered list is the upstream's; ours are found by their filter
    if intent_id and intent_id not in store.objects("payment_intent"):
        raise no_such("payment_intent", intent_id, "payment_intent")
    items = [r for r in newest_first(store.objects("refund").values())
             if (not intent_id or r["payment_intent"] == intent_id)
             and (not charge_id or r["charge"] == charge_id)]
    return 200, list_page(items, params, "/v1/refunds")


def retrieve_charge(ctx, params, charge_id):
    charge = ctx.app.store.objects("charge").get(charge_id)
    if charge is None:
        return PROXY
    return 200, expand(ctx.app.store, charge, params, CHARGE_EXPANDABLE)


def list_charges(ctx, params):
    intent_id = forms.string(params, "payment_intent") or None
    if not intent_id:
        return PROXY
    items = [c for c in newest_first(ctx.app.store.objects("charge").values())
             if c["payment_intent"] == intent_id]
    return 200, list_page(items, params, "/v1/charges")
