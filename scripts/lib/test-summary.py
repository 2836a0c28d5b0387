#!/usr/bin/env python3
"""Reads meson's meson-logs/testlog.json of one or more build dirs and prints a
per-test table, then the closing line `N passed, N failed`.

    test-summary.py [--fail LABEL ...] BUILD_DIR[=LABEL] ...

--fail adds a failure that is not a meson test (e.g. a build that did not
compile). Exits 1 if anything failed, 0 otherwise.
"""
import argparse
import json
import os
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}
TAIL_LINES = 40


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fail", action="append", default=[], help="a failure outside meson test")
    ap.add_argument("builds", nargs="*")
    args = ap.parse_args()

    rows = []
    tails = []  # (what, output) of each failed test
    for spec in args.builds:
        build, _, label = spec.partition("=")
        label = label or os.path.basename(build.rstrip("/"))
        path = os.path.join(build, "meson-logs", "testlog.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    t = json.loads(line)
                except json.JSONDecodeError:
                    continue
                name = t.get("name", "?")
                suite = ""
                if " / " in name:  # "project:suite / test"
                    suite, name = name.split(" / ", 1)
                    suite = suite.split(":", 1)[-1]
                rows.append((label, suite, name, t.get("result", "?"),
                             float(t.get("duration") or 0.0)))
                if rows[-1][3] not in PASSED | SKIPPED:
                    tails.append((f"{label}/{name} ({rows[-1][3]})", t.get("stdout") or ""))

    for what in args.fail:
        rows.append(("-", "-", what, "FAIL", 0.0))

    passed = sum(1 for r in rows if r[3] in PASSED)
    skipped = sum(1 for r in rows if r[3] in SKIPPED)
    failed = len(rows) - passed - skipped

    # The end of a failed test's output, next to the table: often all of a CI
    # log that is kept, and where a hang says which test and where it waited.
    for what, out in tails[:4]:
        lines = out.rstrip("\n").split("\n")[-TAIL_LINES:]
        print(f"\n--- the last {len(lines)} lines of {what}:")
        print("\n".join(line[:300] for line in lines))

    if rows:
        wl = max(len(r[0]) for r in rows)
        ws = max(len(r[1]) for r in rows)
        wn = max(len(r[2]) for r in rows)
        print()
        print(f"{'build':<{wl}}  {'suite':<{ws}}  {'test':<{wn}}  result      time")
        for label, suite, name, result, dur in rows:
            print(f"{label:<{wl}}  {suite:<{ws}}  {name:<{wn}}  {result:<10} {dur:6.1f}s")
        print()
    if skipped:
        print(f"{skipped} skipped: " + ", ".join(f"{r[0]}/{r[2]}" for r in rows if r[3] in SKIPPED))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
