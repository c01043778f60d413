"""A tiny webhook receiver for the tests: an http.server on 127.0.0.1 (free port) in a
thread that checks each delivery's signature the way the marketplace would and records it.

    with Receiver() as receiver:
        receiver.secret = subscription.secret
        ... receiver.events  # [{'event', 'data', 'headers', 'verified'}]

`receiver.fail_next(n)` answers the next n deliveries with HTTP 500.
"""
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def expected_signature(secret, timestamp, body):
    """What desk.messaging.webhooks.sign produces, recomputed independently."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b'.' + body, hashlib.sha256)
    return 'sha256=' + mac.hexdigest()


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
