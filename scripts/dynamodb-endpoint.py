"""A DynamoDB wire-protocol endpoint for the tests: moto's server, one request at a time.

moto's own `moto_server` serves requests on parallel threads and evaluates a conditional
write's condition and its update without a lock, so two concurrent conditional writes can both
succeed, and a read can see an item half-updated. DynamoDB applies every single-item write and
every transaction atomically; the tests that race 50 sends or 100 verifies rely on exactly that.
Serialising the requests restores DynamoDB's atomicity (and is stronger than it only in
ordering, which no test relies on).

Contention (off unless `--conflicts` or DYNAMODB_ENDPOINT_CONFLICTS=1)

Serialising also hides two ways in which DynamoDB refuses writes that it would accept one at a
time, and a design that writes one shared item from every request (a per-minute counter, say)
meets both in production:

- Transaction conflicts. A TransactWriteItems holds its items for the length of its two-phase
  commit. Another TransactWriteItems that touches one of them meanwhile is cancelled
  (TransactionCanceledException, reason TransactionConflict at that item's index, None at the
  others), and a PutItem, UpdateItem or DeleteItem on one of them fails with
  TransactionConflictException. Here every TransactWriteItems is still applied by moto under
  the one lock, but its items (ConditionCheck ones included: DynamoDB conflicts on them too)
  then stay in flight for DYNAMODB_ENDPOINT_TXN_MS milliseconds (default 15, about what a real
  transaction takes), slept outside the lock, before the reply goes out. A request that touches
  an item in flight is refused as DynamoDB refuses it, before moto sees it, so it changes
  nothing. A transaction moto cancels itself (a failed condition) holds its items too, as the
  prepare phase of a real one does.
- Hot-item throttling. DynamoDB serves at most 1000 write units a second from one partition.
  Here more than DYNAMODB_ENDPOINT_ITEM_WPS (default 1000) writes to one item within a sliding
  second are refused and change nothing: a single write costs 1, each item of a
  TransactWriteItems 2 (DynamoDB writes it twice: prepare and commit). The refusals are those of
  an on-demand table (the project's tables are): a single write gets ThrottlingException (with
  DynamoDB's hot-key message and a TableWriteKeyRangeThroughputExceeded throttling reason), a
  transaction what DynamoDB gives a throttled one, TransactionCanceledException with reason
  ThrottlingError at the hot item. Writes moto refused for a failed condition count (DynamoDB
  charges them); requests refused here or by moto's validation do not.

An item is its table (by ARN, from a DescribeTable through moto, cached) and its primary key
attributes, read from `Key` (Update, Delete, ConditionCheck, UpdateItem, DeleteItem) or from
`Item` (Put, PutItem). A request whose table or key cannot be read (no such table, a malformed
key) goes to moto untouched, which answers it as before. The errors are DynamoDB's JSON bodies:
HTTP 400, `__type` com.amazonaws.dynamodb.v20120810#..., DynamoDB's messages, CancellationReasons
in item order; the AWS SDKs (boto3, aws-sdk-dynamodb for Rust) parse them as they parse
DynamoDB's.

How exact it is. The error replies are DynamoDB's; the timing is a model. A transaction
conflicts with others only during the fixed hold after moto applied it, where DynamoDB's window
is its real commit time; and here of two overlapping transactions the later always loses and the
earlier always wins, where in DynamoDB either may lose, or both. A refused transaction reports
None for its other items without evaluating their conditions, and holds nothing (a real loser
may briefly hold the items it had prepared). Throttling is per item and per sliding second,
where DynamoDB's is per partition (many items share one, and a hot partition is split over
time), counts write units by item size (1 KB each; here every write is one unit) and allows
some burst; a provisioned table's ProvisionedThroughputExceededException is not produced. Not
modelled: TransactGetItems (DynamoDB cancels it on an item a write is in flight on),
BatchWriteItem and PartiQL writes (they neither conflict nor count here), read throttling,
table-level and account-level throughput limits, and the read-committed isolation of Query,
Scan and BatchGetItem (moto applies a transaction at once, so every read sees all of it or none
of it, which is what DynamoDB's GetItem sees too).

Client request tokens (always on)

A TransactWriteItems that carries a ClientRequestToken (the AWS SDKs generate one per call and
send the same one on every retry of it) is idempotent, as DynamoDB documents: a request with the
token of a transaction that succeeded is answered with that success and changes nothing; with the
token but other parameters (anything in the request but the token), it is refused with
IdempotentParameterMismatchException; while the transaction with that token is still in progress
(here: during its hold, with --conflicts), with TransactionInProgressException. A token is
valid for DYNAMODB_ENDPOINT_TOKEN_SECS seconds (default 600, DynamoDB's 10 minutes) after its
transaction completed; after that, and at once after a transaction that failed (a failed
condition, a conflict), a request with it runs as a new one. Tokens are per signer (access key
and region), as DynamoDB's are per account and region. A replay repeats the first reply's body,
where DynamoDB reports read units as its ConsumedCapacity (when ReturnConsumedCapacity asks for
it); the two messages are the documented meanings of those errors, not DynamoDB's exact wording.

Transactions at scale

moto backs up every table a TransactWriteItems names with copy.deepcopy before applying it (to
roll back a cancelled one), once per item that names the table: a transaction costs time in
proportion to the table's size, so a load test's thousand sends slow down send by send (from
5 ms to over 50 ms per transaction by the thousandth). Here the backup is a shallow copy of the
table whose item map is copied and whose named items alone are deep-copied: a rollback restores
exactly what the transaction could have changed, at a cost independent of the table's size.

Usage: python dynamodb-endpoint.py [--conflicts] HOST PORT
"""

