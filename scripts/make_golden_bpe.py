#!/usr/bin/env python3
"""Golden ids for cugpt's byte-level BPE, from Hugging Face's `tokenizers`.

Writes the small vocabulary that tests/test_tokenizer.cpp builds (the same 256 byte tokens in
GPT-2's order, the same merges, <|endoftext|> last) to tests/data/bpe/vocab.json and merges.txt,
encodes a set of strings with `tokenizers` (a BPE model with the ByteLevel pre-tokenizer and
decoder, as ByteLevelBPETokenizer sets it up, plus <|endoftext|> as a special token) and writes
tests/data/bpe/golden.json: {"cases": [{"text": ..., "ids": [...]}]}. test_tokenizer compares
cugpt's ids with these when the file exists and skips that one test when it does not.

Without `tokenizers` installed it still writes vocab.json and merges.txt, then exits with 1.

Usage: python3 scripts/make_golden_bpe.py [--out tests/data/bpe]
"""
import argparse
import json
import os
import random
import sys

# Must equal kMerges in tests/test_tokenizer.cpp: merge r makes the token with id 256 + r.
MERGES = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("t", "h"), ("o", "r"),
    ("r", "l"), ("Ġ", "w"), ("Ġw", "or"), ("l", "d"), ("Ġwor", "ld"),
    ("'", "s"), ("'", "t"), ("1", "2"), ("12", "3"), ("Ġ", "4"),
    ("Ċ", "Ċ"), ("Ġ", "Ġ"), ("!", "!"), ("l", "l"), ("e", "ll"),
    ("Ã", "©"),
]
END_OF_TEXT = "<|endoftext|>"

# The hand-derived cases of test_tokenizer.cpp first, then more of the same kinds.
CASES = [
    "the world", " the", "hello", "it's can't", "IT'S", "123 4 1234", "Hi!! ok", "a ...",
    "a\n\nb", "a\n\n", "x   y", "a\tb", "the<|endoftext|> the", "a <|endoftext|>b",
    "<|endoftext", "café", "ÿ",
    "", " ", "  ", "\n", " \n ", "Hello, world! It's 2024.\n\n  Indented\tline\r\n",
    "I'll've we'd you're they've she'm 'S 'LL",
    "the the the world world hello hell", "1234567890 12 123.4 ١٢٣ ²³",
    "naïve café — 日本語のテキスト、です。 😀👋🏽 e\u0301t",
    "Привет, мир! Καλημέρα κόσμε", "tab\tand\u00a0nbsp\u3000ideographic space",
    "<|endoftext|><|endoftext|>x<|endoftext|>", "ends with spaces   ", "\n\n\nthree newlines",
    "!!!!! !!! ?! ...", "l l ll lll llll", "e\u0301\u0301", "$100 + 50% = €150",
]

# Characters whose class cugpt's built-in table gets exactly right (see docs/tokenizers.md),
# for random strings that exercise the split rules rather than the Unicode table.
POOL = (list("abcXYZ0129!?.,;:-'\"()<|>") +
        ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", " ", " ", "  ", "\n", "\t", "\r\n",
         "é", "ж", "中", "文", "²", "٣", "\u00a0", "\u3000", "😀", "\u0301", "—", "€", "the",
         " world", "hello", "12", "<|endoftext|>"])


def bytes_to_unicode():
    """GPT-2's table: byte -> the character that stands for it in vocab.json and merges.txt."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
                 list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return printable + [b for b in range(256) if b not in printable], table


def build_vocab():
    order, table = bytes_to_unicode()
    vocab = {}
    for b in order:
        vocab[table[b]] = len(vocab)
    for a, b in MERGES:
        vocab[a + b] = len(vocab)
    vocab[END_OF_TEXT] = len(vocab)
    return vocab


def format_golden(version, cases):
    """golden.json with one case a line, so that a diff shows which case changed."""
    lines = [json.dumps(c, ensure_ascii=False) for c in cases]
    return ('{"tokenizers": %s, "cases": [\n' % json.dumps(version) + ",\n".join(lines) +
            "\n]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "tests", "data", "bpe"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    vocab_path = os.path.join(args.out, "vocab.json")
    merges_path = os.path.join(args.out, "merges.txt")
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(build_vocab(), f)  # ASCII with \u escapes, as GPT-2's own vocab.json
    with open(merges_path, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in MERGES:
            f.write(f"{a} {b}\n")
    print(f"wrote {vocab_path} and {merges_path}")

    try:
        import tokenizers
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    except ImportError:
        print("Hugging Face's tokenizers is not installed: no golden.json", file=sys.stderr)
        return 1
    tok = Tokenizer(models.BPE.from_file(vocab_path, merges_path))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([END_OF_TEXT])

    rng = random.Random(2024)
    texts = list(CASES)
    for _ in range(60):
        texts.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, 14))))
    cases = []
    for text in texts:
        ids = tok.encode(text).ids
        back = tok.decode(ids, skip_special_tokens=False)
        if back != text:
            raise SystemExit(f"tokenizers does not round-trip {text!r}: {back!r}")
        cases.append({"text": text, "ids": ids})
    golden_path = os.path.join(args.out, "golden.json")
    with open(golden_path, "w", encoding="utf-8") as f:
        f.write(format_golden(tokenizers.__version__, cases))
    print(f"wrote {golden_path}: {len(cases)} cases (tokenizers {tokenizers.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
