"""A browser's push service, for the worker's push specs.

It hands out subscriptions with P-256 keys it makes itself, and checks every
push with implementations that are not the worker's: the body is decrypted
with http_ece (RFC 8291, aes128gcm) with the subscription's private key and
auth secret, and the VAPID header (RFC 8292) is verified with PyJWT: an
ES256 signature by the `k=` key, which must be the deployment's, audience
the endpoint's origin, expiry ahead but within 24 hours, a subject. It
answers as a plan says and reports each push as one JSON line on stdout.
The first line is "listening PORT".

    receiver.py VAPID_PUBLIC_KEY PLAN

POST /subscriptions/NAME makes the subscription NAME (again: the same keys)
and answers its PushSubscription JSON: {"endpoint", "keys": {"p256dh",
"auth"}}; its endpoint is http://127.0.0.1:PORT/push/NAME. A JSON body
{"plan": [...]} gives NAME a plan of its own, from its next push on.

PLAN is JSON: {"NAME": [ANSWER, ...], ...}. Each push to NAME takes the next
answer; the last one repeats. An ANSWER is {"status": 201, "times": 1,
"retry_after": null, "delay": 0, "body": ""} with any of those left out
(the defaults shown): `times` pushes get it, after `delay` seconds, with a
Retry-After header when `retry_after` is a string. Names not planned get
201. A push that fails the checks is answered 403 (VAPID) or 400 (the body)
whatever the plan; one to a name never subscribed, 404.

Each report: {"name", "at_ms", "status", "verified", "error" (when not
verified), "notification" (the decrypted JSON), "ttl", "urgency", "topic",
"content_encoding", "vapid": {"aud", "exp", "sub", "k"}}.
"""

import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DAY = 24 * 60 * 60

vapid_public, plans = sys.argv[1], json.loads(sys.argv[2])
subscriptions = {}  # NAME -> (private key, auth secret)
turns = {}  # NAME -> pushes answered so far
lock = threading.Lock()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def report(record):
    with lock:
        print(json.dumps(record), flush=True)


class Rejection(Exception):
    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


def check_vapid(authorization, origin):
    """The claims of a valid `vapid t=JWT, k=KEY` header; Rejection if not."""
    scheme, _, params = (authorization or "").partition(" ")
    if scheme.lower() != "vapid":
        raise Rejection(403, f"not a vapid Authorization: {authorization!r}")
    fields = dict(
        part.strip().split("=", 1) for part in params.split(",") if "=" in part
    )
    token, key = fields.get("t"), fields.get("k")
    if not token or not key:
        raise Rejection(403, f"vapid Authorization without t= and k=: {params!r}")
    if key != vapid_public:
        raise Rejection(403, f"k={key} is not the deployment's key {vapid_public}")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    try:
        claims = jwt.decode(
            token,
            public,
            algorithms=["ES256"],
            audience=origin,
            options={"require": ["aud", "exp", "sub"]},
            leeway=5,
        )
    except jwt.InvalidTokenError as error:
        raise Rejection(403, f"the VAPID JWT is not valid: {error!r}") from error
    if claims["exp"] > time.time() + DAY:
        raise Rejection(403, f"the VAPID JWT expires more than 24 h ahead: {claims['exp']}")
    if not str(claims["sub"]).startswith(("mailto:", "https:")):
        raise Rejection(403, f"the VAPID subject is no mailto: or https: URL: {claims['sub']}")
    return {"aud": claims["aud"], "exp": claims["exp"], "sub": claims["sub"], "k": key}


def decrypt(body, headers, name):
    if headers.get("content-encoding") != "aes128gcm":
        raise Rejection(400, f"Content-Encoding {headers.get('content-encoding')!r}")
    private_key, auth = subscriptions[name]
    try:
        plain = http_ece.decrypt(
            body, private_key=private_key, auth_secret=auth, version="aes128gcm"
        )
    except Exception as error:  # what a browser does with a garbled push
        raise Rejection(400, f"cannot decrypt: {error!r}") from error
    return json.loads(plain)


class Service(BaseHTTPRequestHandler):
    # Keep-alive, as push services do: a sender reuses its connections.
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        kind, _, name = self.path.strip("/").partition("/")
        if kind == "subscriptions" and name:
            self.subscribe(name, body)
        elif kind == "push" and name:
            self.push(name, body)
        else:
            self.answer(404, 0, None, "no such path")

    def subscribe(self, name, body):
        with lock:
            if name not in subscriptions:
                key = ec.generate_private_key(ec.SECP256R1())
                subscriptions[name] = (key, os.urandom(16))
            if body and "plan" in json.loads(body):
                plans[name] = json.loads(body)["plan"]
                turns[name] = 0
            key, auth = subscriptions[name]
        point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        port = self.server.server_address[1]
        subscription = {
            "endpoint": f"http://127.0.0.1:{port}/push/{name}",
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(auth)},
        }
        self.answer(201, 0, None, json.dumps(subscription), "application/json")

    def push(self, name, body):
        headers = {name.lower(): value for name, value in self.headers.items()}
        record = {
            "name": name,
            "at_ms": int(time.time() * 1000),
            "ttl": headers.get("ttl"),
            "urgency": headers.get("urgency"),
            "topic": headers.get("topic"),
            "content_encoding": headers.get("content-encoding"),
        }
        if name not in subscriptions:
            record.update(status=404, verified=False, error="no such subscription")
            report(record)
            self.answer(404, 0, None, "no such subscription")
            return
        origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        try:
            record["vapid"] = check_vapid(headers.get("authorization"), origin)
            record["notification"] = decrypt(body, headers, name)
            record["verified"] = True
        except Rejection as rejection:
            record.update(status=rejection.status, verified=False, error=str(rejection))
            report(record)
            self.answer(rejection.status, 0, None, str(rejection))
            return
        with lock:
            turn = turns.get(name, 0)
            turns[name] = turn + 1
        answer = planned(plans.get(name, []), turn)
        record["status"] = answer.get("status", 201)
        report(record)
        self.answer(
            record["status"],
            answer.get("delay", 0),
            answer.get("retry_after"),
            answer.get("body", ""),
        )

    def answer(self, status, delay, retry_after, text, content_type="text/plain"):
        time.sleep(delay)
        data = text.encode()
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            if retry_after is not None:
                self.send_header("retry-after", retry_after)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up waiting, or was killed

    def log_message(self, *args):
        pass


def planned(answers, turn):
    """The answer for push number `turn` (from 0) under `answers`."""
    for answer in answers:
        times = answer.get("times", 1)
        if turn < times:
            return answer
        turn -= times
    return answers[-1] if answers else {}


server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
server.daemon_threads = True
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
