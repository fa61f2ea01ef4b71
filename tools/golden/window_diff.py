#!/usr/bin/env python3
"""Differential check of prepare_squad's windows against Hugging Face on drawn texts.

The goldens in ../shared/golden hold the SQuAD dev set at 384/128, uncased. This draws SQuAD
files unlike it (accents, decomposed and lone combining marks, CJK, Hangul, Thai, emoji with
joiners, control and zero-width characters, unusual spaces, words longer than 100 characters,
letters whose lower case is longer, ligatures, mathematical letters, ASCII symbols) and
window settings unlike 384/128, runs prepare_squad on them and compares every window
(input_ids, token_type_ids, offsets, start/end labels) with what run_qa.py's
prepare_train_features computes through the Rust `tokenizers` library: BertWordPieceTokenizer
(what BertTokenizerFast builds from vocab.txt), truncation "only_second" with stride and
overflowing tokens, labels by run_qa's loops over the raw offsets.

Needs `tokenizers` before 0.23 (0.23's overflow stepping drops windows, see
../shared/golden/README.md), e.g. `python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install
tokenizers==0.22.1`. Example:
  window_diff.py --prepare_squad build-cpu/apps/prepare_squad \
      --vocab_file ../shared/data/bert-base-uncased/vocab.txt --files 50 --seed 1
Exit status 1 when any window differs (the first differences are printed).
"""
import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

os.environ.setdefault("RUST_BACKTRACE", "0")
import tokenizers  # noqa: E402
from tokenizers import BertWordPieceTokenizer  # noqa: E402

# Pieces of text drawn into contexts, questions and answers.
ACCENTED = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝŸøØłŁšŠžŽčČőŐűŰ"
COMBINING = "\u0300\u0301\u0302\u0303\u0308\u0327\u0331\u20d7"
CJK = "中国北京大学日本東京語漢字한국어서울ภาษาไทยकखगघअरबيةעברית"
EMOJI = ["😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤\ufe0f", "✈", "🤖"]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2009", "\u3000", "\u202f", "\u2028", "\x0b", "\x0c"]
INVISIBLE = ["\u200b", "\u200d", "\ufeff", "\u00ad", "\x00", "\ufffd", "\x07", "\x1b", "\u2060", "\x85"]
SPECIAL_CASE = ["İstanbul", "ẞ", "ΣΟΦΟΣ", "ﬁnance", "ﬂow", "Ǆ", "ǅ", "ᾼ", "K", "Å", "ŉ", "ǰ"]
MATH = ["𝐀𝐁𝐂", "𝔄", "ℌ", "①", "²", "½", "Ⅻ", "ｆｕｌｌ", "ＡＢＣ", "１２３"]
SYMBOLS = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["—", "–", "…", "«", "»", "¿", "¡", "·", "§", "©", "°", "€", "£", "¥", "™", "•", "„", "‚", "′"]


class Drawer:
    def __init__(self, rng, words):
        self.rng = rng
        self.words = words

    def word(self):
        r = self.rng.random()
        w = self.rng.choice(self.words)
        if r < 0.45:
            return w
        if r < 0.55:
            return w.capitalize() if self.rng.random() < 0.7 else w.upper()
        if r < 0.62:  # accented letters, precomposed or decomposed
            s = "".join(self.rng.choice(ACCENTED) if self.rng.random() < 0.3 else c for c in w)
            return unicodedata.normalize(self.rng.choice(["NFC", "NFD"]), s)
        if r < 0.66:  # combining marks, also leading a word
            pos = self.rng.randrange(len(w) + 1)
            return w[:pos] + self.rng.choice(COMBINING) + w[pos:]
        if r < 0.71:
            return "".join(self.rng.choice(CJK) for _ in range(self.rng.randint(1, 6)))
        if r < 0.74:
            return self.rng.choice(EMOJI)
        if r < 0.78:
            return self.rng.choice(SPECIAL_CASE)
        if r < 0.81:
            return self.rng.choice(MATH)
        if r < 0.84:  # digits, numbers with separators
            return self.rng.choice([str(self.rng.randint(0, 10 ** 6)), "3.14", "1,000", "12:30", "4-5"])
        if r < 0.86:  # longer than max_input_chars_per_word (100): [UNK]
            return "".join(self.rng.choice("abcdefghij") for _ in range(self.rng.randint(95, 130)))
        if r < 0.90:  # a word with an invisible or control character inside
            pos = self.rng.randrange(len(w) + 1)
            return w[:pos] + self.rng.choice(INVISIBLE) + w[pos:]
        if r < 0.95:
            return self.rng.choice(SYMBOLS) + w if self.rng.random() < 0.5 else w + self.rng.choice(SYMBOLS)
        return "".join(self.rng.choice(SYMBOLS) for _ in range(self.rng.randint(1, 3)))

    def space(self):
        return " " if self.rng.random() < 0.8 else self.rng.choice(SPACES + INVISIBLE[:2])

    def text(self, n_words):
        parts = []
        for i in range(n_words):
            if i:
                parts.append(self.space())
            parts.append(self.word())
        return "".join(parts)


