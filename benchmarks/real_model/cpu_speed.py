#!/usr/bin/env python3
"""Training speed on the CPU, ours against PyTorch, on the same batches (a paired measurement).

Both sides train the first STEPS steps of OUR length-grouped order (train_squad
--group_by_length: Trainer's grouping on our seed's shuffle, recomputed here as step_parity.py
does), so every step of one side has the same windows, padded length and real tokens as the
same step of the other. Defaults: 50 steps = the first whole megabatch of Trainer's grouping,
which holds the epoch's spread of lengths rather than only its longest batches.

- ours: train_squad --max_steps STEPS --logging_steps 1; each step's time from trainer_log.jsonl
  (windows_per_second of a one-step interval; the batch is prefetched by a thread, as in a run).
- PyTorch: BertForQuestionAnswering (SDPA attention, dropout from config.json), torch.optim.AdamW
  with Trainer's no-decay grouping, clipping, a linear schedule; each step timed from the forward
  to zero_grad (the padding of the batch is left out of its time).

Step 1 of each side is a warm-up and is not counted. The sides run in turn (ours, PyTorch, ours,
...) REPEATS times so that drift on the machine falls on both. Prints a table of seconds and
windows/s per run and the ratio of the medians; writes WORK/cpu_speed.json.

usage: cpu_speed.py --model DIR --train_file train.json --windows train.jsonl --bin build/apps
                    [--steps 50] [--batch 32] [--seed 42] [--threads 0] [--repeats 1] [--work DIR]
Run it on an otherwise idle machine: it measures, it does not check.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from hf_qa import load_model, pad_batch, read_jsonl, trainer_adamw
from step_parity import length_grouped_order


def our_step_seconds(out_dir, batch):
    """Each step's seconds from train_squad --logging_steps 1: windows_per_second of its one-step
    interval in out_dir/trainer_log.jsonl (the run's summary line has no loss and is left out)."""
    rows = [json.loads(line) for line in open(os.path.join(out_dir, "trainer_log.jsonl"))]
    return [batch / r["windows_per_second"] for r in rows if "windows_per_second" in r and "loss" in r]


def run_ours(args, out):
    cmd = [os.path.join(args.bin, "train_squad"), "--model_name_or_path", args.model, "--train_file", args.train_file,
           "--do_train", "--output_dir", out, "--overwrite_output_dir", "--device", "cpu",
           "--per_device_train_batch_size", str(args.batch), "--max_steps", str(args.steps),
           "--learning_rate", "5e-5", "--warmup_ratio", "0.1", "--weight_decay", "0.01", "--max_grad_norm", "1.0",
           "--seed", str(args.seed), "--logging_steps", "1", "--save_steps", "0", "--group_by_length",
           "--max_seq_length", "384", "--doc_stride", "128"]
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = str(args.threads)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit("train_squad failed (exit %d):\n%s" % (result.returncode, result.stderr[-3000:]))
    seconds = our_step_seconds(out, args.batch)
    if len(seconds) != args.steps:
        sys.exit("trainer_log.jsonl in %s has %d step rows, expected %d" % (out, len(seconds), args.steps))
    return seconds


def run_torch(args, windows, order):
    import torch
    from transformers import get_linear_schedule_with_warmup
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = load_model(torch, args.model, "cpu")
    model.train()
    optimizer = trainer_adamw(torch, model, 5e-5, 0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, max(1, args.steps // 10), args.steps)
    seconds = []
    for step in range(args.steps):
        batch = [windows[i] for i in order[step * args.batch:(step + 1) * args.batch]]
        ids, types, mask = pad_batch(torch, batch, "cpu")
        starts = torch.tensor([w["start_position"] for w in batch])
        ends = torch.tensor([w["end_position"] for w in batch])
        began = time.perf_counter()
        loss = model(input_ids=ids, token_type_ids=types, attention_mask=mask,
                     start_positions=starts, end_positions=ends).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - began)
        print("[torch] step %d/%d: %d x %d tokens, %.2f s" % (step + 1, args.steps, ids.shape[0], ids.shape[1],
                                                              seconds[-1]), file=sys.stderr, flush=True)
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model directory both sides start from (hf_qa.py init writes one)")
    p.add_argument("--train_file", required=True, help="SQuAD JSON ours trains on")
    p.add_argument("--windows", required=True, help="prepare_squad --output_file of the same file (384/128)")
    p.add_argument("--bin", required=True, help="folder with train_squad")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0, help="threads per side (0: each library's default)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--sides", default="ours,torch", help="which sides to run, in turn (ours, torch or both)")
    p.add_argument("--work", default="/tmp/bert_cpu_speed")
    args = p.parse_args()
    if args.steps < 2:
        sys.exit("--steps must be at least 2 (step 1 is a warm-up)")
    os.makedirs(args.work, exist_ok=True)
    sides = [side for side in args.sides.split(",") if side]
    if not sides or any(side not in ("ours", "torch") for side in sides):
        sys.exit("--sides: expected ours, torch or ours,torch, got %r" % args.sides)

    windows = read_jsonl(args.windows)
    order = length_grouped_order([len(w["input_ids"]) for w in windows], args.batch, args.seed, 0)
    if len(order) < args.steps * args.batch:
        sys.exit("%s has %d windows, fewer than %d steps of %d" % (args.windows, len(order), args.steps, args.batch))
    counted = [windows[i] for i in order[args.batch:args.steps * args.batch]]
    real_tokens = sum(len(w["input_ids"]) for w in counted)
    padded_tokens = sum(args.batch * max(len(windows[i]["input_ids"])
                                         for i in order[s * args.batch:(s + 1) * args.batch])
                        for s in range(1, args.steps))

    runs = []
    for repeat in range(args.repeats):
        for side in sides:
            print("[cpu_speed] %s, run %d of %d" % (side, repeat + 1, args.repeats), file=sys.stderr, flush=True)
            seconds = run_ours(args, os.path.join(args.work, "ours")) if side == "ours" else \
                run_torch(args, windows, order)
            timed = sum(seconds[1:])
            runs.append({"side": side, "repeat": repeat + 1, "seconds": timed, "step_seconds": seconds,
                         "windows_per_second": len(counted) / timed})

    print("| side | run | steps timed | seconds | windows/s | real tokens/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in runs:
        print("| %s | %d | %d | %.1f | %.2f | %.0f |" % (r["side"], r["repeat"], args.steps - 1, r["seconds"],
                                                       r["windows_per_second"], real_tokens / r["seconds"]))
    median = {side: statistics.median(r["windows_per_second"] for r in runs if r["side"] == side) for side in sides}
    ratio = median["ours"] / median["torch"] if len(median) == 2 else None
    print("median windows/s: " + ", ".join("%s %.2f" % item for item in median.items()) +
          ("; ours / PyTorch = %.2f" % ratio if ratio else ""))
    print("(%d windows, %d real tokens, %d padded to the longest of each batch; %s, %d CPUs)" %
          (len(counted), real_tokens, padded_tokens, platform.processor() or platform.machine(), os.cpu_count()))
    import torch
    import transformers
    with open(os.path.join(args.work, "cpu_speed.json"), "w") as f:
        json.dump({"settings": vars(args), "windows": len(counted), "real_tokens": real_tokens,
                   "padded_tokens": padded_tokens, "runs": runs, "median_windows_per_second": median,
                   "ratio": ratio, "torch": torch.__version__, "transformers": transformers.__version__,
                   "torch_threads": torch.get_num_threads()}, f, indent=1)


if __name__ == "__main__":
    main()
