#!/usr/bin/env python3
"""Runs one libFuzzer target for a while and prints one line of figures.

    run_fuzzer.py --name N --binary B --seed DIR --work DIR --artifacts DIR
                  [--dict FILE] [--seconds S]

Every seed input (regression inputs included) runs first, then the fuzzer
mutates for S seconds (default: $FUZZ_SECONDS, else 4). New inputs go to the
work dir (kept across runs, so coverage grows), never to the seed dir. A crash,
leak, timeout or sanitizer report: the input is kept as ARTIFACTS/N-crash-…,
the tail of the log is printed, exit status 1.
"""
import argparse
import os
import re
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--dict")
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "4")))
    a = ap.parse_args()

    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.artifacts, exist_ok=True)
    cmd = [a.binary, f"-max_total_time={a.seconds}", "-timeout=10", "-rss_limit_mb=2560",
           "-max_len=65536", "-print_final_stats=1",
           f"-artifact_prefix={os.path.join(a.artifacts, a.name)}-"]
    if a.dict:
        cmd.append(f"-dict={a.dict}")
    cmd += [a.work, a.seed]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    start = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace")
    took = time.monotonic() - start
    log = p.stdout
    with open(os.path.join(a.work, "..", f"{a.name}.log"), "w") as f:
        f.write(" ".join(cmd) + "\n" + log)

    def stat(name):
        m = re.findall(rf"^stat::{name}:\s*(\d+)", log, re.M)
        return int(m[-1]) if m else 0

    runs = stat("number_of_executed_units")
    eps = stat("average_exec_per_sec")
    cov = ft = corp = 0
    for line in log.splitlines():
        m = re.search(r"cov: (\d+) ft: (\d+) corp: (\d+)", line)
        if m:
            cov, ft, corp = map(int, m.groups())
    seeds = len(os.listdir(a.seed)) if os.path.isdir(a.seed) else 0
    print(f"{a.name}: {runs} runs in {took:.0f} s, {eps} exec/s, cov {cov} edges, "
          f"ft {ft} features, corpus {corp} ({seeds} seeds)")
    if p.returncode != 0:
        crashes = re.findall(r"Test unit written to (\S+)", log)
        print("\n".join(log.splitlines()[-60:]))
        print(f"{a.name}: FAILED (exit {p.returncode})"
              + (f"; input kept: {', '.join(crashes)}" if crashes else ""))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
