#!/usr/bin/env python3
"""Splits a SQuAD JSON file by article position into two files (e.g. a train and an eval part).

    split_squad.py --input_file dev-v1.1.json --train_articles 0:38 --eval_articles 38:48 \
        --train_file train.json --eval_file eval.json

Ranges are Python slices of the "data" list (start:end, end excluded). The output files keep the
input's "version" and every field of the chosen articles. Prints the articles, paragraphs and
questions of each part.
"""
import argparse
import json
import os
import sys


def parse_range(text, flag):
    try:
        start, end = text.split(":")
        start, end = int(start), int(end)
    except ValueError:
        sys.exit("split_squad.py: %s %r: expected START:END (article positions, END excluded)" % (flag, text))
    if start < 0 or end <= start:
        sys.exit("split_squad.py: %s %r: expected 0 <= START < END" % (flag, text))
    return start, end


def write_part(source, start, end, path, flag):
    articles = source["data"]
    if end > len(articles):
        sys.exit("split_squad.py: %s %d:%d: the input has only %d articles" % (flag, start, end, len(articles)))
    part = {key: value for key, value in source.items() if key != "data"}
    part["data"] = articles[start:end]
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(part, f, ensure_ascii=False)
    os.replace(temporary, path)
    paragraphs = sum(len(a["paragraphs"]) for a in part["data"])
    questions = sum(len(p["qas"]) for a in part["data"] for p in a["paragraphs"])
    print("%s: articles %d:%d, %d paragraphs, %d questions" % (path, start, end, paragraphs, questions))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input_file", required=True)
    p.add_argument("--train_articles", default="0:38")
    p.add_argument("--eval_articles", default="38:48")
    p.add_argument("--train_file", required=True)
    p.add_argument("--eval_file", required=True)
    args = p.parse_args()
    train = parse_range(args.train_articles, "--train_articles")
    evaluation = parse_range(args.eval_articles, "--eval_articles")
    if train[0] < evaluation[1] and evaluation[0] < train[1]:
        sys.exit("split_squad.py: --train_articles %s and --eval_articles %s overlap" %
                 (args.train_articles, args.eval_articles))
    with open(args.input_file, encoding="utf-8") as f:
        source = json.load(f)
    write_part(source, train[0], train[1], args.train_file, "--train_articles")
    write_part(source, evaluation[0], evaluation[1], args.eval_file, "--eval_articles")


if __name__ == "__main__":
    main()
