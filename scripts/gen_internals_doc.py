#!/usr/bin/env python3
"""Regenerates the figures of docs/internals.md from the commands it shows, so they cannot go
stale silently: every ```sh block is run (build/tools/cugpt replaced by --cugpt), and the
``` block right after it is replaced by what the commands printed (stdout and stderr). A
`<!-- output: PIPELINE -->` line between the two blocks filters the output through a shell
pipeline (head, grep) before it is written; `<!-- date -->...<!-- /date -->` gets today's date;
`<!-- image: DIR DEST -->` copies the heatmap of the most certain head (lowest attention
entropy in the last layer of DIR/stats.json, as `cugpt inspect` wrote it) to docs/DEST, and
`<!-- head -->...<!-- /head -->` gets that head's name and entropy. Run it after a change that moves a figure, and commit the result:

    python3 scripts/gen_internals_doc.py --cugpt build-cpu/tools/cugpt

It takes about a minute (the training run is 600 steps on the cpu).
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run(cmd, cugpt, env):
    cmd = cmd.replace("build/tools/cugpt", cugpt)
    r = subprocess.run(["bash", "-eo", "pipefail", "-c", cmd], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"gen_internals_doc: `{cmd}` failed ({r.returncode}):\n{r.stderr}")
    return r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cugpt", default="build-cpu/tools/cugpt")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "internals.md"))
    args = ap.parse_args()
    cugpt = os.path.abspath(args.cugpt)
    if not os.access(cugpt, os.X_OK):
        sys.exit(f"gen_internals_doc: no cugpt at {cugpt} (build it, or pass --cugpt)")
    env = dict(os.environ)
    lines = open(args.doc, encoding="utf-8").read().split("\n")
    out, i, last, filt, head = [], 0, None, None, None
    while i < len(lines):
        line = lines[i]
        if line == "```sh":
            j = lines.index("```", i + 1)
            last = "\n".join(lines[i + 1:j])
            out += lines[i:j + 1]
            i = j + 1
            continue
        m = re.match(r"<!-- output: (.*) -->$", line)
        if m:
            out.append(line)
            filt = m.group(1)
            i += 1
            continue
        m = re.match(r"<!-- image: (\S+) (\S+) -->$", line)
        if m:
            stats = json.load(open(os.path.join(m.group(1), "stats.json")))
            layer = stats["layers"][-1]
            h = min(range(len(layer["entropy"])), key=lambda k: layer["entropy"][k])
            others = [e for k, e in enumerate(layer["entropy"]) if k != h]
            head = (f"layer {layer['layer']} head {h} has {layer['entropy'][h]:.2f} nats where "
                    f"the others of its layer have {min(others):.2f} to {max(others):.2f}")
            shutil.copyfile(os.path.join(m.group(1), f"layer{layer['layer']}_head{h}.png"),
                            os.path.join(ROOT, "docs", m.group(2)))
            out.append(line)
            i += 1
            continue
        if line == "```" and last is not None:
            j = lines.index("```", i + 1)
            printed = run(last, cugpt, env)
            if filt:
                printed = subprocess.run(["bash", "-c", filt], input=printed,
                                         capture_output=True, text=True).stdout
            out += ["```"] + printed.rstrip("\n").split("\n") + ["```"]
            last, filt = None, None
            i = j + 1
            continue
        out.append(line)
        i += 1
    text = "\n".join(out)
    today = datetime.date.today().isoformat()
    text = re.sub(r"<!-- date -->.*?<!-- /date -->", f"<!-- date -->{today}<!-- /date -->", text)
    if head:
        text = re.sub(r"<!-- head -->.*?<!-- /head -->", f"<!-- head -->{head}<!-- /head -->",
                      text, flags=re.S)
    open(args.doc, "w", encoding="utf-8").write(text)
    print(f"regenerated {args.doc}")


if __name__ == "__main__":
    main()