import argparse
import binascii
import collections
import copy
import io
import json
import os
import random
import string
import sys
import threading
import time
from decimal import Decimal, InvalidOperation

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple
from werkzeug.wsgi import get_input_stream

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


class _Backups:
    """Stands in for the `copy` module inside moto's transact_write_items: a table it backs up
    gets the snapshot prepared beforehand; anything else is deep-copied as before."""

    def __init__(self, snapshots):
        self.snapshots = snapshots

    def deepcopy(self, obj, memo=None):
        snapshot = self.snapshots.get(id(obj))
        return snapshot if snapshot is not None else copy.deepcopy(obj, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


_moto_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    """moto's transaction, with backups of only the items it names (see the docstring)."""
    snapshots = {}
    for entry in transact_items:
        op = next(iter(entry.values()), {})
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue  # moto answers it (an ARN or an unknown table: backed up the old way)
        snapshot = snapshots.get(id(table))
        if snapshot is None:
            snapshot = copy.copy(table)
            snapshot.items = copy.copy(table.items)
            snapshots[id(table)] = snapshot
        key = op.get("Key") or op.get("Item") or {}
        hash_value = key.get(table.hash_key_attr)
        if isinstance(hash_value, dict):
            h = DynamoType(hash_value)
            if h in table.items:
                snapshot.items[h] = copy.deepcopy(table.items[h])
    saved = dynamodb_models.copy
    dynamodb_models.copy = _Backups(snapshots)  # under the one lock: no other request runs
    try:
        return _moto_transact_write_items(self, transact_items)
    finally:
        dynamodb_models.copy = saved


DynamoDBBackend.transact_write_items = _transact_write_items


def serialised(environ, start_response):
    with lock:
        # Materialise the response inside the lock: the backend's work happens while iterating.
        return list(app(environ, start_response))


# DynamoDB's error types and messages, as its replies spell them.
ERROR_TYPE = "com.amazonaws.dynamodb.v20120810#"
CONFLICT_MESSAGE = "Transaction is ongoing for the item"
THROTTLE_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically"
    " scaling your table or index so please try again shortly. If exceptions persist, check if you"
    " have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "bp-partition-key-design.html"
)
CANCELLED_MESSAGE = "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]"
IN_PROGRESS_MESSAGE = "The transaction with the given request token is already in progress."
MISMATCH_MESSAGE = "The request uses the same client request token as a previous but non-identical request."

SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
TRANSACT_ACTIONS = ("Put", "Update", "Delete", "ConditionCheck")
# Key schemas are cached; these may change one.
SCHEMA_CHANGES = ("CreateTable", "DeleteTable")


