#!/usr/bin/env python3
"""Writes a training text on which a tiny byte-level GPT grows induction heads.

Each line is, by a coin toss, either a line of the GNU GPL version 3 that ships with Debian
(/usr/share/common-licenses/GPL-3, drawn at random) or a random lowercase string said REPEATS
times with nothing between the repeats:

    cxmwcxmwcxmw
    License, you may add to a covered work material governed by the terms
    uatpkhxkwcgshhuatpkhxkwcgshhuatpkhxkwcgshh

Both halves are needed (docs/internals.md, section 6, has the runs). The random letters are
uniform and independent, so nothing but copying predicts a repeat, and nothing marks where a
repeat starts (no space, lengths uniform in [MIN, MAX]), so the copy can only be found by
matching letters against the earlier text: what an induction head does. With spaces between
the repeats a model learns to copy from the same offset after the last space instead; on the
random strings alone it stays on "predict the letters seen lately". The English lines make the
layer-0 previous-token heads worth having (English bytes depend on the byte before), and the
induction heads in layer 1 build on them.

Deterministic: the same arguments and licence text give the same bytes on every platform
(Python's random.Random is specified to be reproducible for a given seed and call sequence).

Usage: scripts/make_induction_text.py OUT [--licence FILE] [--bytes N] [--min L] [--max L]
                                          [--repeats R] [--seed S]
"""
import argparse
import random
import string


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--licence", default="/usr/share/common-licenses/GPL-3",
                   help="the text whose non-empty lines are mixed in")
    p.add_argument("--bytes", type=int, default=400_000, help="stop once the text has this many")
    p.add_argument("--min", type=int, default=4, help="shortest random string")
    p.add_argument("--max", type=int, default=16, help="longest random string")
    p.add_argument("--repeats", type=int, default=3, help="times each string is said")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if not 1 <= a.min <= a.max or a.repeats < 2 or a.bytes < 1:
        p.error("need 1 <= --min <= --max, --repeats >= 2 and --bytes >= 1")
    with open(a.licence, encoding="utf-8") as f:
        licence = [line.strip() for line in f if line.strip()]
    if not licence:
        p.error(f"{a.licence} has no non-empty line")
    rng = random.Random(a.seed)
    lines, n = [], 0
    while n < a.bytes:
        if rng.random() < 0.5:
            line = licence[rng.randrange(len(licence))]
        else:
            k = rng.randint(a.min, a.max)
            line = "".join(rng.choice(string.ascii_lowercase) for _ in range(k)) * a.repeats
        lines.append(line)
        n += len(line) + 1
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
