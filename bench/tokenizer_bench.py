#!/usr/bin/env python3
"""Encode throughput of the tokenizers library on a JSONL corpus, single-threaded, next to Loom's.

    # 1. a corpus (English prose and code from Python's standard library, licences, the multilingual
    #    fixture corpora) and tokenizers trained on it (nothing is downloaded):
    /tmp/ref/bin/python bench/tokenizer_bench.py make --out /tmp/tokbench --megabytes 4 --vocab-size 32000
    # 2. time tokenizers, and Loom's `loom tokenize --timing` on the same files; ids are compared:
    /tmp/ref/bin/python bench/tokenizer_bench.py run --dir /tmp/tokbench \
        --loom ".build-tok/release/loom tokenize"

tokenizers runs with TOKENIZERS_PARALLELISM=false (and RAYON_NUM_THREADS=1): `encode` is called once
per line, and `encode_batch` once on all lines. Each figure is the best of --repeat passes over the whole
corpus (word caches are warm after the first pass on both sides). MB/s counts UTF-8 input bytes.
The last line printed is JSON with every number.
"""
import argparse
import glob
import json
import os
import random
import shlex
import subprocess
import sys
import sysconfig
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "LoomTokenizerTests", "Fixtures")
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                 r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")


def paragraphs(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (UnicodeDecodeError, OSError):
        return []
    return [p.strip("\n") for p in text.split("\n\n") if 40 <= len(p) <= 2000]


def make_corpus(out, megabytes):
    """Paragraphs of Python's stdlib sources (code and English docstrings), the system licences and
    the fixture corpora, shuffled with a fixed seed, up to `megabytes` of UTF-8."""
    sources = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    sources += sorted(glob.glob("/usr/share/common-licenses/*"))
    pieces = []
    for path in sources:
        pieces += paragraphs(path)
    for name in ("train", "test"):
        with open(os.path.join(FIXTURES, "corpus", f"{name}.jsonl"), encoding="utf-8") as f:
            multilingual = [json.loads(line)["text"] for line in f]
        pieces += multilingual * 20
    random.Random(0).shuffle(pieces)
    lines, size = [], 0
    for p in pieces:
        if size >= megabytes * 1e6:
            break
        lines.append(p)
        size += len(p.encode("utf-8"))
    with open(out, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps({"text": line}, ensure_ascii=False) + "\n")
    print(f"corpus: {len(lines)} lines, {size / 1e6:.2f} MB -> {out}")
    return lines


def train(texts, vocab_size, folder):
    """Two full-size tokenizers trained on the corpus: Qwen2-style byte-level and LLaMA-2-style."""
    os.makedirs(folder, exist_ok=True)
    qwen = Tokenizer(models.BPE())
    qwen.normalizer = normalizers.NFC()
    qwen.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    qwen.decoder = decoders.ByteLevel()
    qwen.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, show_progress=False, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    os.makedirs(os.path.join(folder, "qwen2_style"), exist_ok=True)
    qwen.save(os.path.join(folder, "qwen2_style", "tokenizer.json"))

    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    llama = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    llama.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    llama.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, show_progress=False, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens))
    obj = json.loads(llama.to_str())
    obj["added_tokens"] = [t for t in obj["added_tokens"] if t["content"] in ("<unk>", "<s>", "</s>")]
    obj["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    obj["pre_tokenizer"] = None
    obj["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    obj["post_processor"] = {"type": "TemplateProcessing",
                             "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                             "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                             "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    os.makedirs(os.path.join(folder, "llama2_style"), exist_ok=True)
    with open(os.path.join(folder, "llama2_style", "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    print(f"trained qwen2_style and llama2_style (vocab {vocab_size}) in {folder}")


def best_of(repeat, fn):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(args):
    corpus = os.path.join(args.dir, "corpus.jsonl")
    with open(corpus, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    size = sum(len(t.encode("utf-8")) for t in texts)
    names = args.tokenizers or sorted(d for d in os.listdir(args.dir) if os.path.isdir(os.path.join(args.dir, d)))
    report = {"corpus_lines": len(texts), "corpus_mb": round(size / 1e6, 3), "tokenizers": {}}
    for name in names:
        folder = os.path.join(args.dir, name)
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        t_encode, ids = best_of(args.repeat, lambda: [tok.encode(t).ids for t in texts])
        t_batch, batch = best_of(args.repeat, lambda: [e.ids for e in tok.encode_batch(texts)])
        assert batch == ids
        tokens = sum(len(i) for i in ids)
        entry = {
            "tokens": tokens,
            "tokenizers_encode_mb_s": round(size / 1e6 / t_encode, 2),
            "tokenizers_encode_tokens_s": round(tokens / t_encode),
            "tokenizers_encode_batch_mb_s": round(size / 1e6 / t_batch, 2),
            "tokenizers_encode_batch_tokens_s": round(tokens / t_batch),
        }
        print(f"{name}: tokenizers encode {entry['tokenizers_encode_mb_s']} MB/s "
              f"({entry['tokenizers_encode_tokens_s']} tokens/s), encode_batch {entry['tokenizers_encode_batch_mb_s']} MB/s")
        if args.loom:
            out = os.path.join(args.dir, f"{name}.loom_ids.jsonl")
            command = shlex.split(args.loom) + ["--tokenizer", folder, "--input", corpus, "--output", out,
                                                "--timing", "--repeat", str(args.repeat)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
            timing = done.stderr.strip().splitlines()[-1]
            seconds = float(timing.split(" in ")[1].split(" s ")[0])
            with open(out, encoding="utf-8") as f:
                loom_ids = [json.loads(line)["ids"] for line in f]
            mismatched = sum(a != b for a, b in zip(loom_ids, ids)) + abs(len(loom_ids) - len(ids))
            entry.update({"loom_encode_mb_s": round(size / 1e6 / seconds, 2), "loom_encode_tokens_s": round(tokens / seconds),
                          "loom_lines_with_different_ids": mismatched})
            print(f"{name}: loom encode {entry['loom_encode_mb_s']} MB/s ({entry['loom_encode_tokens_s']} tokens/s); "
                  f"lines with different ids: {mismatched}")
        report["tokenizers"][name] = entry
    print(json.dumps(report))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make", help="write corpus.jsonl and train tokenizers into --out")
    make.add_argument("--out", required=True)
    make.add_argument("--megabytes", type=float, default=4.0)
    make.add_argument("--vocab-size", type=int, default=32000)
    make.add_argument("--with-fixtures", action="store_true", default=True,
                      help="also copy the byte-level fixture tokenizers (gpt2_bytelevel, llama3_split)")
    runp = sub.add_parser("run", help="time the tokenizers in --dir on --dir/corpus.jsonl")
    runp.add_argument("--dir", required=True)
    runp.add_argument("--tokenizers", nargs="*", help="folder names under --dir (default: all)")
    runp.add_argument("--repeat", type=int, default=3)
    runp.add_argument("--loom", help='Loom command taking tokenize arguments, e.g. ".build/release/loom tokenize"')
    args = parser.parse_args()
    if args.command == "make":
        os.makedirs(args.out, exist_ok=True)
        texts = make_corpus(os.path.join(args.out, "corpus.jsonl"), args.megabytes)
        train(texts, args.vocab_size, args.out)
        if args.with_fixtures:
            for name in ("gpt2_bytelevel", "llama3_split"):
                os.makedirs(os.path.join(args.out, name), exist_ok=True)
                with open(os.path.join(FIXTURES, name, "tokenizer.json"), encoding="utf-8") as src, \
                        open(os.path.join(args.out, name, "tokenizer.json"), "w", encoding="utf-8") as dst:
                    dst.write(src.read())
    else:
        run(args)


if __name__ == "__main__":
    main()
