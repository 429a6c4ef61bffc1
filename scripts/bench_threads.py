#!/usr/bin/env python3
"""The cpu path's threads on an idle and on a busy machine (issue 29).

Runs five jobs, each at the default thread count (the cores this process may run on) and at
`--threads 1`, first on an idle machine, then under a load of one busy process per core (a
plain spinning loop, as another program on a laptop would be): `generate` on a byte model and
on gpt-day18 (the prefill and decode time generate reports), `bench` forwards (ms per forward)
and `train` (the wall time of 20 steps). Rounds interleave the variants; each figure is the
median of --rounds runs. Prints one table: the seconds each job took, and default / --threads 1
(the target under load: at most 1.2x). With --baseline OTHER_CUGPT the same jobs of another
build (e.g. the previous commit's) run beside it, idle, at its default threads, as this /
baseline (the target: at most 1.05x).

    python3 scripts/bench_threads.py --cugpt build-cpu/tools/cugpt [--baseline old/cugpt]

No environment variable is set for cugpt: its pool's wait policy is its own (workers spin
50 us, yield their core up to 1 ms, then sleep; kernels/cpu/threads.h). A baseline built with
OpenMP runs with the environment as given (OMP_WAIT_POLICY is printed: unset means libgomp's
default, which spins).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = "/usr/share/common-licenses/GPL-3"
DAY18_PROMPT = ",".join(str(1000 + 37 * i) for i in range(16))  # ids (gpt-day18 has no tokenizer)


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_threads: {' '.join(cmd)} failed: {p.stderr.strip()[:400]}")
    return time.perf_counter() - t0, p.stdout


def jobs(cugpt, work):
    tiny = os.path.join(work, "bytes-tiny.safetensors")
    day18 = os.path.join(work, "gpt-day18.safetensors")
    for name, path in (("gpt2-bytes-tiny", tiny), ("gpt-day18", day18)):
        if not os.path.exists(path):
            run([cugpt, "init", name, "--out", path, "--seed", "1"])

    def generate(threads, name, weights, prompt, new, repeat):
        # Seconds of the prefill and the decode as generate times them (process start and
        # loading excluded), summed over `repeat` runs: one tiny run takes ~2 ms, a few
        # scheduler time slices, too short to time alone on a busy machine.
        total = 0.0
        for _ in range(repeat):
            _, out = run([cugpt, *threads, "generate", name, "--weights", weights, *prompt,
                          "--max-new", str(new), "--ignore-eos", "--json"])
            t = json.loads(out[out.index("{"):])["timings"]
            total += (t["prefill_ms"] + t["decode_ms"]) / 1e3
        return total

    def bench(threads, name, B, T, iters):
        _, out = run([cugpt, *threads, "bench", name, "--batch", str(B), "--seq", str(T),
                      "--device", "cpu", "--iters", str(iters), "--json"])
        return json.loads(out[out.index("{"):])["ms_median"] / 1e3

    def train(threads):
        secs, _ = run([cugpt, *threads, "train", "gpt2-bytes-tiny", "--data", TEXT, "--steps",
                       "20", "--batch", "16", "--seq", "64", "--device", "cpu"])
        return secs

    return [
        ("generate gpt2-bytes-tiny, 52 tokens, 10 runs (s)",
         lambda t: generate(t, "gpt2-bytes-tiny", tiny, ["--text", "This License"], 52, 10)),
        ("generate gpt-day18, 16-token prompt, 32 tokens (s)",
         lambda t: generate(t, "gpt-day18", day18, ["--tokens", DAY18_PROMPT], 32, 1)),
        ("bench gpt2-bytes-tiny B=4 T=64 (s a forward)",
         lambda t: bench(t, "gpt2-bytes-tiny", 4, 64, 50)),
        ("bench gpt-day18 B=1 T=128 (s a forward)", lambda t: bench(t, "gpt-day18", 1, 128, 10)),
        ("train gpt2-bytes-tiny 20 steps B=16 T=64 (s wall)", train),
    ]


class Load:
    """One busy process per core while it lives."""

    def __init__(self, busy):
        self.busy, self.procs = busy, []

    def __enter__(self):
        for _ in range(self.busy):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def measure(rounds, variants):
    """Median seconds of each (name, run) variant, the variants interleaved round by round."""
    times = {name: [] for name, _ in variants}
    for _ in range(rounds):
        for name, run_once in variants:
            times[name].append(run_once())
    return {name: statistics.median(v) for name, v in times.items()}


def thread_variants(job):
    return [("default", lambda: job([])), ("one", lambda: job(["--threads", "1"]))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cugpt", default=os.path.join(ROOT, "build-cpu", "tools", "cugpt"))
    ap.add_argument("--baseline", help="another cugpt build to time beside it (idle)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--busy", type=int, default=len(os.sched_getaffinity(0)),
                    help="busy processes under load (default: one per core)")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as work:
        mine = jobs(args.cugpt, work)
        base = jobs(args.baseline, work) if args.baseline else None
        print(f"cpu, f32, {cores} cores this process may run on; default threads = {cores}; "
              f"load: {args.busy} busy processes; median of {args.rounds} interleaved rounds")
        print(f"cugpt: {args.cugpt} (its own pool: workers spin 50 us, yield the core up to 1 ms, "
              "then sleep; kernels/cpu/threads.h)")
        if base:
            print(f"baseline: {args.baseline} (OMP_WAIT_POLICY="
                  f"{os.environ.get('OMP_WAIT_POLICY', 'unset: libgomp spins')})")
        head = "| job | idle default | idle --threads 1 | idle ratio |"
        head += " loaded default | loaded --threads 1 | loaded ratio |"
        if base:
            head += " baseline idle default | this / baseline |"
        print(head)
        print("|" + " --- |" * (head.count("|") - 1))
        rows = []
        for i, (label, job) in enumerate(mine):
            variants = thread_variants(job)
            if base:
                variants.append(("base", lambda b=base[i][1]: b([])))
            rows.append((label, measure(args.rounds, variants)))
        with Load(args.busy):
            loaded = [measure(args.rounds, thread_variants(job)) for _, job in mine]
        for (label, idle), busy in zip(rows, loaded):
            line = (f"| {label} | {idle['default']:.4f} | {idle['one']:.4f} | "
                    f"{idle['default'] / idle['one']:.2f}x | {busy['default']:.4f} | "
                    f"{busy['one']:.4f} | **{busy['default'] / busy['one']:.2f}x** |")
            if base:
                line += f" {idle['base']:.4f} | {idle['default'] / idle['base']:.2f}x |"
            print(line, flush=True)


if __name__ == "__main__":
    main()
