"""PaymentIntents: create, retrieve, update, confirm, capture, cancel, list and search.

The state machine is Stripe's for cards: `requires_payment_method` → (a payment method)
`requires_confirmation` → (confirm) `succeeded`, or `requires_capture` with
`capture_method=manual`, or back to `requires_payment_method` with `last_payment_error` when
the card is declined. A decline answers 402 `card_error` carrying the PaymentIntent, exactly
what an off-session renewal sees from Stripe.
"""

from . import cards, events, forms, payment_methods
from .errors import invalid_param, missing_param, unexpected_state
from .search import compile_query
from .store import created_filter, expand, list_page, new_id, newest_first, snapshot

# Stripe's minimum charge amounts (minor units) for the currencies Berth is likely to use.
MINIMUM_AMOUNT = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50,
                  "nzd": 50, "sgd": 50, "jpy": 50, "dkk": 250, "nok": 300, "sek": 300,
                  "pln": 200, "czk": 1500, "huf": 17500, "ron": 200, "hkd": 400, "mxn": 1000}
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof", "pyg", "rwf"}
MAXIMUM_AMOUNT = 99999999
EXPANDABLE = {"latest_charge": "charge", "payment_method": "payment_method"}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = CONFIRMABLE + ("requires_capture", "processing")
# Parameters the fake accepts without modelling them; Stripe knows them, so do we.
PASSIVE = {"expand", "use_stripe_sdk", "mandate", "mandate_data", "payment_method_options",
           "transfer_data", "transfer_group", "on_behalf_of", "application_fee_amount",
           "radar_options", "payment_method_configuration", "excluded_payment_method_types",
           "hooks", "amount_details", "payment_details", "customer_account", "return_url",
           "error_on_requires_action", "allowed_payment_method_types", "amount_to_confirm"}
CREATE_PARAMS = PASSIVE | {
    "amount", "currency", "customer", "description", "metadata", "payment_method",
    "payment_method_types", "confirm", "off_session", "capture_method", "confirmation_method",
    "receipt_email", "setup_future_usage", "statement_descriptor",
    "statement_descriptor_suffix", "automatic_payment_methods", "shipping",
    "payment_method_data", "confirmation_token"}
UPDATE_PARAMS = PASSIVE | {
    "amount", "currency", "customer", "description", "metadata", "payment_method",
    "payment_method_types", "receipt_email", "setup_future_usage", "shipping",
    "statement_descriptor", "statement_descriptor_suffix", "capture_method"}
# What may still change once a PaymentIntent has succeeded or been canceled.
ALWAYS_UPDATABLE = {"metadata", "description", "receipt_email", "shipping", "expand"}
CONFIRM_PARAMS = PASSIVE | {"payment_method", "off_session", "receipt_email",
                            "setup_future_usage", "shipping", "payment_method_types",
                            "capture_method", "payment_method_data", "confirmation_token"}
# What confirm may set on the way (the rest of CONFIRM_PARAMS only steers the attempt).
CONFIRM_SETS = ("receipt_email", "setup_future_usage", "shipping", "payment_method_types",
                "capture_method")
PAST = {"confirm": "confirmed", "capture": "captured", "cancel": "canceled"}
SEARCH_FIELDS = {"amount": "number", "created": "number", "currency": "string",
                 "customer": "string", "status": "string"}


def render(ctx, intent, params):
    return expand(ctx.app.store, intent, params, EXPANDABLE)


def _intent(ctx, intent_id, param="intent"):
    return ctx.app.store.get("payment_intent", intent_id, "payment_intent", param)


# --- parameter checks --------------------------------------------------------------------

def _amount(params, currency, required):
    amount = forms.integer(params, "amount", required=required, minimum=1)
    if amount is None:
        return None
    if amount > MAXIMUM_AMOUNT:
        raise invalid_param("Amount must be no more than 99999999.", "amount", "amount_too_large")
    minimum = MINIMUM_AMOUNT.get(currency)
    if minimum and amount < minimum:
        shown = str(minimum) if currency in ZERO_DECIMAL else "%.2f" % (minimum / 100)
        raise invalid_param("Amount must be at least %s %s" % (shown, currency), "amount",
                            "amount_too_small")
    return amount


