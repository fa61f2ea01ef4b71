#!/usr/bin/env python3
"""The Hugging Face side of the real-model comparison (benchmarks/real_model/compare.sh).

    hf_qa.py init    --model DIR --seed S --output_dir OUT
    hf_qa.py train   --model DIR --windows train.jsonl --output_dir OUT [hyperparameters]
    hf_qa.py predict --model DIR --windows eval.jsonl --eval_file eval.json --output_dir OUT

init: BertForQuestionAnswering.from_pretrained(DIR) after torch.manual_seed(S), saved with
  save_pretrained (+ the tokenizer files): the pretrained encoder with a qa_outputs head drawn
  once by transformers, for both sides of a comparison to start from the same weights.
train: BertForQuestionAnswering.from_pretrained(DIR) (a missing qa_outputs head is initialised
  by transformers from the seed), fine-tuned on our prepare_squad windows (transformers'
  tokenizer is not used: ../shared/golden/README.md lists its traps) as run_qa.py + Trainer do:
  AdamW with Trainer's no-decay grouping (biases and LayerNorm weights), linear warmup
  (ceil(warmup_ratio * steps)) and linear decay to 0, global-norm clipping 1.0, the model's own
  loss (--loss_positions real: over each window's real tokens only, as ours), dropout from config.json, seed set before the model is built. Batches are length-grouped
  as Trainer's --group_by_length makes them (megabatches of 50 batches sorted by length, the
  longest first) and padded to the longest window of the batch (--batching pad384: shuffled and
  padded to 384, run_qa's default). --bf16 runs forward/backward under bf16 autocast (GPU).
  Saves with save_pretrained (+ the tokenizer files) and writes train_log.json (per-step loss, times).
predict: the model on every eval window (padded to the longest of each batch), then the
  selection of utils_qa.postprocess_qa_predictions (n-best 20 starts and ends per window, a span
  needs context tokens at both ends, end >= start, at most 30 tokens; best summed score across
  the question's windows) and the official SQuAD v1.1 EM/F1. Writes predictions.json and
  eval_results.json ({"exact_match", "f1"}) and prints the scores as JSON.
"""
import argparse
import collections
import json
import math
import os
import re
import shutil
import string
import sys
import time


def log(*parts):
    print("[hf]", *parts, file=sys.stderr, flush=True)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pad_batch(torch, windows, device, pad_to=0):
    length = max(pad_to, max(len(w["input_ids"]) for w in windows))
    ids = torch.zeros(len(windows), length, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, w in enumerate(windows):
        n = len(w["input_ids"])
        ids[row, :n] = torch.tensor(w["input_ids"])
        types[row, :n] = torch.tensor(w["token_type_ids"])
        mask[row, :n] = 1
    return ids.to(device), types.to(device), mask.to(device)


def load_model(torch, path, device, **config_overrides):
    from transformers import BertForQuestionAnswering
    # dtype float32: a bf16 checkpoint is upcast, so both sides hold fp32 master weights.
    model = BertForQuestionAnswering.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa",
                                                     **config_overrides)
    return model.to(device)


TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json", "spiece.model", "sentencepiece.bpe.model")


def save_model(model, source_dir, output_dir):
    """save_pretrained plus the tokenizer files of the model it came from (our apps read them)."""
    os.makedirs(output_dir, exist_ok=True)
    model.save_pretrained(output_dir)
    for name in TOKENIZER_FILES:
        if os.path.exists(os.path.join(source_dir, name)):
            shutil.copy(os.path.join(source_dir, name), output_dir)


def write_initial_model(source_dir, seed, output_dir, **config_overrides):
    """The pretrained encoder with the qa_outputs head transformers draws after manual_seed(seed)."""
    import torch
    torch.manual_seed(seed)
    model = load_model(torch, source_dir, "cpu", **config_overrides)
    shutil.rmtree(output_dir, ignore_errors=True)
    save_model(model, source_dir, output_dir)


def trainer_adamw(torch, model, learning_rate, weight_decay, fused=None):
    """torch AdamW with Trainer's grouping: no weight decay on biases and LayerNorm weights."""
    no_decay = lambda name: name.endswith(".bias") or "LayerNorm" in name
    named = list(model.named_parameters())
    return torch.optim.AdamW([{"params": [p for n, p in named if not no_decay(n)], "weight_decay": weight_decay},
                              {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0}],
                             lr=learning_rate, betas=(0.9, 0.999), eps=1e-8, fused=fused)


def init(args):
    write_initial_model(args.model, args.seed, args.output_dir)
    log("initial model (qa_outputs drawn from seed %d) in %s" % (args.seed, args.output_dir))


