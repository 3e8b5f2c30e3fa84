"""The three-tier app's api and worker.

api:    GET /api/count counts the visit in redis (INCR visits) and answers {"visits": n, "worker_ticks": m, "host": ...};
        GET /healthz answers ok once the process serves.
worker: every 2 s counts a tick in redis (INCR worker_ticks); writes /tmp/ready after its first tick (its readiness).
Redis is REDIS_ADDRESS, host:port (the redis Service by default). Not REDIS_HOST/REDIS_PORT: Kubernetes sets
REDIS_PORT=tcp://... in every pod of a namespace with a Service named redis.
"""
import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

# PID 1 in a container: without a handler SIGTERM is ignored and the pod waits out its whole grace period.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

redis_host, _, redis_port = os.environ.get("REDIS_ADDRESS", "redis:6379").rpartition(":")
store = redis.Redis(host=redis_host, port=int(redis_port), socket_timeout=5)


class Api(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, "text/plain", b"ok\n")
        elif self.path.split("?")[0] == "/api/count":
            try:
                body = {"visits": store.incr("visits"), "worker_ticks": int(store.get("worker_ticks") or 0), "host": socket.gethostname()}
                self.answer(200, "application/json", json.dumps(body).encode())
            except redis.RedisError as error:
                self.answer(503, "text/plain", f"redis: {error}\n".encode())
        else:
            self.answer(404, "text/plain", b"not found\n")

    def answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def worker():
    while True:
        try:
            store.incr("worker_ticks")
            open("/tmp/ready", "w").close()
        except redis.RedisError as error:
            print(f"worker: redis: {error}", flush=True)
        time.sleep(2)


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else "api"
    if role == "worker":
        worker()
    elif role == "api":
        ThreadingHTTPServer(("0.0.0.0", 8080), Api).serve_forever()
    else:
        sys.exit(f"unknown role {role!r}: use api or worker")
