"""SMTP sink for local development and tests (started by deploy/peers).

Accepts every message on an SMTP port and keeps it as an .eml file, and
serves a small JSON API over HTTP so tests can see what was sent:

    GET    /messages        list, oldest first: id, from, to, cc, subject,
                            date, envelope sender and recipients, size,
                            has_attachments and attachments (filename and
                            content type of each)
    GET    /messages/{id}   the raw message exactly as received
                            (message/rfc822)
    DELETE /messages        remove every stored message
    DELETE /messages/{id}   remove one message
    GET    /health          {"ok": true}

Usage:
    smtp_sink.py --smtp 127.0.0.1:52525 --api 127.0.0.1:58025 --mail-dir DIR

A message is stored as DIR/<id>.eml with its SMTP envelope in DIR/<id>.json.
Ids are the arrival time in nanoseconds plus a counter, zero-padded, so file
names and the list sort by arrival and stay unique across restarts.

Any AUTH PLAIN/LOGIN is accepted (no TLS needed), so a client configured
with credentials works as well as one without. SIGTERM or SIGINT stops both
listeners cleanly. Needs aiosmtpd (deploy/peers installs it in a venv).
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

ID_PATTERN = re.compile(r"^[0-9]{20}-[0-9]{6}$")


class Mailbox:
    """The message files in one directory."""

    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)

    def _path(self, message_id, suffix):
        return os.path.join(self.directory, message_id + suffix)

    def store(self, raw, envelope_from, envelope_to, auth_login):
        with self.lock:
            message_id = "%020d-%06d" % (time.time_ns(), next(self.counter) % 1000000)
        meta = {
            "envelope_from": envelope_from,
            "envelope_to": envelope_to,
            "auth_login": auth_login,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        # The .json first and each file renamed into place: a reader never
        # sees half a message, and a listed .eml always has its envelope.
        for suffix, data in ((".json", json.dumps(meta).encode()), (".eml", raw)):
            tmp = self._path("." + message_id, suffix + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self._path(message_id, suffix))
        return message_id

    def ids(self):
        names = sorted(n[:-4] for n in os.listdir(self.directory) if n.endswith(".eml"))
        return [n for n in names if ID_PATTERN.match(n)]

    def raw(self, message_id):
        if not ID_PATTERN.match(message_id):
            return None
        try:
            with open(self._path(message_id, ".eml"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def summary(self, message_id):
        raw = self.raw(message_id)
        if raw is None:
            return None
        try:
            with open(self._path(message_id, ".json"), encoding="utf-8") as f:
                meta = json.load(f)
        except (FileNotFoundError, ValueError):
            meta = {}
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        attachments = [
            {"filename": part.get_filename(), "content_type": part.get_content_type()}
            for part in msg.walk()
            if not part.is_multipart()
            and (part.get_content_disposition() == "attachment" or part.get_filename())
        ]
        return {
            "id": message_id,
            "from": header(msg, "From"),
            "to": addresses(msg, "To"),
            "cc": addresses(msg, "Cc"),
            "subject": header(msg, "Subject"),
            "date": header(msg, "Date"),
            "message_id": header(msg, "Message-ID"),
            "envelope_from": meta.get("envelope_from"),
            "envelope_to": meta.get("envelope_to", []),
            "received_at": meta.get("received_at"),
            "size": len(raw),
            "has_attachments": bool(attachments),
            "attachments": attachments,
        }

    def delete(self, message_id=None):
        targets = self.ids() if message_id is None else [message_id]
        removed = 0
        for mid in targets:
            if not ID_PATTERN.match(mid):
                continue
            for suffix in (".eml", ".json"):
                try:
                    os.remove(self._path(mid, suffix))
                    removed += suffix == ".eml"
                except FileNotFoundError:
                    pass
        return removed


def header(msg, name):
    value = msg.get(name)
    return None if value is None else str(value)


def addresses(msg, name):
    value = msg.get(name)
    if value is None:
        return []
    try:
        return [a.addr_spec for a in value.addresses]
    except (AttributeError, TypeError):
        return [str(value)]


class Sink:
    """aiosmtpd handler: every message goes into the mailbox."""

    def __init__(self, mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        self.mailbox.store(raw, envelope.mail_from, list(envelope.rcpt_tos), login)
        return "250 Message accepted for delivery"


def accept_any_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


def api_handler(mailbox):
    class Api(BaseHTTPRequestHandler):
        server_version = "berth-smtp-sink"

        def log_message(self, fmt, *args):
            sys.stderr.write("api: " + (fmt % args) + "\n")

        def send_json(self, status, body):
            data = json.dumps(body, indent=1).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def not_found(self):
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})

        def route(self):
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/messages":
                return None
            if path.startswith("/messages/"):
                return path[len("/messages/"):]
            return path

        def do_GET(self):
            target = self.route()
            if target is None:
                items = [mailbox.summary(i) for i in mailbox.ids()]
                self.send_json(HTTPStatus.OK, [s for s in items if s is not None])
            elif target == "/health":
                self.send_json(HTTPStatus.OK, {"ok": True})
            elif target.startswith("/"):
                self.not_found()
            else:
                raw = mailbox.raw(target)
                if raw is None:
                    return self.not_found()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "message/rfc822")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        def do_DELETE(self):
            target = self.route()
            if target is None:
                self.send_json(HTTPStatus.OK, {"deleted": mailbox.delete()})
            elif target.startswith("/") or mailbox.raw(target) is None:
                self.not_found()
            else:
                self.send_json(HTTPStatus.OK, {"deleted": mailbox.delete(target)})

    return Api


def host_port(value):
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % value)
    return host, int(port)


def main():
    parser = argparse.ArgumentParser(description="SMTP sink with a JSON API")
    parser.add_argument("--smtp", type=host_port, default=("127.0.0.1", 52525))
    parser.add_argument("--api", type=host_port, default=("127.0.0.1", 58025))
    parser.add_argument("--mail-dir", required=True)
    args = parser.parse_args()

    mailbox = Mailbox(args.mail_dir)
    controller = Controller(
        Sink(mailbox),
        hostname=args.smtp[0],
        port=args.smtp[1],
        server_hostname="berth-smtp-sink",
        authenticator=accept_any_login,
        auth_require_tls=False,
        enable_SMTPUTF8=True,
    )
    api = ThreadingHTTPServer(args.api, api_handler(mailbox))
    api.daemon_threads = True
    controller.start()

    def stop(signum, frame):
        # shutdown() waits for serve_forever, so it must run on another thread.
        threading.Thread(target=api.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("smtp sink: SMTP on %s:%d, API on http://%s:%d, mail in %s"
          % (args.smtp + args.api + (args.mail_dir,)), file=sys.stderr, flush=True)
    try:
        api.serve_forever()
    finally:
        api.server_close()
        controller.stop()
    print("smtp sink: stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
