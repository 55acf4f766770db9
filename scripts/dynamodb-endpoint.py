"""A DynamoDB wire-protocol endpoint for the tests: moto's server, one request at a time.

moto's own `moto_server` serves requests on parallel threads and evaluates a conditional
write's condition and its update without a lock, so two concurrent conditional writes can both
succeed, and a read can see an item half-updated. DynamoDB applies every single-item write and
every transaction atomically; the tests that race 50 sends or 100 verifies rely on exactly that.
Serialising the requests restores DynamoDB's atomicity (and is stronger than it only in
ordering, which no test relies on).

Usage: python dynamodb-endpoint.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialised(environ, start_response):
    with lock:
        # Materialise the response inside the lock: the backend's work happens while iterating.
        return list(app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)
