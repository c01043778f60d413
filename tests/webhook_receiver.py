"""Webhook receivers for the tests: http.server on 127.0.0.1 (a free port) in a thread.

Two kinds, because the tests look at webhooks from two sides:

- `Receiver` plays the marketplace: it checks each delivery's signature the way the
  marketplace would and records the decoded events (answering 401 to a bad signature).

      with Receiver() as receiver:
          receiver.secret = subscription.secret
          ... receiver.events  # [{'event', 'data', 'headers', 'verified'}]

  `receiver.fail_next(n)` answers the next n deliveries with HTTP 500.

- `ScriptedReceiver` is for the tests of the sender itself (signing, retries, backoff): it
  records every raw request (path, headers, body bytes) and answers with the statuses the
  test scripts in `statuses` (200 when it runs out), whatever the signature. The `receiver`
  fixture of conftest.py is one.
"""
import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: A signing secret for subscriptions the tests make themselves.
SECRET = 'whsec-test-0123456789abcdef'


def expected_signature(secret, timestamp, body):
    """What desk.messaging.webhooks.sign produces, recomputed independently."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b'.' + body, hashlib.sha256)
    return 'sha256=' + mac.hexdigest()


def verify(secret, headers, body):
    """What a receiver does: recompute the HMAC over "<timestamp>.<body>" and compare."""
    return hmac.compare_digest(expected_signature(secret, headers['X-Desk-Timestamp'], body),
                               headers['X-Desk-Signature'])


def closed_port_url():
    """A webhook URL on 127.0.0.1 where nothing listens (a port just freed)."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return f'http://127.0.0.1:{port}/hooks'


class Receiver:
    def __init__(self, secret=None):
        self.secret = secret
        self.events = []
        self.failures_left = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                timestamp = self.headers.get('X-Desk-Timestamp', '')
                signature = self.headers.get('X-Desk-Signature', '')
                with receiver.lock:
                    verified = bool(receiver.secret) and hmac.compare_digest(
                        signature, expected_signature(receiver.secret, timestamp, body))
                    failing = receiver.failures_left > 0
                    if failing:
                        receiver.failures_left -= 1
                    else:
                        payload = json.loads(body)
                        receiver.events.append({
                            'event': payload.get('event'), 'data': payload.get('data'),
                            'verified': verified, 'headers': dict(self.headers)})
                status = 500 if failing else (200 if verified else 401)
                self.send_response(status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_port}/hooks'
        self.thread = threading.Thread(target=self.server.serve_forever, name='webhook-receiver', daemon=True)

    def fail_next(self, count):
        with self.lock:
            self.failures_left = count

    def received(self, event):
        with self.lock:
            return [e for e in self.events if e['event'] == event]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class ScriptedReceiver:
    """A local webhook endpoint: `requests` it got, `statuses` it will answer with."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                with receiver.lock:
                    receiver.requests.append({'path': self.path, 'headers': dict(self.headers), 'body': body})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header('Content-Length', '2')
                self.end_headers()
                self.wfile.write(b'ok')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path='/hooks'):
        return f'http://127.0.0.1:{self.server.server_address[1]}{path}'

    def events(self, path=None):
        return [r['headers']['X-Desk-Event'] for r in self.requests if path is None or r['path'] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