class Tokens:
    """DynamoDB's ClientRequestToken for TransactWriteItems (see the docstring). Read and
    changed only under `lock`."""

    def __init__(self, window_seconds):
        self.window = window_seconds
        # (signer, token) -> [parameters, completes, reply]: reply is (status, headers, body)
        # of a transaction that succeeded, None of one that failed (it holds the token only
        # while in progress). `completes` is time.monotonic() when the transaction let go of
        # its items: before that it is in progress.
        self.entries = {}
        self.order = collections.deque()  # (expires, key), oldest first, for forgetting

    def check(self, environ, request, now):
        """The reply to `request` if its token decides it (a replay, a mismatch, a transaction
        in progress); None if it is to run."""
        self.forget(now)
        token = request.get("ClientRequestToken")
        if not isinstance(token, str):
            return None
        entry = self.entries.get((signer(environ), token))
        if entry is None:
            return None
        parameters, completes, reply = entry
        if completes + self.window <= now or (reply is None and completes <= now):
            return None  # an expired token, or a failed transaction's: this request runs anew
        if parameters != self.parameters(request):
            return error_reply("IdempotentParameterMismatchException", message=MISMATCH_MESSAGE)
        if now < completes:
            return error_reply("TransactionInProgressException", message=IN_PROGRESS_MESSAGE)
        status, headers, body = reply
        fresh_id = ("x-amzn-RequestId", request_id())
        return status, [h for h in headers if h[0].lower() != "x-amzn-requestid"] + [fresh_id], body

    def record(self, environ, request, completes, status, headers, body):
        """Remembers the token of a transaction that ran: its reply if it succeeded."""
        token = request.get("ClientRequestToken")
        if not isinstance(token, str):
            return
        key = (signer(environ), token)
        reply = (status, headers, body) if status.startswith("200") else None
        self.entries[key] = [self.parameters(request), completes, reply]
        self.order.append((completes + self.window, key))

    def forget(self, now):
        while self.order and self.order[0][0] <= now:
            expires, key = self.order.popleft()
            entry = self.entries.get(key)
            if entry is not None and entry[1] + self.window <= expires:
                del self.entries[key]

    @staticmethod
    def parameters(request):
        return json.dumps({k: v for k, v in request.items() if k != "ClientRequestToken"}, sort_keys=True)


class Serialised:
    """The WSGI app without --conflicts: moto serialised, and client request tokens honoured."""

    def __init__(self, tokens):
        self.tokens = tokens

    def __call__(self, environ, start_response):
        if operation_of(environ) != "TransactWriteItems":
            return serialised(environ, start_response)
        request = json_body(environ)
        if not isinstance(request, dict):
            return serialised(environ, start_response)
        with lock:
            reply = self.tokens.check(environ, request, time.monotonic())
            if reply is None:
                reply = call(environ)
                self.tokens.record(environ, request, time.monotonic(), *reply)
        status, headers, body = reply
        start_response(status, headers)
        return [body]