def draw_squad(rng, words, n_paragraphs, question_words):
    d = Drawer(rng, words)
    paragraphs = []
    qid = 0
    for _ in range(n_paragraphs):
        context = d.text(rng.choice([rng.randint(1, 20), rng.randint(20, 200), rng.randint(200, 700)]))
        if rng.random() < 0.2:  # leading and trailing spaces
            context = rng.choice(SPACES) + context + rng.choice(SPACES)
        qas = []
        for _ in range(rng.randint(1, 4)):
            start = rng.randrange(len(context))
            end = min(len(context), start + rng.randint(1, 40))
            answer = context[start:end]
            question = d.text(rng.randint(1, question_words)) + "?"
            if rng.random() < 0.3:
                question = rng.choice(SPACES) + " " + question  # run_qa left-strips questions
            qa = {"id": "q%d" % qid, "question": question,
                  "answers": [{"text": answer, "answer_start": start}]}
            if rng.random() < 0.1:  # SQuAD v2.0's unanswerable question: run_qa labels [CLS]
                qa.update(answers=[], is_impossible=True)
            elif rng.random() < 0.15:  # a second answer (run_qa labels the first)
                other = rng.randrange(len(context))
                qa["answers"].append({"text": context[other:other + 5], "answer_start": other})
            qas.append(qa)
            qid += 1
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "1.1", "data": [{"title": "drawn", "paragraphs": paragraphs}]}


def hf_windows(squad, vocab_file, lowercase, max_len, stride):
    """run_qa.py's prepare_train_features, with offsets kept only for context tokens (as
    prepare_validation_features does) and the example's article index."""
    tok = BertWordPieceTokenizer(vocab_file, lowercase=lowercase, strip_accents=None,
                                 clean_text=True, handle_chinese_chars=True)
    tok.enable_truncation(max_len, stride=stride, strategy="only_second")
    cls_id = tok.token_to_id("[CLS]")
    out = []
    for article, entry in enumerate(squad["data"]):
        for para in entry["paragraphs"]:
            for qa in para["qas"]:
                enc = tok.encode(qa["question"].lstrip(), para["context"])
                for e in [enc] + enc.overflowing:
                    ids, offsets, seq = e.ids, e.offsets, e.sequence_ids
                    cls_index = ids.index(cls_id)
                    if not qa["answers"]:
                        out.append(window(qa, article, e, cls_index, cls_index))
                        continue
                    answer = qa["answers"][0]
                    start_char = answer["answer_start"]
                    end_char = start_char + len(answer["text"])
                    ts = 0
                    while seq[ts] != 1:
                        ts += 1
                    te = len(ids) - 1
                    while seq[te] != 1:
                        te -= 1
                    if not (offsets[ts][0] <= start_char and offsets[te][1] >= end_char):
                        sp = ep = cls_index
                    else:
                        while ts < len(offsets) and offsets[ts][0] <= start_char:
                            ts += 1
                        sp = ts - 1
                        while offsets[te][1] >= end_char:
                            te -= 1
                        ep = te + 1
                    out.append(window(qa, article, e, sp, ep))
    return out


def hf_windows_or_error(squad, vocab_file, lowercase, max_len, stride):
    """(windows, None), or (None, the error) where tokenizers refuses the file: it panics on a
    question that leaves no more than the stride for the context."""
    try:
        return hf_windows(squad, vocab_file, lowercase, max_len, stride), None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # pyo3's PanicException derives from BaseException
        return None, "%s: %s" % (type(e).__name__, e)


def window(qa, article, encoding, start_position, end_position):
    """One window as prepare_squad's JSON Lines hold it."""
    return {"example_id": qa["id"], "article": article, "input_ids": encoding.ids,
            "token_type_ids": encoding.type_ids,
            "offsets": [list(o) if s == 1 else None for o, s in zip(encoding.offsets, encoding.sequence_ids)],
            "start_position": start_position, "end_position": end_position}


