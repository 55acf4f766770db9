"""Self-test of scripts/dynamodb-endpoint.py: its contention mode (--conflicts), its default, and
in both the ClientRequestToken of TransactWriteItems.

Starts the endpoint on free loopback ports (once with --conflicts, once without), talks to it
with boto3 making one attempt per request (so that no error is hidden by a retry), and checks
the errors as boto3 exposes DynamoDB's: e.response["Error"]["Code"], e.response["CancellationReasons"].
Exits 1 if any check fails.

Run with the interpreter of scripts/moto.sh (moto and boto3 are installed there):
  . scripts/moto.sh && "$moto_python" scripts/test-dynamodb-endpoint.py
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dynamodb-endpoint.py")
HOLD_MS = 1000  # long enough to act while a transaction holds its items, on a busy machine too
ITEM_WPS = 20
TOKEN_SECS = 2  # the idempotency window (DynamoDB's is 10 minutes), short enough to outlive here
TABLE = "contention"
CONFLICT = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
NONE = {"Code": "None"}

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def start_endpoint(conflicts, log):
    """Starts the endpoint on a free loopback port; returns (process, client)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        DYNAMODB_ENDPOINT_TXN_MS=str(HOLD_MS),
        DYNAMODB_ENDPOINT_ITEM_WPS=str(ITEM_WPS),
        DYNAMODB_ENDPOINT_TOKEN_SECS=str(TOKEN_SECS),
    )
    env.pop("DYNAMODB_ENDPOINT_CONFLICTS", None)
    command = [sys.executable, ENDPOINT, "127.0.0.1", str(port)] + (["--conflicts"] if conflicts else [])
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if process.poll() is not None:
            sys.exit(f"the endpoint died; see {log.name}")
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.2)
    client = boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        # One attempt in all. (botocore's `max_attempts` counts retries, not attempts: with
        # max_attempts=1 a throttled request is retried once and may then succeed.)
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64),
    )
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return process, client


retried = []


def attempt(call, **kwargs):
    """("ok", reply) or ("error", e.response): the error as boto3 exposes it."""
    try:
        result = "ok", call(**kwargs)
    except ClientError as e:
        result = "error", e.response
    if result[1]["ResponseMetadata"].get("RetryAttempts"):
        retried.append(call.__name__)
    return result


def code(result):
    return "ok" if result[0] == "ok" else result[1]["Error"]["Code"]


def together(*calls):
    """Runs the calls on their own threads, released at once by a barrier; their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i):
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def key(pk):
    return {"pk": {"S": pk}}


def put(pk, **attributes):
    item = {"pk": {"S": pk}, **{k: {"S": v} for k, v in attributes.items()}}
    return {"Put": {"TableName": TABLE, "Item": item}}


def set_by(pk, by):
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key(pk),
            "UpdateExpression": "SET #by = :by",
            "ExpressionAttributeNames": {"#by": "by"},
            "ExpressionAttributeValues": {":by": {"S": by}},
        }
    }


def get(client, pk):
    return client.get_item(TableName=TABLE, Key=key(pk), ConsistentRead=True).get("Item")


def by(client, pk):
    return (get(client, pk) or {}).get("by", {}).get("S")


def wait_until_visible(client, pk, value, deadline=5.0):
    """Polls until a transaction's write to pk is visible (moto applied it; its hold runs)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if by(client, pk) == value:
            return True
        time.sleep(0.005)
    return False


raw_bodies = {}


def keep_raw_errors(client):
    """Keeps the first raw body of each error type, to show the wire format."""

    def hook(http_response, parsed, **_):
        if http_response.status_code >= 400:
            raw_bodies.setdefault(parsed.get("Error", {}).get("Code"), http_response.content.decode())

    client.meta.events.register("after-call.dynamodb.*", hook)


