"""The local Stripe fake, split into small modules.

`fake.py` next to this package is the entry point; `server.py` routes requests to the
resource modules (`payment_methods`, `payment_intents`, `refunds`, `events`), which keep their
objects in one `store.Store`. `delivery` sends events to webhook endpoints, `upstream` forwards
everything the fake does not implement to stripe-stateful-mock.
"""
