"""Deletes the contract run's JetStream stream: `jetstream.py delete-stream NATS_URL NAME`.

A few lines of the NATS text protocol (CONNECT, SUB, PUB, MSG) over a socket, so that the
run needs no NATS client library: JetStream's API is plain request and reply on
`$JS.API.STREAM.DELETE.<name>`.
"""

import json
import socket
import sys
from urllib.parse import urlsplit


def request(url: str, subject: str, timeout: float = 5.0) -> dict:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout) as conn:
        stream = conn.makefile("rb")
        if not stream.readline().startswith(b"INFO "):
            raise RuntimeError("not a NATS server")
        inbox = "_INBOX.berth_contract"
        conn.sendall(
            b'CONNECT {"verbose":false,"pedantic":false,"name":"berth-contract"}\r\n'
            + f"SUB {inbox} 1\r\nPUB {subject} {inbox} 0\r\n\r\n".encode()
        )
        while True:
            line = stream.readline()
            if not line:
                raise RuntimeError("the server closed the connection")
            if line.startswith(b"PING"):
                conn.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode().strip())
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                return json.loads(stream.read(size + 2)[:size] or b"{}")


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] != "delete-stream":
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    _, _, url, name = sys.argv
    answer = request(url, f"$JS.API.STREAM.DELETE.{name}")
    # 10059: no such stream (Berth stopped before it made one): nothing to delete.
    if answer.get("success") or (answer.get("error") or {}).get("err_code") == 10059:
        return 0
    print(f"deleting {name}: {answer.get('error', answer)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
