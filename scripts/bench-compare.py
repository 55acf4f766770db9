#!/usr/bin/env python3
"""Compares two bench reports (bench/out/*.json) function by function: DynamoDB and Vobiz
requests per warm invoke, by operation, and warm latency (p50, p99) with the ratio after/before.

    scripts/bench-compare.py BEFORE.json AFTER.json [FUNCTION,...]

Used to show that a change left the webhook functions' requests and latency as they were (the
delivery events run off the table's stream, not on the path Vobiz waits on). Exits 1 if a
function's requests per invoke changed.
"""

import json
import sys


def functions(path):
    with open(path) as f:
        report = json.load(f)
    return {fn["binary"]: fn for fn in report["functions"]}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    before, after = functions(sys.argv[1]), functions(sys.argv[2])
    names = sys.argv[3].split(",") if len(sys.argv) > 3 else sorted(set(before) & set(after))
    changed = False
    print("| function | DynamoDB requests/invoke before → after | by operation (warm) | Vobiz requests/invoke | warm p50 ms before → after (ratio) | warm p99 ms before → after |")
    print("|---|---|---|---|---|---|")
    for name in names:
        b, a = before.get(name), after.get(name)
        if b is None or a is None:
            print(f"| {name} | missing from {'before' if b is None else 'after'} | | | | |")
            continue
        req_b, req_a = b["dynamodb_requests_per_invoke"], a["dynamodb_requests_per_invoke"]
        ops_same = b["dynamodb_requests_by_operation_warm"] == a["dynamodb_requests_by_operation_warm"]
        vob_b, vob_a = b["vobiz_requests_per_invoke"], a["vobiz_requests_per_invoke"]
        changed |= req_b != req_a or not ops_same or vob_b != vob_a
        ops = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in sorted(a["dynamodb_requests_by_operation_warm"].items()))
        p50_b, p50_a = b["warm"]["p50_ms"], a["warm"]["p50_ms"]
        ratio = p50_a / p50_b if p50_b else float("nan")
        print(
            f"| {name} | {req_b:g} → {req_a:g} | {ops}{'' if ops_same else ' (changed)'} | {vob_b:g} → {vob_a:g} "
            f"| {p50_b:.3f} → {p50_a:.3f} ({ratio:.2f}) | {b['warm']['p99_ms']:.3f} → {a['warm']['p99_ms']:.3f} |"
        )
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
