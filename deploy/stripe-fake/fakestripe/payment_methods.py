"""PaymentMethods: retrieve, attach, detach, update and list (`/v1/payment_methods`).

Only card PaymentMethods from Stripe's test names exist here (`cards.TEST_CARDS`). Stripe's
reuse rule is kept: a PaymentMethod that was charged without being attached to a customer,
or was detached, cannot be used or attached again.
"""

from . import cards, events, forms
from .errors import invalid, no_such
from .store import list_page, newest_first

REUSE_MESSAGE = ("The provided PaymentMethod was previously used with a PaymentIntent without "
                 "Customer attachment, shared with a connected account without Customer "
                 "attachment, or was detached from a Customer. It may not be used again. To use "
                 "a PaymentMethod multiple times, you must attach it to a Customer first.")


def lookup(ctx, payment_method_id, param="payment_method"):
    """A stored PaymentMethod, or a fresh one when the id is one of Stripe's test names."""
    store = ctx.app.store
    if cards.is_test_name(payment_method_id):
        return cards.new_payment_method(store, payment_method_id)
    return store.get("payment_method", payment_method_id, "PaymentMethod", param)


def consumed(ctx, pm):
    return pm["id"] in ctx.app.store.hidden("pm_consumed")


def mark_consumed(ctx, pm):
    ctx.app.store.hidden("pm_consumed")[pm["id"]] = True


def for_payment(ctx, payment_method_id, customer):
    """The PaymentMethod a PaymentIntent may charge for `customer` (None for a guest)."""
    pm = lookup(ctx, payment_method_id)
    if pm["customer"] and pm["customer"] != customer:
        if customer is None:
            message = ("The provided PaymentMethod is attached to a Customer; provide that "
                       "Customer's id as `customer` to use it.")
        else:
            message = "The provided PaymentMethod belongs to a different Customer."
        raise invalid(message, param="payment_method")
    if not pm["customer"] and consumed(ctx, pm):
        raise invalid(REUSE_MESSAGE, param="payment_method")
    return pm


def attach_to(ctx, pm, customer):
    pm["customer"] = customer
    events.record(ctx, "payment_method.attached", pm)


# --- handlers (called with the store lock held) ------------------------------------------

def retrieve(ctx, params, payment_method_id):
    return 200, lookup(ctx, payment_method_id, "payment_method")


def attach(ctx, params, payment_method_id):
    forms.reject_unknown(params, {"customer", "customer_account", "expand"})
    customer = forms.string(params, "customer", required=True, allow_empty=False)
    ctx.app.upstream.check_customer(customer, ctx.authorization)
    pm = lookup(ctx, payment_method_id)
    if pm["customer"] == customer:
        return 200, pm
    if pm["customer"]:
        raise invalid("The payment method you provided has already been attached to a "
                      "customer.", param="payment_method")
    if consumed(ctx, pm):
        raise invalid(REUSE_MESSAGE, param="payment_method")
    attach_to(ctx, pm, customer)
    return 200, pm


def detach(ctx, params, payment_method_id):
    forms.reject_unknown(params, {"expand"})
    pm = lookup(ctx, payment_method_id)
    if not pm["customer"]:
        raise invalid("The payment method you provided is not attached to a customer so "
                      "detachment is impossible.", param="payment_method")
    pm["customer"] = None
    mark_consumed(ctx, pm)
    events.record(ctx, "payment_method.detached", pm)
    return 200, pm


def update(ctx, params, payment_method_id):
    forms.reject_unknown(params, {"metadata", "billing_details", "allow_redisplay", "card",
                                  "us_bank_account", "expand"})
    pm = lookup(ctx, payment_method_id)
    pm["metadata"] = forms.metadata(params, pm.get("metadata"))
    details = params.get("billing_details")
    if details is not None:
        for key, value in forms.as_dict(details, "billing_details").items():
            if key in pm["billing_details"] and key != "address":
                pm["billing_details"][key] = value or None
    if "allow_redisplay" in params:
        pm["allow_redisplay"] = forms.choice(params, "allow_redisplay",
                                             ("always", "limited", "unspecified"))
    events.record(ctx, "payment_method.updated", pm)
    return 200, pm


def _listed(ctx, params, customer, url):
    kind = forms.string(params, "type")
    if kind and kind != "card":
        items = []  # the fake only has cards
    else:
        items = [pm for pm in newest_first(ctx.app.store.objects("payment_method").values())
                 if customer is None or pm["customer"] == customer]
    return 200, list_page(items, params, url)


def list_all(ctx, params):
    customer = forms.string(params, "customer") or None
    if customer:
        ctx.app.upstream.check_customer(customer, ctx.authorization)
    return _listed(ctx, params, customer, "/v1/payment_methods")


def list_for_customer(ctx, params, customer_id):
    ctx.app.upstream.check_customer(customer_id, ctx.authorization, param="customer")
    return _listed(ctx, params, customer_id, "/v1/customers/%s/payment_methods" % customer_id)


def retrieve_for_customer(ctx, params, customer_id, payment_method_id):
    ctx.app.upstream.check_customer(customer_id, ctx.authorization, param="customer")
    pm = lookup(ctx, payment_method_id)
    if pm["customer"] != customer_id:
        raise no_such("PaymentMethod", payment_method_id, "payment_method")
    return 200, pm
