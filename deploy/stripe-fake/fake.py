#!/usr/bin/env python3
"""A small local Stripe for Berth's development and tests (Python 3 standard library only).

Berth talks to Stripe with async-stripe; in tests and `deploy/dev` its Stripe base URL points
here. The npm package stripe-stateful-mock already fakes customers, charges, refunds and
subscriptions, but not PaymentMethods, PaymentIntents or webhooks. This server implements
those in Stripe's wire format (form-encoded requests, Stripe's objects, errors, idempotency
keys and signed webhook deliveries) and forwards every other `/v1/...` request unchanged to
the mock.

Run it:

    python3 deploy/stripe-fake/fake.py --listen 127.0.0.1:52112 \\
        --upstream http://127.0.0.1:52111 --state-dir /tmp/stripe-fake \\
        [--secret-key sk_test_berth_local] \\
        [--webhook-url http://127.0.0.1:8080/webhooks/stripe --webhook-secret whsec_...]

and point the client at `http://127.0.0.1:52112/`. Test controls live under `/_fake/`; the
README next to this file lists them. State is kept in `<state-dir>/state.json`, rewritten
after every change, so restarting the fake keeps its objects.
"""

import argparse
import logging
import signal
import sys
import threading

from fakestripe import events
from fakestripe.delivery import Delivery
from fakestripe.idempotency import Keys
from fakestripe.server import make_server
from fakestripe.store import Store
from fakestripe.upstream import Upstream

DEFAULT_SECRET_KEY = "sk_test_berth_local"
# The API version async-stripe 1.0.0-rc.10 is generated for; events carry it.
DEFAULT_API_VERSION = "2026-09-30.endive"

log = logging.getLogger("stripe-fake")


class Config:
    def __init__(self, secret_key, api_version, fixed_endpoint):
        self.secret_key = secret_key
        self.api_version = api_version
        self.fixed_endpoint = fixed_endpoint


class App:
    """Everything a request handler reaches: state, upstream, webhook delivery, settings."""

    def __init__(self, args):
        self.store = Store(args.state_dir)
        self.upstream = Upstream(args.upstream)
        self.keys = Keys(self.store)
        fixed = None
        if args.webhook_url:
            fixed = events.fixed_endpoint(args.webhook_url, args.webhook_secret,
                                          self.store.now())
        self.config = Config(args.secret_key, args.api_version, fixed)
        self.delivery = Delivery(self, max_attempts=args.max_attempts,
                                 retry_delay_ms=args.retry_delay_ms,
                                 timeout_secs=args.delivery_timeout_secs)


def host_port(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host or "127.0.0.1", int(port)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=host_port, default=("127.0.0.1", 52112),
                        help="HOST:PORT to serve on (port 0 picks a free one)")
    parser.add_argument("--upstream", help="base URL of stripe-stateful-mock, e.g. "
                        "http://127.0.0.1:52111")
    parser.add_argument("--state-dir", help="directory for state.json (in memory if unset)")
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY,
                        help="the one API key accepted (default %(default)s)")
    parser.add_argument("--webhook-url", help="a fixed webhook endpoint receiving all events")
    parser.add_argument("--webhook-secret", help="its signing secret (whsec_...)")
    parser.add_argument("--retry-delay-ms", type=int, default=200,
                        help="first retry delay of a failed delivery, doubling (default 200)")
    parser.add_argument("--max-attempts", type=int, default=5,
                        help="delivery attempts per event and endpoint (default 5)")
    parser.add_argument("--delivery-timeout-secs", type=float, default=5.0)
    parser.add_argument("--api-version", default=DEFAULT_API_VERSION)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")
    if args.max_attempts < 1 or args.retry_delay_ms < 0:
        parser.error("--max-attempts must be at least 1 and --retry-delay-ms not negative")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s stripe-fake %(levelname)s %(message)s")
    app = App(args)
    server = make_server(app, *args.listen)
    app.delivery.start()
    host, port = server.server_address[:2]
    # Tests and scripts wait for this line to learn the port (useful with port 0).
    print("stripe-fake listening on http://%s:%d/" % (host, port), flush=True)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        app.delivery.stop()
        server.server_close()
        app.store.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