class Contention:
    """The WSGI app with --conflicts: moto serialised, plus DynamoDB's conflicts and throttling."""

    def __init__(self, hold_seconds, item_writes_per_second, tokens):
        self.hold = hold_seconds
        self.limit = item_writes_per_second
        self.tokens = tokens
        # All of the state below is read and changed only under `lock`.
        self.tables = {}  # (signer, table name) -> (table ARN, key attribute names)
        # item -> when the transaction that holds it lets go (time.monotonic()). A hold ends by
        # the clock, not when the holder's thread next gets the lock: with a hundred requests
        # queued on the lock that could take seconds, and the items would look held that long.
        self.in_flight = {}
        self.writes = collections.deque()  # (time, item, units) of the last second, oldest first
        self.recent = collections.Counter()  # item -> write units in the last second

    def __call__(self, environ, start_response):
        operation = operation_of(environ)
        if operation in SCHEMA_CHANGES:
            with lock:
                self.tables.clear()
                return list(app(environ, start_response))
        if operation not in SINGLE_WRITES + ("TransactWriteItems",):
            return serialised(environ, start_response)
        request = json_body(environ)
        if not isinstance(request, dict):
            return serialised(environ, start_response)  # moto answers what it cannot parse
        if operation == "TransactWriteItems":
            return self.transact_write(environ, start_response, request)
        return self.single_write(environ, start_response, request)

    def single_write(self, environ, start_response, request):
        with lock:
            item = self.item(environ, request)
            if item is None:
                return list(app(environ, start_response))
            now = time.monotonic()
            if self.held(item, now):
                return error(start_response, "TransactionConflictException", message=CONFLICT_MESSAGE)
            if self.over_limit(item, 1, now):
                reason = {"reason": "TableWriteKeyRangeThroughputExceeded", "resource": item[0]}
                return error(
                    start_response, "ThrottlingException", message=THROTTLE_MESSAGE, throttlingReasons=[reason]
                )
            status, headers, body = call(environ)
            if status.startswith("200") or error_code(body) == "ConditionalCheckFailedException":
                self.count([item], 1, now)
        start_response(status, headers)
        return [body]

    def transact_write(self, environ, start_response, request):
        with lock:
            # A request whose token decides it (a retry of a transaction that succeeded, or of
            # one still in progress) touches no item: it neither conflicts nor counts.
            reply = self.tokens.check(environ, request, time.monotonic())
            if reply is not None:
                start_response(*reply[:2])
                return [reply[2]]
            actions = request.get("TransactItems")
            items = [self.transact_item(environ, a) for a in actions] if isinstance(actions, list) else []
            if not items or None in items or len(set(items)) < len(items):
                # moto validates or refuses it (two actions on one item are a ValidationException).
                status, headers, body = call(environ)
                self.tokens.record(environ, request, time.monotonic(), status, headers, body)
                start_response(status, headers)
                return [body]
            now = time.monotonic()
            reasons = []
            for item in items:
                if self.held(item, now):
                    reasons.append({"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE})
                elif self.over_limit(item, 2, now):
                    reasons.append({"Code": "ThrottlingError", "Message": THROTTLE_MESSAGE})
                else:
                    reasons.append({"Code": "None"})
            if any(r["Code"] != "None" for r in reasons):
                message = CANCELLED_MESSAGE.format(", ".join(r["Code"] for r in reasons))
                return error(
                    start_response, "TransactionCanceledException", CancellationReasons=reasons, Message=message
                )
            status, headers, body = call(environ)
            # Applied, or cancelled by moto for a failed condition: either way its items went
            # through DynamoDB's prepare phase, so they are held and charged. A request moto
            # refuses as invalid is refused before that.
            held = status.startswith("200") or error_code(body) == "TransactionCanceledException"
            until = time.monotonic() + (self.hold if held else 0)
            if held:
                self.count(items, 2, now)
                for item in items:
                    self.in_flight[item] = until
            self.tokens.record(environ, request, until, status, headers, body)
        if held:
            time.sleep(self.hold)
        start_response(status, headers)
        return [body]

    def transact_item(self, environ, action):
        """The item one TransactItems entry touches, or None."""
        if not isinstance(action, dict) or len(action) != 1:
            return None
        name, body = next(iter(action.items()))
        return self.item(environ, body) if name in TRANSACT_ACTIONS else None

    def item(self, environ, request):
        """(table ARN, primary key) of the item a write names, or None if it cannot be read."""
        if not isinstance(request, dict) or not isinstance(request.get("TableName"), str):
            return None
        table = self.table(environ, request["TableName"])
        attributes = request.get("Key", request.get("Item"))
        if table is None or not isinstance(attributes, dict):
            return None
        arn, key_names = table
        key = []
        for name in key_names:
            value = attributes.get(name)
            if not isinstance(value, dict) or len(value) != 1:
                return None
            (kind, raw), = value.items()
            if kind == "N":
                # DynamoDB compares numbers by value: 1, 1.0 and 10E-1 name one item.
                try:
                    raw = str(Decimal(raw).normalize())
                except (InvalidOperation, TypeError, ValueError):
                    return None
            elif not isinstance(raw, str):
                return None
            key.append((name, kind, raw))
        return arn, tuple(key)

    def table(self, environ, name):
        """(ARN, key attribute names) of a table, by a DescribeTable through moto; None if absent."""
        # A table name may be given as its ARN (DynamoDB accepts both); the cache is per signer
        # (access key and region), as moto keeps a backend per account and region.
        cache_key = (signer(environ), name)
        if cache_key not in self.tables:
            status, _, body = call(
                environ, target="DynamoDB_20120810.DescribeTable", body=json.dumps({"TableName": name}).encode()
            )
            if not status.startswith("200"):
                return None
            description = json.loads(body)["Table"]
            key_names = tuple(k["AttributeName"] for k in description["KeySchema"])
            self.tables[cache_key] = (description["TableArn"], key_names)
        return self.tables[cache_key]

    def held(self, item, now):
        """Whether a transaction holds `item` at `now` (and forgets a hold that has ended)."""
        until = self.in_flight.get(item)
        if until is not None and until <= now:
            del self.in_flight[item]
            return False
        return until is not None

    def over_limit(self, item, units, now):
        """Whether `units` more write units to `item` now exceed the per-item rate."""
        while self.writes and self.writes[0][0] <= now - 1.0:
            _, old, old_units = self.writes.popleft()
            self.recent[old] -= old_units
            if not self.recent[old]:
                del self.recent[old]
        return self.recent[item] + units > self.limit

    def count(self, items, units, now):
        for item in items:
            self.writes.append((now, item, units))
            self.recent[item] += units


def operation_of(environ):
    """The DynamoDB operation a request names (its X-Amz-Target), e.g. "TransactWriteItems"."""
    return environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]


def signer(environ):
    """(access key, region) of the request's signature: moto's account and region."""
    credential = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split("/")
    return credential[0], credential[2] if len(credential) > 2 else ""


def json_body(environ):
    """The request's JSON body (put back for moto to read), or None if it is not JSON."""
    try:
        return json.loads(take_body(environ))
    except ValueError:
        return None


def take_body(environ):
    """Reads the request body and puts it back for moto to read."""
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    return body


def call(environ, target=None, body=None):
    """Runs one request through moto, the caller holding the lock: (status, headers, body).

    With `target` and `body`, runs that request instead, signed as `environ`'s (moto does not
    check signatures)."""
    if target is not None:
        environ = {k: v for k, v in environ.items() if not k.startswith("werkzeug.")}
        environ.update(HTTP_X_AMZ_TARGET=target, CONTENT_LENGTH=str(len(body)))
        environ["wsgi.input"] = io.BytesIO(body)
    reply = {}

    def start_response(status, headers, exc_info=None):
        reply.update(status=status, headers=headers)

    content = b"".join(app(environ, start_response))
    return reply["status"], reply["headers"], content


def error_code(body):
    """The short error type of a DynamoDB JSON error body ("" if it is not one)."""
    try:
        return json.loads(body).get("__type", "").rpartition("#")[2]
    except (ValueError, AttributeError):
        return ""


def error(start_response, error_type, **fields):
    """A DynamoDB error reply: HTTP 400 and the JSON body DynamoDB sends, fields in its order."""
    status, headers, body = error_reply(error_type, **fields)
    start_response(status, headers)
    return [body]


def error_reply(error_type, **fields):
    """(status, headers, body) of a DynamoDB error reply."""
    body = json.dumps({"__type": ERROR_TYPE + error_type, **fields}, separators=(",", ":")).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id()),
        # DynamoDB sends this checksum of the body; botocore checks it when present.
        ("x-amz-crc32", str(binascii.crc32(body))),
    ]
    return "400 Bad Request", headers, body


