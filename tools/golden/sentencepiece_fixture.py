#!/usr/bin/env python3
"""Writes the fixture that holds SentencePieceTokenizer to transformers' AlbertTokenizer.

tests/fixtures/sentencepiece-albert/ gets spiece.model (a unigram model trained here with
spm_train in ALBERT's layout: <pad> 0, <unk> 1, then [CLS] [SEP] [MASK] as user-defined
symbols, nmt_nfkc normalisation) and expected.json: for each text below, each do_lower_case and
each keep_accents, the ids and offsets AlbertTokenizer gives without special tokens added, as
run_qa.py's fast tokenizer sees them.

Needs transformers 5, tokenizers and protobuf (transformers reads a .model file through it),
and the sentencepiece package's spm_train. Example (from the repository root):
    python3 tools/golden/sentencepiece_fixture.py --out tests/fixtures/sentencepiece-albert
Not covered by the fixture, because the two libraries differ there and the engine follows
sentencepiece: equal-score segmentations (Rust's unigram and sentencepiece break ties
differently, e.g. "Chafffee"), with keep_accents true the alignment of a character composed
from a decomposed input ("a" + U+0301), and control characters (the fast tokenizer misaligns them).
"""
import argparse
import json
import os
import subprocess
import tempfile

TEXTS = [
    "The café on the corner serves naïve résumé writers every morning.",
    "Zürich and São Paulo: ÉCOLE Ångström İstanbul ß ΣΑΣ",
    "``quoted'' text and ''odd`` ones, ```three'''",
    "ﬁne ﬂow ① ² Ⅻ ｆｕｌｌ 1½ cups and 5½ more",
    "A lone digit 8 and Super Bowl L, then 東京は日本の首都です。",
    "zero\u200bwidth\u200cjoin\u200dx\ufeffbom and model\u2014\u200b\u200bmany",
    "[CLS] who [SEP] is [MASK] here <pad> and <unk>? [cls] stays text",
    "  leading and   multiple spaces\tand\nnewlines  ",
    "Привет мир, Ελληνικά 12345, Warsaw (Śródmieście)",
    "Don't can't won't 1945 2001-2002 3.14 end.",
    "",
    " ",
    "Crème brûlée à la française, Tiếng Việt có dấu, ǅungla ﬃx ™ ㎏ ⅷ ℌ ﹙x﹚",
    "한국어 텍스트, العَرَبِيَّة, हिन्दी भाषा, ภาษาไทย, İyi akşamlar Ωmega",
    # Pieces that end inside an expansion ("▁21" of "21⁄2"), start inside one, or both.
    "Mix 2½ cups, Stand21㌔ and Ⅱﬀ ½1 ½½ ⅔½, ﬅand ㎚a x21½ tmⅡ㎡ ㏄ĳ stﬃstﬅ 21⅔ and ⅷﬁ",
]
# Only where keep_accents is false: a decomposed accent ("e" + U+0301) and a lone combining
# mark, which NFKD and StripAccents remove (with keep_accents true the alignment of the composed
# character is the fast tokenizer's quirk, see above).
TEXTS_WITHOUT_ACCENTS = ["cafe\u0301 \u0301alone re\u0301sume\u0301 n\u0303o a\u0308\u0301"]

CORPUS = [
    "The café on the corner serves naïve résumé writers every morning.",
    "Zürich and São Paulo are far apart, but both have great coffee.",
    "Привет мир, это небольшой текст для обучения модели.",
    "東京は日本の首都です。大阪も大きな都市です。",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Students read \"books\" in the library while the rain falls outside.",
    "Ελληνικά γράμματα και αριθμοί 12345 μαζί με σημεία στίξης!",
    "Don't can't won't: 1945, 2001-2002 and 3.14 cups of flour.",
    "Super Bowl L was played in 2016; a lone digit like 8 appears.",
    "Mix 21 cups, 21 more and 21 less: iii, ff, fi, nm, ma, x⁄2, ⁄2, 1⁄2, 2⁄3 and ⁄2 or 21.",
]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(CORPUS * 20) + "\n")
        subprocess.run(["spm_train", f"--input={corpus}", f"--model_prefix={tmp}/spiece", "--vocab_size=200",
                        "--model_type=unigram", "--pad_id=0", "--unk_id=1", "--bos_id=-1", "--eos_id=-1",
                        "--user_defined_symbols=[CLS],[SEP],[MASK]", "--normalization_rule_name=nmt_nfkc",
                        "--character_coverage=1.0", "--hard_vocab_limit=false", "--num_threads=1",
                        "--minloglevel=2"], check=True)
        with open(f"{tmp}/spiece.model", "rb") as src, open(os.path.join(args.out, "spiece.model"), "wb") as dst:
            dst.write(src.read())
    from transformers import AutoTokenizer  # noqa: E402 (only needed past training)
    import transformers
    expected = {"transformers": transformers.__version__, "cases": []}
    for keep_accents in (True, False):
        for lower in (False, True):
            with tempfile.TemporaryDirectory() as model_dir:  # what a model directory holds
                with open(os.path.join(args.out, "spiece.model"), "rb") as src, \
                        open(os.path.join(model_dir, "spiece.model"), "wb") as dst:
                    dst.write(src.read())
                with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
                    json.dump({"tokenizer_class": "AlbertTokenizer", "do_lower_case": lower,
                               "keep_accents": keep_accents}, f)
                tok = AutoTokenizer.from_pretrained(model_dir)
                assert type(tok).__name__.startswith("AlbertTokenizer"), type(tok)
                assert tok.convert_ids_to_tokens(list(range(5))) == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
                for text in TEXTS + ([] if keep_accents else TEXTS_WITHOUT_ACCENTS):
                    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
                    expected["cases"].append({"do_lower_case": lower, "keep_accents": keep_accents, "text": text,
                                              "ids": enc["input_ids"],
                                              "offsets": [list(o) for o in enc["offset_mapping"]]})
    with open(os.path.join(args.out, "expected.json"), "w", encoding="utf-8") as f:
        f.write('{"transformers": "%s", "cases": [\n' % expected["transformers"])
        f.write(",\n".join(json.dumps(case, ensure_ascii=False) for case in expected["cases"]))
        f.write("\n]}\n")

if __name__ == "__main__":
    main()