# ---- training ----

def group_by_length(indices, lengths, batch_size):
    """transformers' LengthGroupedSampler on a given shuffle: megabatches of
    min(50, windows // (4 * batch)) batches, each sorted by length (longest first), the longest
    window of all swapped to the front."""
    size = max(1, min(50, len(lengths) // (4 * batch_size))) * batch_size
    megabatches = [sorted(indices[i:i + size], key=lambda j: -lengths[j]) for i in range(0, len(indices), size)]
    longest = [lengths[m[0]] for m in megabatches]
    first = longest.index(max(longest))
    megabatches[0][0], megabatches[first][0] = megabatches[first][0], megabatches[0][0]
    return [i for m in megabatches for i in m]


def length_grouped_order(torch, lengths, batch_size, generator):
    """group_by_length on torch's shuffle, as Trainer draws it."""
    return group_by_length(torch.randperm(len(lengths), generator=generator).tolist(), lengths, batch_size)


def train(args):
    import torch
    from transformers import get_linear_schedule_with_warmup
    torch.manual_seed(args.seed)
    device = args.device
    windows = read_jsonl(args.windows)
    lengths = [len(w["input_ids"]) for w in windows]
    model = load_model(torch, args.model, device)
    model.train()
    optimizer = trainer_adamw(torch, model, args.learning_rate, args.weight_decay, fused=device == "cuda")
    per_epoch = math.ceil(len(windows) / args.per_device_train_batch_size)
    total = math.ceil(args.num_train_epochs * per_epoch)
    warmup = math.ceil(args.warmup_ratio * total)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total)
    generator = torch.Generator().manual_seed(args.seed)
    log("%d windows, batch %d, %d steps (%d per epoch), warmup %d, %s batches, device %s%s" %
        (len(windows), args.per_device_train_batch_size, total, per_epoch, warmup, args.batching, device,
         ", bf16 autocast" if args.bf16 else ""))
    losses, step, began = [], 0, time.perf_counter()
    interval = []
    while step < total:
        if args.batching == "grouped":
            order = length_grouped_order(torch, lengths, args.per_device_train_batch_size, generator)
        else:
            order = torch.randperm(len(windows), generator=generator).tolist()
        for first in range(0, len(order), args.per_device_train_batch_size):
            if step >= total:
                break
            batch = [windows[i] for i in order[first:first + args.per_device_train_batch_size]]
            ids, types, mask = pad_batch(torch, batch, device, 384 if args.batching == "pad384" else 0)
            starts = torch.tensor([w["start_position"] for w in batch], device=device)
            ends = torch.tensor([w["end_position"] for w in batch], device=device)
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=args.bf16):
                if args.loss_positions == "padded":  # transformers' own loss: padding in the softmax
                    loss = model(input_ids=ids, token_type_ids=types, attention_mask=mask,
                                 start_positions=starts, end_positions=ends).loss
                else:  # only each window's real tokens compete, as in train_squad (which never pads)
                    out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
                    real = mask.bool()
                    loss = 0.5 * sum(torch.nn.functional.cross_entropy(
                        logits.float().masked_fill(~real, float("-inf")), labels)
                        for logits, labels in ((out.start_logits, starts), (out.end_logits, ends)))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            interval.append(loss.detach())
            if step % args.logging_steps == 0 or step == total:
                values = [v.item() for v in interval]
                losses.extend(values)
                interval = []
                elapsed = time.perf_counter() - began
                log("step %d/%d | loss %.4f | lr %.3g | %.1f windows/s" %
                    (step, total, sum(values) / len(values), scheduler.get_last_lr()[0],
                     step * args.per_device_train_batch_size / elapsed))
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    save_model(model, args.model, args.output_dir)
    result = {"steps": total, "seconds": seconds, "windows": len(windows) * args.num_train_epochs,
              "windows_per_second": min(total * args.per_device_train_batch_size,
                                        len(windows) * args.num_train_epochs) / seconds,
              "losses": losses, "mean_loss": sum(losses) / len(losses),
              "settings": {k: v for k, v in vars(args).items() if k != "func"}}
    with open(os.path.join(args.output_dir, "train_log.json"), "w") as f:
        json.dump(result, f)
    log("trained %d steps in %.1f s (%.1f windows/s), mean loss %.4f; saved to %s" %
        (total, seconds, result["windows_per_second"], result["mean_loss"], args.output_dir))


# ---- prediction and the official metric ----