def _currency(params, required):
    currency = forms.string(params, "currency", required=required, allow_empty=False)
    if currency is None:
        return None
    currency = currency.lower()
    if not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
        raise invalid_param("Invalid currency: %s." % currency, "currency")
    return currency


def _off_session(params):
    value = forms.string(params, "off_session")
    if value in ("one_off", "recurring"):
        return True
    return forms.boolean(params, "off_session")


def _unsupported(params):
    for name in ("payment_method_data", "confirmation_token"):
        if name in params:
            raise invalid_param("The local Stripe fake does not support %s; pass a test "
                                "payment method such as pm_card_visa instead." % name, name)


def _common_changes(params, metadata):
    """Fields that create, update and confirm set the same way, checked before any is set.

    Answering the changes instead of applying them keeps a request that fails validation
    from changing the PaymentIntent halfway, as Stripe's requests are all-or-nothing.
    """
    changes = {}
    for name in ("description", "receipt_email", "statement_descriptor",
                 "statement_descriptor_suffix"):
        if name in params:
            changes[name] = forms.string(params, name) or None
    if "setup_future_usage" in params:
        changes["setup_future_usage"] = forms.choice(params, "setup_future_usage",
                                                     ("off_session", "on_session"))
    if "capture_method" in params:
        changes["capture_method"] = forms.choice(
            params, "capture_method", ("automatic", "automatic_async", "manual")) or "automatic"
    if "payment_method_types" in params:
        changes["payment_method_types"] = forms.as_list(params, "payment_method_types")
    if "shipping" in params:
        changes["shipping"] = params["shipping"] or None
    changes["metadata"] = forms.metadata(params, metadata)
    return changes


# --- handlers (called with the store lock held) ------------------------------------------

def create(ctx, params):
    forms.reject_unknown(params, CREATE_PARAMS)
    _unsupported(params)
    if "amount" not in params:
        raise missing_param("amount")
    currency = _currency(params, required=True)
    amount = _amount(params, currency, required=True)
    confirm, off_session = forms.boolean(params, "confirm"), _off_session(params)
    if off_session and not confirm:
        raise invalid_param("off_session can only be set when confirm=true.", "off_session")
    customer = forms.string(params, "customer") or None
    if customer:
        ctx.app.upstream.check_customer(customer, ctx.authorization)
    store = ctx.app.store
    intent_id = new_id("pi_")
    intent = {
        "id": intent_id, "object": "payment_intent", "amount": amount,
        "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": 0,
        "application": None, "application_fee_amount": None,
        "automatic_payment_methods": None, "canceled_at": None, "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": "%s_secret_%s" % (intent_id, new_id("", 25)),
        "confirmation_method": forms.choice(params, "confirmation_method",
                                            ("automatic", "manual")) or "automatic",
        "created": store.now(), "currency": currency, "customer": customer,
        "description": None, "excluded_payment_method_types": None,
        "last_payment_error": None, "latest_charge": None, "livemode": False,
        "metadata": {}, "next_action": None, "on_behalf_of": None, "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                            "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "processing": None, "receipt_email": None,
        "review": None, "setup_future_usage": None, "shipping": None, "source": None,
        "statement_descriptor": None, "statement_descriptor_suffix": None,
        "status": "requires_payment_method", "transfer_data": None, "transfer_group": None,
    }
    intent.update(_common_changes(params, {}))
    automatic = params.get("automatic_payment_methods")
    if isinstance(automatic, dict) and automatic.get("enabled") == "true":
        intent["automatic_payment_methods"] = {
            "allow_redirects": automatic.get("allow_redirects", "always"), "enabled": True}
    payment_method_id = forms.string(params, "payment_method") or None
    if payment_method_id:
        intent["payment_method"] = payment_methods.for_payment(
            ctx, payment_method_id, customer)["id"]
        intent["status"] = "requires_confirmation"
    store.put(intent)
    events.record(ctx, "payment_intent.created", intent)
    if confirm:
        _confirm(ctx, intent, off_session)
    return 200, render(ctx, intent, params)