def ours(prepare_squad, vocab_file, squad_path, lowercase, max_len, stride, out_path):
    cmd = [prepare_squad, "--vocab_file", vocab_file, "--input_file", squad_path,
           "--output_file", out_path, "--max_seq_length", str(max_len), "--doc_stride", str(stride),
           "--do_lower_case", "true" if lowercase else "false"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        return None, run.stderr.strip()
    with open(out_path, encoding="utf-8") as f:
        return [json.loads(line) for line in f], None


def first_difference(a, b):
    for key in ["example_id", "article", "input_ids", "token_type_ids", "offsets", "start_position",
                "end_position"]:
        if a[key] != b[key]:
            if isinstance(a[key], list):
                i = next((i for i, (x, y) in enumerate(zip(a[key], b[key])) if x != y),
                         min(len(a[key]), len(b[key])))
                return "%s differs at %d: ours %s, HF %s (lengths %d, %d)" % (
                    key, i, a[key][i:i + 4], b[key][i:i + 4], len(a[key]), len(b[key]))
            return "%s: ours %r, HF %r" % (key, a[key], b[key])
    return None


def write_fixture_case(directory, n, squad, settings, theirs):
    """One drawn file with Hugging Face's windows, or "error" where tokenizers refused it (None)."""
    os.makedirs(directory, exist_ok=True)
    lowercase, max_len, stride = settings
    name = "case_%d" % n
    with open(os.path.join(directory, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(squad, f, ensure_ascii=False, indent=None)
    if theirs is not None:
        with gzip.open(os.path.join(directory, name + ".windows.jsonl.gz"), "wt", encoding="utf-8") as f:
            for w in theirs:
                f.write(json.dumps(w, ensure_ascii=False) + "\n")
    with open(os.path.join(directory, "cases.tsv"), "a", encoding="utf-8") as f:
        f.write("%s\t%s\t%d\t%d\t%s\n" % (name, "true" if lowercase else "false", max_len, stride,
                                          "error" if theirs is None else "windows"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepare_squad", required=True)
    p.add_argument("--vocab_file", required=True)
    p.add_argument("--files", type=int, default=20, help="drawn SQuAD files")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--paragraphs", type=int, default=8, help="paragraphs per file")
    p.add_argument("--input_file", help="check this SQuAD file instead of drawn ones (its own settings: "
                   "--max_seq_length, --doc_stride, --lowercase)")
    p.add_argument("--max_seq_length", type=int, default=384)
    p.add_argument("--doc_stride", type=int, default=128)
    p.add_argument("--lowercase", choices=["true", "false"], default="true")
    p.add_argument("--keep", help="directory to keep the drawn files that differ in")
    p.add_argument("--write_fixture", help="directory to write the drawn files and Hugging Face's windows "
                   "in (case_N.json, case_N.windows.jsonl.gz, cases.tsv) for test_squad_prepare_app_drawn")
    args = p.parse_args()
    if tuple(int(x) for x in tokenizers.__version__.split(".")[:2]) >= (0, 23):
        sys.exit("tokenizers %s: its overflow stepping differs from run_qa's reference (use < 0.23)"
                 % tokenizers.__version__)
    with open(args.vocab_file, encoding="utf-8") as f:
        words = [w.rstrip("\n").lstrip("#") for w in f if not w.startswith("[")]
    words = [w for w in words if w]
    rng = random.Random(args.seed)
    failures = windows_checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1 if args.input_file else args.files):
            if args.input_file:
                with open(args.input_file, encoding="utf-8") as f:
                    squad = json.load(f)
                settings = (args.lowercase == "true", args.max_seq_length, args.doc_stride)
                path = args.input_file
            else:
                max_len = rng.choice([384, 384, 256, 128, 64, 48])
                stride = rng.choice([0, 1, max_len // 8, max_len // 4, max_len // 3])
                # Questions mostly short enough to leave room for the context; some too long.
                squad = draw_squad(rng, words, args.paragraphs, max(2, max_len // rng.choice([3, 8, 8, 8])))
                settings = (rng.random() < 0.7, max_len, stride)
                path = os.path.join(tmp, "drawn_%d.json" % n)
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(squad, f, ensure_ascii=rng.random() < 0.5)
            lowercase, max_len, stride = settings
            theirs, hf_error = hf_windows_or_error(squad, args.vocab_file, lowercase, max_len, stride)
            if args.write_fixture and not args.input_file:
                write_fixture_case(args.write_fixture, n, squad, settings, theirs)
            mine, error = ours(args.prepare_squad, args.vocab_file, path, lowercase, max_len, stride,
                               os.path.join(tmp, "ours.jsonl"))
            label = "file %d (lowercase %s, max_seq_length %d, doc_stride %d)" % (n, lowercase, max_len, stride)
            problem = None
            if mine is None or theirs is None:
                if not (mine is None and theirs is None):
                    problem = "ours: %s; HF: %s" % (error or "ok", hf_error or "ok")
            elif len(mine) != len(theirs):
                problem = "%d windows, HF %d" % (len(mine), len(theirs))
            else:
                for i, (a, b) in enumerate(zip(mine, theirs)):
                    diff = first_difference(a, b)
                    if diff:
                        problem = "window %d (%s): %s" % (i, a["example_id"], diff)
                        break
                windows_checked += len(mine)
            if problem:
                failures += 1
                print("DIFF %s: %s" % (label, problem))
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    with open(os.path.join(args.keep, "diff_%d.json" % n), "w", encoding="utf-8") as f:
                        json.dump(squad, f, ensure_ascii=False)
            else:
                print("same %s: %d windows" % (label, len(mine) if mine else 0))
    print("%d of %d files differ; %d windows compared" % (failures, 1 if args.input_file else args.files,
                                                          windows_checked))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
