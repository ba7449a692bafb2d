"""A shop's webhook endpoint for the worker's specs.

It verifies every request with the Standard Webhooks reference library (not
the worker's own code), answers as a plan says, and reports each request as
one JSON line on stdout. The first line is "listening PORT".

    receiver.py SECRET PLAN

PLAN is JSON: {"CUSTOMER": [[STATUS, DELAY_SECONDS, BODY], ...], ...}. Each
request for a customer (the payload's data.customer_id) takes the next answer
of its list; the last one repeats. A key "PATH CUSTOMER" plans only the
requests to that path. Customers not in the plan get 200. A 3xx answer's
BODY is its location; a GET (a client that followed it) is answered 200.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

secret, plan = sys.argv[1], json.loads(sys.argv[2])
verifier = Webhook(secret)
answered = {}
lock = threading.Lock()


def report(record):
    with lock:
        print(json.dumps(record), flush=True)


class Endpoint(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        record = {"id": headers.get("webhook-id"), "path": self.path}
        try:
            payload = verifier.verify(body, headers)
            record.update(verified=True, type=payload["type"], data=payload["data"])
        except Exception as error:  # what a shop does with a forgery
            record.update(verified=False, error=repr(error))
            self.answer(401, 0, "unverified")
            report(record)
            return
        customer = payload["data"].get("customer_id")
        key = f"{self.path} {customer}" if f"{self.path} {customer}" in plan else customer
        with lock:
            turn = answered.get(key, 0)
            answered[key] = turn + 1
        answers = plan.get(key, [[200, 0, "ok"]])
        status, delay, text = answers[min(turn, len(answers) - 1)]
        record.update(status=status)
        report(record)
        self.answer(status, delay, text)

    def do_GET(self):
        # Only a client that followed a redirect comes here.
        report({"method": "GET", "path": self.path})
        self.answer(200, 0, "ok")

    def answer(self, status, delay, text):
        time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            if 300 <= status < 400:
                self.send_header("location", text)
            self.end_headers()
            self.wfile.write(text.encode())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker gave up waiting, or was killed

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