def select_answers(windows, start_logits, end_logits, contexts, n_best, max_answer_length):
    """utils_qa.postprocess_qa_predictions (SQuAD v1: no null answer)."""
    import numpy as np
    by_question = collections.defaultdict(list)
    for index, w in enumerate(windows):
        by_question[w["example_id"]].append(index)
    predictions = {}
    for qid, indices in by_question.items():
        candidates = []
        for index in indices:
            offsets = windows[index]["offsets"]
            starts, ends = start_logits[index], end_logits[index]
            for s in np.argsort(starts)[-1:-n_best - 1:-1].tolist():
                for e in np.argsort(ends)[-1:-n_best - 1:-1].tolist():
                    if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    candidates.append((float(starts[s]) + float(ends[e]), offsets[s][0], offsets[e][1]))
        candidates.sort(key=lambda c: c[0], reverse=True)
        context = contexts[qid]
        text = context[candidates[0][1]:candidates[0][2]] if candidates else ""
        predictions[qid] = text if text else "empty"
    return predictions


def normalize_answer(s):
    """The official SQuAD v1.1 normalisation."""
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)
    return " ".join(remove_articles(remove_punc(s.lower())).split())


def f1_score(prediction, truth):
    prediction_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_v1_scores(dataset, predictions):
    exact = f1 = total = 0
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                truths = [a["text"] for a in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact += max(float(normalize_answer(prediction) == normalize_answer(t)) for t in truths)
                f1 += max(f1_score(prediction, t) for t in truths)
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


def predict(args):
    import torch
    device = args.device
    with open(args.eval_file, encoding="utf-8") as f:
        dataset = json.load(f)
    contexts = {qa["id"]: p["context"] for a in dataset["data"] for p in a["paragraphs"] for qa in p["qas"]}
    windows = read_jsonl(args.windows)
    model = load_model(torch, args.model, device).eval()
    start_logits, end_logits = [], []
    began = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(windows), args.per_device_eval_batch_size):
            batch = windows[first:first + args.per_device_eval_batch_size]
            ids, types, mask = pad_batch(torch, batch, device)
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=args.bf16):
                out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
            s, e = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
            for row, w in enumerate(batch):
                n = len(w["input_ids"])
                start_logits.append(s[row, :n])
                end_logits.append(e[row, :n])
    seconds = time.perf_counter() - began
    predictions = select_answers(windows, start_logits, end_logits, contexts, args.n_best_size,
                                 args.max_answer_length)
    scores = squad_v1_scores(dataset, predictions)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "predictions.json"), "w", encoding="utf-8") as f:
        json.dump(predictions, f, ensure_ascii=False)
    with open(os.path.join(args.output_dir, "eval_results.json"), "w") as f:
        json.dump(scores, f)
    log("predicted %d windows in %.1f s" % (len(windows), seconds))
    print(json.dumps(scores))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("init")
    i.add_argument("--model", required=True)
    i.add_argument("--seed", type=int, default=42)
    i.add_argument("--output_dir", required=True)
    i.set_defaults(func=init, threads=0)
    t = sub.add_parser("train")
    t.add_argument("--model", required=True)
    t.add_argument("--windows", required=True, help="prepare_squad --output_file of the training set")
    t.add_argument("--output_dir", required=True)
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    t.add_argument("--bf16", action="store_true")
    t.add_argument("--per_device_train_batch_size", type=int, default=32)
    t.add_argument("--learning_rate", type=float, default=5e-5)
    t.add_argument("--num_train_epochs", type=float, default=1)
    t.add_argument("--warmup_ratio", type=float, default=0.1)
    t.add_argument("--weight_decay", type=float, default=0.01)
    t.add_argument("--max_grad_norm", type=float, default=1.0)
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--logging_steps", type=int, default=10)
    t.add_argument("--batching", default="grouped", choices=["grouped", "pad384"])
    t.add_argument("--loss_positions", default="padded", choices=["padded", "real"],
                   help="padded: BertForQuestionAnswering's loss (padding positions in the softmax); "
                        "real: only real tokens, as train_squad")
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    t.set_defaults(func=train)
    e = sub.add_parser("predict")
    e.add_argument("--model", required=True)
    e.add_argument("--windows", required=True, help="prepare_squad --output_file of the eval set")
    e.add_argument("--eval_file", required=True, help="the SQuAD JSON the windows came from")
    e.add_argument("--output_dir", required=True)
    e.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    e.add_argument("--bf16", action="store_true")
    e.add_argument("--per_device_eval_batch_size", type=int, default=64)
    e.add_argument("--n_best_size", type=int, default=20)
    e.add_argument("--max_answer_length", type=int, default=30)
    e.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    e.set_defaults(func=predict)
    args = p.parse_args()
    if args.threads > 0:
        import torch
        torch.set_num_threads(args.threads)
    args.func(args)


if __name__ == "__main__":
    main()
