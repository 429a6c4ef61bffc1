#!/usr/bin/env python3
"""Sums an `ncu --csv --metrics gpu__time_duration.sum` log by kernel: where the GPU time of a
decode step goes, to set against its wall-clock time.

    python3 scripts/profile_summary.py ncu.csv --marker decode_kernel --per-step 12

The number of steps the log covers is the count of the marker kernel (one launch per layer
per step) over --per-step.
"""
import argparse
import collections
import csv
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--marker", default="decode_kernel")
    ap.add_argument("--per-step", type=int, default=12, help="marker launches per step")
    args = ap.parse_args()
    with open(args.csv, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu prints its own lines before the table
    total = collections.Counter()
    count = collections.Counter()
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3,
                 "msecond": 1e3}[row["Metric Unit"]]
        name = row["Kernel Name"].split("(")[0][:60]
        total[name] += value * scale
        count[name] += 1
    if not total:
        print("no kernel durations in", args.csv)
        return 1
    steps = sum(c for n, c in count.items() if args.marker in n) / args.per_step
    if steps < 1:
        print(f"fewer than one step of {args.marker} in", args.csv)
        return 1
    args.steps = steps
    all_us = sum(total.values())
    print(f"{sum(count.values())} kernels, {all_us:.1f} us of GPU time, "
          f"{all_us / args.steps:.1f} us per step over {args.steps:.1f} steps")
    for name, us in total.most_common(12):
        print(f"  {us / args.steps:9.1f} us/step {count[name] / args.steps:5.1f}x  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