def retrieve(ctx, params, intent_id):
    return 200, render(ctx, _intent(ctx, intent_id), params)


def update(ctx, params, intent_id):
    forms.reject_unknown(params, UPDATE_PARAMS)
    intent = _intent(ctx, intent_id)
    if intent["status"] not in CONFIRMABLE:
        for name in params:
            if name not in ALWAYS_UPDATABLE:
                raise unexpected_state(
                    "You cannot update %s on this PaymentIntent because it has a status of "
                    "%s." % (name, intent["status"]), param=name, payment_intent=intent)
    changes = _common_changes(params, intent["metadata"])
    changes["currency"] = _currency(params, required=False) or intent["currency"]
    changes["amount"] = _amount(params, changes["currency"], required=False) or intent["amount"]
    customer = intent["customer"]
    if "customer" in params:
        customer = forms.string(params, "customer") or None
        if customer:
            ctx.app.upstream.check_customer(customer, ctx.authorization)
        changes["customer"] = customer
    if "payment_method" in params:
        payment_method_id = forms.string(params, "payment_method")
        if payment_method_id:
            pm = payment_methods.for_payment(ctx, payment_method_id, customer)
            changes.update(payment_method=pm["id"], status="requires_confirmation")
        else:
            changes.update(payment_method=None, status="requires_payment_method")
    intent.update(changes)
    return 200, render(ctx, intent, params)


def confirm(ctx, params, intent_id):
    forms.reject_unknown(params, CONFIRM_PARAMS)
    _unsupported(params)
    intent = _intent(ctx, intent_id)
    _check_status(intent, CONFIRMABLE, "confirm")
    off_session = _off_session(params)
    changes = _common_changes({k: v for k, v in params.items() if k in CONFIRM_SETS},
                              intent["metadata"])
    payment_method_id = forms.string(params, "payment_method")
    if payment_method_id:
        changes["payment_method"] = payment_methods.for_payment(
            ctx, payment_method_id, intent["customer"])["id"]
    intent.update(changes)
    _confirm(ctx, intent, off_session)
    return 200, render(ctx, intent, params)


def capture(ctx, params, intent_id):
    forms.reject_unknown(params, {"amount_to_capture", "expand", "metadata", "final_capture",
                                  "statement_descriptor", "statement_descriptor_suffix",
                                  "application_fee_amount", "transfer_data"})
    intent = _intent(ctx, intent_id)
    _check_status(intent, ("requires_capture",), "capture")
    amount = forms.integer(params, "amount_to_capture", minimum=1)
    if amount is None:
        amount = intent["amount_capturable"]
    if amount > intent["amount_capturable"]:
        raise invalid_param("The amount to capture (%d) is greater than the amount capturable "
                            "(%d)." % (amount, intent["amount_capturable"]),
                            "amount_to_capture", "amount_too_large")
    charge = ctx.app.store.get("charge", intent["latest_charge"], "charge")
    charge.update(captured=True, amount_captured=amount, balance_transaction=new_id("txn_"))
    intent["metadata"] = forms.metadata(params, intent["metadata"])
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    events.record(ctx, "charge.captured", charge)
    events.record(ctx, "payment_intent.succeeded", intent)
    return 200, render(ctx, intent, params)


def cancel(ctx, params, intent_id):
    forms.reject_unknown(params, {"cancellation_reason", "expand"})
    intent = _intent(ctx, intent_id)
    reason = forms.choice(params, "cancellation_reason",
                          ("duplicate", "fraudulent", "requested_by_customer", "abandoned"))
    _check_status(intent, CANCELABLE, "cancel")
    intent.update(status="canceled", canceled_at=ctx.app.store.now(),
                  cancellation_reason=reason, amount_capturable=0, next_action=None)
    events.record(ctx, "payment_intent.canceled", intent)
    return 200, render(ctx, intent, params)


