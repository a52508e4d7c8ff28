"""Stripe's test PaymentMethods and the objects a card payment produces.

Names and behaviour follow Stripe's testing docs: `pm_card_visa` and `pm_card_mastercard`
succeed, the `pm_card_chargeDeclined*` family declines with the documented codes, and
`pm_card_authenticationRequired` asks for 3-D Secure (off-session: declined with
`authentication_required`). As in test mode, each use of such a name makes a new `pm_...`.
"""

import copy
from collections import namedtuple

from .errors import StripeError
from .store import new_id

Card = namedtuple("Card", "brand last4 exp_year decline")
# code / decline_code / message are what Stripe's error object carries for the decline;
# `reason` and `seller_message` go into the failed charge's `outcome`.
Decline = namedtuple("Decline", "code decline_code message seller_message outcome_type")

GENERIC = Decline("card_declined", "generic_decline", "Your card was declined.",
                  "The bank did not return any further details with this decline.",
                  "issuer_declined")
INSUFFICIENT = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.",
                       "The bank returned the decline code `insufficient_funds`.",
                       "issuer_declined")
EXPIRED = Decline("expired_card", "expired_card", "Your card has expired.",
                  "The bank returned the decline code `expired_card`.", "issuer_declined")
AUTHENTICATION = Decline(
    "authentication_required", "authentication_required",
    "Your card was declined. This transaction requires authentication.",
    "The bank returned the decline code `authentication_required`.", "issuer_declined")

TEST_CARDS = {
    "pm_card_visa": Card("visa", "4242", 2034, None),
    "pm_card_mastercard": Card("mastercard", "4444", 2034, None),
    "pm_card_chargeDeclined": Card("visa", "0002", 2034, GENERIC),
    "pm_card_chargeDeclinedInsufficientFunds": Card("visa", "9995", 2034, INSUFFICIENT),
    "pm_card_chargeDeclinedExpiredCard": Card("visa", "0069", 2034, EXPIRED),
    "pm_card_authenticationRequired": Card("visa", "3184", 2034, AUTHENTICATION),
}


def is_test_name(payment_method_id):
    return payment_method_id in TEST_CARDS


def card_of(store, payment_method_id):
    """The test card behind a stored PaymentMethod."""
    return TEST_CARDS[store.hidden("pm_card")[payment_method_id]]


def new_payment_method(store, test_name, customer=None):
    """A fresh `pm_...` for one of Stripe's test names, stored and remembered as that card."""
    card = TEST_CARDS[test_name]
    pm = {
        "id": new_id("pm_"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {"city": None, "country": None, "line1": None, "line2": None,
                        "postal_code": None, "state": None},
            "email": None, "name": None, "phone": None, "tax_id": None,
        },
        "card": {
            "brand": card.brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None,
                       "cvc_check": "unchecked"},
            "country": "US",
            "display_brand": card.brand,
            "exp_month": 12,
            "exp_year": card.exp_year,
            "fingerprint": "fp" + test_name[len("pm_card_"):][:14],
            "funding": "credit",
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": store.now(),
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }
    store.put(pm)
    store.hidden("pm_card")[pm["id"]] = test_name
    return pm


def charge_details(pm):
    """`payment_method_details` of a charge made with a card PaymentMethod."""
    card = pm["card"]
    return {
        "card": {
            "amount_authorization": None,
            "brand": card["brand"],
            "checks": dict(card["checks"]),
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "last4": card["last4"],
            "network": card["brand"],
            "three_d_secure": None,
            "wallet": None,
        },
        "type": "card",
    }


def new_charge(store, intent, pm, decline=None, capture=True):
    """The charge one confirmation attempt makes: succeeded (captured or not) or failed."""
    paid = decline is None
    charge = {
        "id": new_id("ch_"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if paid and capture else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn_") if paid and capture else None,
        "billing_details": copy.deepcopy(pm["billing_details"]),
        "calculated_statement_descriptor": "BERTH",
        "captured": paid and capture,
        "created": store.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": _outcome(decline),
        "paid": paid,
        "payment_intent": intent["id"],
        "payment_method": pm["id"],
        "payment_method_details": charge_details(pm),
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": intent.get("shipping"),
        "source": None,
        "source_transfer": None,
        "statement_descriptor": intent.get("statement_descriptor"),
        "statement_descriptor_suffix": intent.get("statement_descriptor_suffix"),
        "status": "succeeded" if paid else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }
    return store.put(charge)


def _outcome(decline):
    if decline is None:
        return {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
                "network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized"}
    return {"advice_code": "do_not_try_again" if decline is EXPIRED else "try_again_later",
            "network_advice_code": None, "network_decline_code": None,
            "network_status": "declined_by_network", "reason": decline.decline_code,
            "risk_level": "normal", "risk_score": 20,
            "seller_message": decline.seller_message, "type": decline.outcome_type}


def payment_error(decline, charge, pm):
    """The `last_payment_error` a declined attempt leaves on its PaymentIntent."""
    return {
        "type": "card_error",
        "code": decline.code,
        "decline_code": decline.decline_code,
        "message": decline.message,
        "param": None,
        "charge": charge["id"],
        "doc_url": "https://stripe.com/docs/error-codes/" + decline.code,
        "payment_method": pm,
        "advice_code": charge["outcome"]["advice_code"],
    }


def card_error(last_error, intent):
    """The 402 Stripe answers for a declined confirmation, carrying the PaymentIntent."""
    fields = {key: value for key, value in last_error.items()
              if key not in ("type", "code", "decline_code", "message", "param")}
    return StripeError(402, "card_error", last_error["message"], code=last_error["code"],
                       decline_code=last_error["decline_code"], payment_intent=intent, **fields)