def request_id():
    return "".join(random.choices(string.ascii_uppercase + string.digits, k=52))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="DYNAMODB_ENDPOINT_TOKEN_SECS (default 600). With --conflicts: DYNAMODB_ENDPOINT_TXN_MS (default"
        " 15), DYNAMODB_ENDPOINT_ITEM_WPS (default 1000).",
    )
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument(
        "--conflicts",
        action="store_true",
        default=os.environ.get("DYNAMODB_ENDPOINT_CONFLICTS", "") == "1",
        help="emulate DynamoDB's transaction conflicts and hot-item throttling (also DYNAMODB_ENDPOINT_CONFLICTS=1)",
    )
    args = parser.parse_args()
    tokens = Tokens(float(os.environ.get("DYNAMODB_ENDPOINT_TOKEN_SECS", "600")))
    wsgi = Serialised(tokens)
    if args.conflicts:
        hold_ms = float(os.environ.get("DYNAMODB_ENDPOINT_TXN_MS", "15"))
        writes_per_second = int(os.environ.get("DYNAMODB_ENDPOINT_ITEM_WPS", "1000"))
        wsgi = Contention(hold_ms / 1000, writes_per_second, tokens)
        print(
            f"dynamodb-endpoint: conflicts on (transactions hold their items {hold_ms:g} ms,"
            f" at most {writes_per_second} write units per item per second)",
            file=sys.stderr,
        )
    run_simple(args.host, args.port, wsgi, threaded=True, request_handler=MotoRequestHandler)