def concurrent_transactions_on_one_item(client):
    print("(a) two concurrent transactions on one item: one wins, one is cancelled")
    for round in range(3):
        shared, own_a, own_b1, own_b2 = (f"a{round}-{x}" for x in ("shared", "A", "B1", "B2"))
        # The shared item is at index 1 of A's transaction and at index 0 of B's.
        a = [put(own_a, by="A"), set_by(shared, "A")]
        b = [set_by(shared, "B"), put(own_b1, by="B"), put(own_b2, by="B")]
        ra, rb = together(
            lambda: attempt(client.transact_write_items, TransactItems=a),
            lambda: attempt(client.transact_write_items, TransactItems=b),
        )
        outcomes = sorted([code(ra), code(rb)])
        one_each = outcomes == ["TransactionCanceledException", "ok"]
        check(one_each, f"round {round}: one success, one cancelled: {outcomes}")
        if not one_each:
            continue
        winner, loser = ("A", rb) if ra[0] == "ok" else ("B", ra)
        reasons = loser[1].get("CancellationReasons")
        expected = [CONFLICT, NONE, NONE] if winner == "A" else [NONE, CONFLICT]
        check(reasons == expected, f"round {round}: winner {winner}; loser's CancellationReasons {reasons}")
        message = loser[1]["Error"]["Message"]
        codes = ", ".join(r["Code"] for r in expected)
        check(
            message == f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
            f"round {round}: message {message!r}",
        )
        check(loser[1]["ResponseMetadata"]["HTTPStatusCode"] == 400, f"round {round}: HTTP 400")
        check(by(client, shared) == winner, f"round {round}: the shared item is as {winner} wrote it")
        winner_items = [own_a] if winner == "A" else [own_b1, own_b2]
        loser_items = [own_b1, own_b2] if winner == "A" else [own_a]
        check(all(get(client, pk) for pk in winner_items), f"round {round}: the winner's other items are written")
        check(not any(get(client, pk) for pk in loser_items), f"round {round}: the loser changed nothing")


def concurrent_transactions_on_distinct_items(client):
    print("(b) 50 concurrent transactions on 50 distinct items all succeed")

    def transaction(i):
        items = [put(f"b{i}-x", by=str(i)), set_by(f"b{i}-y", str(i))]
        return lambda: attempt(client.transact_write_items, TransactItems=items)

    calls = [transaction(i) for i in range(50)]
    started = time.monotonic()
    results = together(*calls)
    elapsed = time.monotonic() - started
    codes = [code(r) for r in results]
    check(codes == ["ok"] * 50, f"all 50 succeeded: {sorted(set(codes))}")
    check(all(by(client, f"b{i}-y") == str(i) for i in range(50)), "all 100 items written")
    # 50 holds of 1 s run in parallel (slept outside the lock), not one after another (50 s).
    check(elapsed < 10, f"the holds overlap: 50 transactions in {elapsed:.2f} s")


def single_writes_on_an_item_in_flight(client):
    print("(c) single writes on an item a transaction holds: TransactionConflictException, then success")
    held = []
    holder = threading.Thread(
        target=lambda: held.append(attempt(client.transact_write_items, TransactItems=[set_by("c", "txn")]))
    )
    started = time.monotonic()
    holder.start()
    check(wait_until_visible(client, "c", "txn"), "the transaction is applied (GetItem is not blocked by the hold)")
    tries = {
        "PutItem": lambda: attempt(client.put_item, TableName=TABLE, Item={"pk": {"S": "c"}, "by": {"S": "put"}}),
        "UpdateItem": lambda: attempt(
            client.update_item,
            TableName=TABLE,
            Key=key("c"),
            UpdateExpression="SET #by = :by",
            ExpressionAttributeNames={"#by": "by"},
            ExpressionAttributeValues={":by": {"S": "update"}},
        ),
        "DeleteItem": lambda: attempt(client.delete_item, TableName=TABLE, Key=key("c")),
        "ConditionCheck in a transaction": lambda: attempt(
            client.transact_write_items,
            TransactItems=[
                {"ConditionCheck": {"TableName": TABLE, "Key": key("c"), "ConditionExpression": "attribute_exists(pk)"}}
            ],
        ),
    }
    for name, call in tries.items():
        result = call()
        in_hold = time.monotonic() - started < HOLD_MS / 1000
        if name.startswith("ConditionCheck"):
            ok = code(result) == "TransactionCanceledException" and result[1].get("CancellationReasons") == [CONFLICT]
            check(ok, f"{name}: {code(result)} {result[1].get('CancellationReasons')}")
        else:
            ok = code(result) == "TransactionConflictException"
            message = result[1].get("Error", {}).get("Message")
            check(ok, f"{name}: {code(result)} ({message!r}, HTTP {result[1]['ResponseMetadata']['HTTPStatusCode']})")
        if not in_hold:
            print(f"     (note: {name} was sent after the {HOLD_MS} ms hold; the machine is slow)")
    check(by(client, "c") == "txn", "the refused writes changed nothing")
    holder.join()
    check(code(held[0]) == "ok", f"the holding transaction succeeded: {code(held[0])}")
    check(time.monotonic() - started >= HOLD_MS / 1000, "the transaction's reply came after its hold")
    result = attempt(client.put_item, TableName=TABLE, Item={"pk": {"S": "c"}, "by": {"S": "put"}})
    check(code(result) == "ok" and by(client, "c") == "put", f"PutItem after the hold: {code(result)}")