def list_all(ctx, params):
    customer = forms.string(params, "customer") or None
    created_ok = created_filter(params)
    items = [render(ctx, pi, params)
             for pi in newest_first(ctx.app.store.objects("payment_intent").values())
             if (customer is None or pi["customer"] == customer) and created_ok(pi["created"])]
    return 200, list_page(items, params, "/v1/payment_intents")


def search(ctx, params):
    query = forms.string(params, "query", required=True, allow_empty=False)
    matches = compile_query(query, SEARCH_FIELDS, "payment_intents")
    items = [pi for pi in newest_first(ctx.app.store.objects("payment_intent").values())
             if matches(pi)]
    limit = forms.integer(params, "limit", minimum=1) or 10
    offset = _page_offset(forms.string(params, "page"))
    page = items[offset:offset + min(limit, 100)]
    has_more = offset + len(page) < len(items)
    result = {"object": "search_result", "data": [render(ctx, pi, params) for pi in page],
              "has_more": has_more, "next_page": "page_%d" % (offset + len(page))
              if has_more else None, "url": "/v1/payment_intents/search"}
    if "total_count" in forms.as_list(params, "expand"):
        result["total_count"] = len(items)
    return 200, result


def _page_offset(page):
    if not page:
        return 0
    if not page.startswith("page_") or not page[5:].isdigit():
        raise invalid_param("Invalid page: %s" % page, "page")
    return int(page[5:])


# --- the state machine ---------------------------------------------------------------------

def _check_status(intent, allowed, verb):
    if intent["status"] not in allowed:
        raise unexpected_state(
            "You cannot %s this PaymentIntent because it has a status of %s. Only a "
            "PaymentIntent with one of the following statuses may be %s: %s."
            % (verb, intent["status"], PAST[verb], ", ".join(allowed)),
            payment_intent=snapshot(intent))


def _confirm(ctx, intent, off_session):
    """Charge the intent's PaymentMethod once; on a decline, raise the 402 Stripe answers."""
    if not intent["payment_method"]:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent with %s, specify a payment method attached to this "
            "customer along with the customer ID." % (intent["customer"] or "a payment method"),
            param="payment_method", payment_intent=snapshot(intent))
    store = ctx.app.store
    pm = store.get("payment_method", intent["payment_method"], "PaymentMethod", "payment_method")
    decline = cards.card_of(store, pm["id"]).decline
    if decline is cards.AUTHENTICATION and not off_session:
        _require_action(ctx, intent)
        return
    manual = intent["capture_method"] == "manual"
    charge = cards.new_charge(store, intent, pm, decline, capture=not manual)
    intent["latest_charge"] = charge["id"]
    if decline:
        _fail(ctx, intent, pm, charge, decline)
    intent.update(last_payment_error=None, next_action=None)
    if manual:
        intent.update(status="requires_capture", amount_capturable=intent["amount"])
    else:
        intent.update(status="succeeded", amount_received=intent["amount"])
    if intent["setup_future_usage"] and intent["customer"] and not pm["customer"]:
        payment_methods.attach_to(ctx, pm, intent["customer"])  # Stripe saves it, too
    if not pm["customer"]:
        payment_methods.mark_consumed(ctx, pm)
    events.record(ctx, "charge.succeeded", charge)
    events.record(ctx, "payment_intent.amount_capturable_updated" if manual
                  else "payment_intent.succeeded", intent)


def _fail(ctx, intent, pm, charge, decline):
    error = cards.payment_error(decline, charge, snapshot(pm))
    intent.update(status="requires_payment_method", last_payment_error=error,
                  payment_method=None, next_action=None)
    events.record(ctx, "charge.failed", charge)
    events.record(ctx, "payment_intent.payment_failed", intent)
    raise cards.card_error(error, snapshot(intent))


def _require_action(ctx, intent):
    """3-D Secure for an on-session payment: the customer would now authenticate in Stripe.js."""
    intent.update(status="requires_action", next_action={
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {"type": "three_d_secure_redirect",
                           "stripe_js": "https://hooks.stripe.com/3d_secure/fake",
                           "source": new_id("src_")}})
    events.record(ctx, "payment_intent.requires_action", intent)
