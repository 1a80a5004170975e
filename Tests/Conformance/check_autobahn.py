"""Reads an Autobahn testsuite index.json and fails unless every case is OK, NON-STRICT or
INFORMATIONAL (with an OK or INFORMATIONAL close). Usage: check_autobahn.py INDEX_JSON LABEL"""
import collections
import json
import sys

results = json.load(open(sys.argv[1]))
counts, failures = collections.Counter(), []
for cases in results.values():
    for case, result in cases.items():
        counts[result["behavior"]] += 1
        if result["behavior"] not in ("OK", "NON-STRICT", "INFORMATIONAL") or result["behaviorClose"] not in ("OK", "INFORMATIONAL"):
            failures.append(f'{case}: {result["behavior"]} / close {result["behaviorClose"]}')
total = sum(counts.values())
print(f"{sys.argv[2]}:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), f"({total} cases)")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"{total} passed, 0 failed")
