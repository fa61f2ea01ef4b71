#!/usr/bin/env python3
"""Differential check of eval_squad's metric mode against the official SQuAD v1.1 script.

Draws questions whose answers and predictions hold what the official normalisation is
sensitive to: articles next to accents, combining marks, digits and underscores (Python's
Unicode \\b), ASCII and Unicode punctuation (only ASCII is removed), Unicode spaces
(str.split), letters whose lower case differs in length or with context (İ, final sigma),
repeated tokens (F1 counts them), empty and whitespace-only answers and unanswered questions.
The official evaluate-v1.1.py is written out below (its normalize_answer, f1_score,
exact_match_score, metric_max_over_ground_truths and evaluate, unchanged); eval_squad
--predictions_file must print the same exact_match and f1 to the last digit of a double.

No third-party package needed. Example:
  metric_diff.py --eval_squad build-cpu/apps/eval_squad --files 200 --seed 1
Exit status 1 when any file's scores differ (the first differing question is located).
"""
import argparse
import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


# ---- the official SQuAD v1.1 evaluation (evaluate-v1.1.py) ----
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def exact_match_score(prediction, ground_truth):
    return (normalize_answer(prediction) == normalize_answer(ground_truth))


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article['paragraphs']:
            for qa in paragraph['qas']:
                total += 1
                if qa['id'] not in predictions:
                    continue
                ground_truths = list(map(lambda x: x['text'], qa['answers']))
                prediction = predictions[qa['id']]
                exact_match += metric_max_over_ground_truths(
                    exact_match_score, prediction, ground_truths)
                f1 += metric_max_over_ground_truths(
                    f1_score, prediction, ground_truths)
    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total
    return {'exact_match': exact_match, 'f1': f1}
# ---- end of the official evaluation ----


PIECES = ["a", "an", "the", "The", "THE", "An", "a_", "_a", "a1", "1a", "théa", "ethe", "the\u0301",
          "\u0301a", "an\u200b", "ĀN", "á", "a-b", "the.", "(the)", "«the»", "the’s", "ΣΟΦΟΣ", "σοφος",
          "İstanbul", "istanbul", "i\u0307stanbul", "ß", "SS", "ﬁ", "fi", "ǅ", "K", "k", "Ⅻ", "ⅻ",
          "１２", "12", "½", "cat", "cat", "dog", "Dog", "DOG", "cats", "x", "y", "y", "naïve", "naive",
          "中国", "中 国", "😀", "—", "...", "!!", "'", "\"", "$5", "5%", "U.S.", "US", "e.g.", "3.14", "314"]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u2009", "\u3000", "\u2028", "\x1c", "\x85",
              "\u200b", "", "-", "/", ",", "\u00ad"]


def draw_text(rng, n):
    parts = []
    for i in range(n):
        if i:
            parts.append(rng.choice(SEPARATORS))
        parts.append(rng.choice(PIECES))
    return "".join(parts)


def vary(rng, text):
    """A prediction near a ground truth: case, articles, punctuation, spaces changed."""
    r = rng.random()
    if r < 0.2:
        return text
    if r < 0.35:
        return text.upper() if rng.random() < 0.5 else text.lower()
    if r < 0.5:
        return rng.choice(["the ", "a ", "An ", "", "(", "\""]) + text + rng.choice([".", "!", "", " the", "\u3002", ")"])
    if r < 0.65:
        words = text.split()
        rng.shuffle(words)
        return rng.choice([" ", "  ", "\u00a0", "\t"]).join(words)
    if r < 0.8:
        words = text.split()
        return " ".join(words[:rng.randint(0, len(words))] + [rng.choice(PIECES)])
    return draw_text(rng, rng.randint(0, 6))


def draw_file(rng, questions):
    paragraphs, predictions = [], {}
    for q in range(questions):
        answers = [draw_text(rng, rng.randint(1, 7)) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.05:
            answers.append(rng.choice([" ", "\u00a0", "the", "."]))  # normalises to nothing
        context, spans = "", []
        for a in answers:
            context += rng.choice(["", " ", "x "])
            spans.append({"text": a, "answer_start": len(context)})
            context += a
        qid = "q%d" % q
        paragraphs.append({"context": context, "qas": [{"id": qid, "question": "?", "answers": spans}]})
        if rng.random() < 0.95:  # an unanswered question scores 0 in both
            predictions[qid] = vary(rng, rng.choice(answers))
    return [{"title": "drawn", "paragraphs": paragraphs}], predictions


def ours(eval_squad, dataset, predictions, tmp):
    data_path, pred_path = os.path.join(tmp, "data.json"), os.path.join(tmp, "pred.json")
    ascii_only = random.random() < 0.5
    with open(data_path, "w", encoding="utf-8") as f:
        json.dump({"version": "1.1", "data": dataset}, f, ensure_ascii=ascii_only)
    with open(pred_path, "w", encoding="utf-8") as f:
        json.dump(predictions, f, ensure_ascii=ascii_only)
    run = subprocess.run([eval_squad, "--validation_file", data_path, "--predictions_file", pred_path],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("eval_squad failed: " + run.stderr.strip())
    line = next(l for l in reversed(run.stdout.splitlines()) if l.startswith("{"))
    return json.loads(line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eval_squad", required=True)
    p.add_argument("--files", type=int, default=100)
    p.add_argument("--questions", type=int, default=40, help="questions per drawn file")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    random.seed(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.files):
            dataset, predictions = draw_file(rng, args.questions)
            mine, theirs = ours(args.eval_squad, dataset, predictions, tmp), evaluate(dataset, predictions)
            if mine["exact_match"] == theirs["exact_match"] and mine["f1"] == theirs["f1"]:
                continue
            failures += 1
            print("DIFF file %d: ours %r, official %r" % (n, mine, theirs))
            for para in dataset[0]["paragraphs"]:  # locate the first differing question
                one = [{"title": "one", "paragraphs": [para]}]
                qid = para["qas"][0]["id"]
                preds = {qid: predictions[qid]} if qid in predictions else {}
                a, b = ours(args.eval_squad, one, preds, tmp), evaluate(one, preds)
                if a != b:
                    print("  question %s: prediction %r, answers %r: ours %r, official %r" % (
                        qid, preds.get(qid), [x["text"] for x in para["qas"][0]["answers"]], a, b))
                    break
    print("%d of %d files differ (%d questions each)" % (failures, args.files, args.questions))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