def throttling(client):
    print(f"(d) more than {ITEM_WPS} writes to one item in a second: ThrottlingException; another item unaffected")

    def add_one(pk):
        return attempt(
            client.update_item,
            TableName=TABLE,
            Key=key(pk),
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    # The limit is counted over a sliding second, so the burst and the transaction after it must
    # fit in one; on a machine too busy for that, try again on a fresh item.
    for round in range(5):
        hot, other = f"d-hot{round}", f"d-other{round}"
        started = time.monotonic()
        codes = [code(add_one(hot)) for _ in range(ITEM_WPS + 5)]
        # A transaction on the hot item is cancelled with DynamoDB's ThrottlingError reason.
        result = attempt(client.transact_write_items, TransactItems=[set_by(other, "txn"), set_by(hot, "txn")])
        elapsed = time.monotonic() - started
        if elapsed < 1:
            break
        print(f"     (note: the burst took {elapsed:.2f} s, more than a second; again on a fresh item)")
    check(elapsed < 1, f"{ITEM_WPS + 5} updates and a transaction in {elapsed:.2f} s, within one second")
    expected = ["ok"] * ITEM_WPS + ["ThrottlingException"] * 5
    counts = f"{codes.count('ok')} ok, {codes.count('ThrottlingException')} throttled"
    check(codes == expected, f"first {ITEM_WPS} ok, the rest throttled: {counts}")
    reasons = result[1].get("CancellationReasons") if result[0] == "error" else None
    check(
        code(result) == "TransactionCanceledException" and [r["Code"] for r in reasons] == ["None", "ThrottlingError"],
        f"a transaction on the hot item: {code(result)} {reasons and [r['Code'] for r in reasons]}",
    )
    check(code(add_one("d-cold")) == "ok", "an update to another item at once: ok")
    n = (get(client, hot) or {}).get("n", {}).get("N")
    check(n == str(ITEM_WPS) and by(client, hot) is None, f"the refused writes changed nothing: n = {n}")
    check(get(client, other) is None, "the refused transaction changed nothing")
    time.sleep(1.05)
    check(code(add_one(hot)) == "ok", "a second later the hot item takes writes again")


def default_mode(client):
    print("(e) without --conflicts: as before (no conflicts, no throttling)")
    ra, rb = together(
        lambda: attempt(client.transact_write_items, TransactItems=[put("e-A", by="A"), set_by("e-shared", "A")]),
        lambda: attempt(client.transact_write_items, TransactItems=[set_by("e-shared", "B"), put("e-B", by="B")]),
    )
    check([code(ra), code(rb)] == ["ok", "ok"], f"two concurrent transactions on one item: {code(ra)}, {code(rb)}")
    check(by(client, "e-shared") in ("A", "B") and get(client, "e-A") and get(client, "e-B"), "both applied")
    codes = [
        code(
            attempt(
                client.update_item,
                TableName=TABLE,
                Key=key("e-hot"),
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        )
        for _ in range(ITEM_WPS + 5)
    ]
    check(codes == ["ok"] * (ITEM_WPS + 5), f"{ITEM_WPS + 5} quick updates to one item all succeed (no throttling)")


def client_request_tokens(client, mode, conflicts):
    print(f"({mode}) ClientRequestToken: a retry of a transaction that succeeded succeeds and changes nothing")
    p = mode  # item names of this run

    def first_send(pk):
        # As a send writes a number's item: only if it has none yet, and a counter taken.
        return [
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {"pk": {"S": pk}, "by": {"S": "first"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": key(f"{p}-counter"),
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]

    def counter():
        return (get(client, f"{p}-counter") or {}).get("n", {}).get("N")

    def transact(items, token):
        return attempt(client.transact_write_items, TransactItems=items, ClientRequestToken=token)

    first = transact(first_send(f"{p}-number"), f"{p}-token-1")
    check(code(first) == "ok" and counter() == "1", f"the first request: {code(first)}, counter {counter()}")
    retry = transact(first_send(f"{p}-number"), f"{p}-token-1")
    check(code(retry) == "ok", f"its retry with the same token: {code(retry)} (its condition would fail now)")
    check(counter() == "1" and by(client, f"{p}-number") == "first", f"the retry changed nothing: counter {counter()}")
    other = transact(first_send(f"{p}-number"), f"{p}-token-2")
    reasons = [r["Code"] for r in other[1].get("CancellationReasons", [])] if other[0] == "error" else None
    check(
        code(other) == "TransactionCanceledException" and reasons == ["ConditionalCheckFailed", "None"],
        f"the same request with another token runs: {code(other)} {reasons}",
    )
    changed = transact(first_send(f"{p}-elsewhere"), f"{p}-token-1")
    message = changed[1].get("Error", {}).get("Message") if changed[0] == "error" else None
    check(
        code(changed) == "IdempotentParameterMismatchException",
        f"the token with other parameters: {code(changed)} ({message!r})",
    )
    check(get(client, f"{p}-elsewhere") is None and counter() == "1", "the mismatched request changed nothing")

    # A transaction that failed holds its token only while in progress: its retry runs.
    failed = transact(first_send(f"{p}-number"), f"{p}-token-3")
    check(code(failed) == "TransactionCanceledException", f"a transaction that fails: {code(failed)}")
    client.delete_item(TableName=TABLE, Key=key(f"{p}-number"))
    again = transact(first_send(f"{p}-number"), f"{p}-token-3")
    check(code(again) == "ok" and counter() == "2", f"its retry, now that it can succeed: {code(again)}")

    if conflicts:
        holder = []
        thread = threading.Thread(
            target=lambda: holder.append(transact(first_send(f"{p}-held"), f"{p}-token-4"))
        )
        started = time.monotonic()
        thread.start()
        check(wait_until_visible(client, f"{p}-held", "first"), "a transaction is applied and holds its items")
        during = transact(first_send(f"{p}-held"), f"{p}-token-4")
        in_hold = time.monotonic() - started < HOLD_MS / 1000
        check(
            code(during) == "TransactionInProgressException" or not in_hold,
            f"its retry while it is in progress: {code(during)}",
        )
        thread.join()
        after = transact(first_send(f"{p}-held"), f"{p}-token-4")
        check(code(holder[0]) == "ok" and code(after) == "ok", f"and once it completed: {code(after)}")
        check(counter() == "3", f"it was applied once: counter {counter()}")

    # After the window, the token is a new request's.
    time.sleep(TOKEN_SECS + 0.2)
    late = transact(first_send(f"{p}-number"), f"{p}-token-1")
    check(code(late) == "TransactionCanceledException", f"the token after its window runs anew: {code(late)}")


def main():
    logs = tempfile.mkdtemp(prefix="dynamodb-endpoint-test-")
    processes = []
    try:
        with open(os.path.join(logs, "conflicts.log"), "w") as log:
            process, client = start_endpoint(True, log)
            processes.append(process)
            keep_raw_errors(client)
            concurrent_transactions_on_one_item(client)
            concurrent_transactions_on_distinct_items(client)
            single_writes_on_an_item_in_flight(client)
            throttling(client)
            client_request_tokens(client, "f", conflicts=True)
        with open(os.path.join(logs, "default.log"), "w") as log:
            process, client = start_endpoint(False, log)
            processes.append(process)
            default_mode(client)
            client_request_tokens(client, "g", conflicts=False)
    finally:
        for process in processes:
            process.terminate()
            process.wait()
    check(not retried, f"no request was retried by the client: {retried}")
    print("raw error bodies, as sent:")
    for error_code, body in sorted(raw_bodies.items()):
        print(f"  {error_code}: {body}")
    if failures:
        print(f"{len(failures)} check(s) failed (endpoint logs in {logs})")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
