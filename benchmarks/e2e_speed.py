#!/usr/bin/env python3
"""End-to-end training speed: train_squad's step against Hugging Face, in one run, same windows.

Issue 13's benchmark. A bert-base-shaped model with seeded random weights and dropout 0.1 (the
speed does not depend on the values) is saved as a model directory; both sides train on the
SQuAD dev windows (384/128, prepare_squad's) in OUR seeded order (engine/batch_stream's
epoch_order, recomputed in Python by real_model/step_parity.py), so step k of every side sees
the same windows:

- ours: train_squad --max_steps WARMUP+STEPS --logging_steps 1 (packed, no padding); each step's
  time from trainer_log.jsonl (one-step intervals; on a GPU the host reads step k back once step
  k+1 is queued, so in steady state the interval is one step's device time); with
  --attention_variants, again per named BERT_ATTENTION_KERNEL value (rows "ours, attention X",
  their "ours / this" the default's speed over the variant's); with --gemm_split_k_variants,
  per BERT_GEMM_SPLIT_K value (kernels/matmul_split_k.h: rows "ours, d_weight split-K X"); with
  --programmatic_launch, under BERT_PROGRAMMATIC_LAUNCH=1 (row "ours, programmatic launch");
  with --adamw_beside_forward, under BERT_ADAMW_BESIDE_FORWARD=1 (engine/optimizer.h: row
  "ours, AdamW beside forward"); with --checkpoint_every K, with --save_steps K (row "ours,
  checkpoints every K steps": the steps' time with the checkpoints' copies to the host, whose
  writing goes beside the steps, engine/checkpoint_writer.h);
- Hugging Face: BertForQuestionAnswering (SDPA attention, bf16 autocast on a GPU, fused AdamW,
  clipping 1.0, dropout 0.1), eager and torch.compile (one model per mode, kept across the
  variants: compiled once with dynamic shapes, its compile time in the first variant's warm-up),
  with the batches padded to 384 (run_qa.py's default) and padded to the longest window of the
  batch; timed from the first timed step to the last with the device synchronised at both ends.

For each batch size it prints windows/s, real tokens/s, model TFLOP/s over real tokens, MFU
against the card's dense bf16 peak and each Hugging Face variant's ratio to ours; writes
OUT/e2e_speed.json. For each "ours" row it also projects issue 13's third target, a 2-epoch
fine-tune on SQuAD v1.1's training set (2 x 88,641 windows at 384/128, issue bound 45 s), from
the same run: the steps at the row's steady windows/s, the data preparation of the training set
scaled from the dev set's (train_squad's "[train] ... in X s" line, by windows), and what the
process spent besides (start-up, the warm-up steps' excess over the steady rate, the final
save): its wall time less the dev set's preparation and its steps at the steady rate. The FLOP count per window of L real tokens is
    6 * P * L  (P = non-embedding weights: every matmul, forward and both backward products)
  + 12 * layers * hidden * L^2  (QK^T and PV, forward and the two backward products each)
(bert-base: P = 84.9 M, about 92 GFLOP for L = 176). Padding is not counted: MFU is over real
tokens, the work the model has to do.

Then eval_squad over every dev window (10,784 at 384/128; --eval_batch, default 64): the
model's time (its forward passes and the logits' download; issue bound 1 s) beside the whole
evaluation's (post-processing and scoring included).

usage (GPU machine, from the repository root, device_carry/ present):
  python3 benchmarks/e2e_speed.py --carry device_carry --bin $BERT_CARRY_BIN --out $OUT
CPU smoke test of the script itself: --device cpu --tiny --batches 4 --steps 2 --warmup 1
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "real_model"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "device"))
from cpu_speed import our_step_seconds  # noqa: E402
from hf_parity import bert_sizes, prepare_dev_windows, save_random_bert_qa  # noqa: E402
from hf_qa import load_model, pad_batch, trainer_adamw  # noqa: E402
from step_parity import epoch_order  # noqa: E402  (our data order, one implementation in Python)

# Dense bf16 tensor-core peaks (TFLOP/s) by the name torch reports; --peak_tflops overrides.
PEAKS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0}


def log(*parts):
    print(*parts, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--carry", default="device_carry", help="the folder build_carry.sh assembled (shared/ data)")
    p.add_argument("--bin", default=os.environ.get("BERT_CARRY_BIN", ""), help="folder with prepare_squad, train_squad")
    p.add_argument("--work", default="/tmp/bert_e2e_speed")
    p.add_argument("--out", default=os.environ.get("OUT", ""), help="where e2e_speed.json goes (default --work)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--batches", default="32,64", help="per-device batch sizes to measure")
    p.add_argument("--steps", type=int, default=30, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before them")
    p.add_argument("--dropout", type=float, default=0.1, help="hidden and attention dropout of both sides")
    p.add_argument("--hf_modes", default="eager,compile", help="eager and/or compile")
    p.add_argument("--hf_paddings", default="384,longest", help="384 and/or longest")
    p.add_argument("--peak_tflops", type=float, default=0, help="the card's dense bf16 peak (0: by its name)")
    p.add_argument("--seed", type=int, default=42, help="our data order and dropout seed")
    p.add_argument("--ours_timeout", type=int, default=180)
    p.add_argument("--eval_batch", type=int, default=64,
                   help="also time eval_squad over every dev window at this batch (0: skip)")
    p.add_argument("--attention_variants", default="",
                   help="comma-separated BERT_ATTENTION_KERNEL values to time as extra 'ours' rows "
                        "(e.g. mma_one_pass); empty: none")
    p.add_argument("--gemm_split_k_variants", default="",
                   help="comma-separated BERT_GEMM_SPLIT_K values (auto, 2..16) to time as extra 'ours' rows; "
                        "empty: none")
    p.add_argument("--programmatic_launch", action="store_true",
                   help="also time an 'ours' row with BERT_PROGRAMMATIC_LAUNCH=1 (kernels/kernel_launch.cuh: "
                        "programmatic dependent launch)")
    p.add_argument("--adamw_beside_forward", action="store_true",
                   help="also time an 'ours' row with BERT_ADAMW_BESIDE_FORWARD=1 (engine/optimizer.h: AdamW "
                        "stage by stage on a side stream, overlapping the next forward pass)")
    p.add_argument("--checkpoint_every", type=int, default=0,
                   help="also time an 'ours' row saving a checkpoint every K steps (--save_steps K; 0: none)")
    p.add_argument("--tiny", action="store_true", help="2 layers, hidden 128 (smoke test)")
    return p.parse_args()


def flops_per_window(length, sizes, non_embedding):
    return 6.0 * non_embedding * length + 12.0 * sizes["num_hidden_layers"] * sizes["hidden_size"] * length ** 2


def make_model(args, carry, model_dir):
    """The random bert-base-shaped model both sides start from; returns its non-embedding weights."""
    shutil.rmtree(model_dir, ignore_errors=True)
    model = save_random_bert_qa(carry, model_dir, args.tiny, seed=0, dropout=args.dropout)
    embedding = sum(p.numel() for n, p in model.named_parameters() if ".embeddings." in n)
    return sum(p.numel() for p in model.parameters()) - embedding


def run_ours(args, carry, work, model_dir, batch, variant=None):
    """train_squad's steps; variant None runs the defaults, else (NAME, VALUE) is set in its
    environment: BERT_ATTENTION_KERNEL (kernels/attention_variants.h), BERT_GEMM_SPLIT_K
    (kernels/matmul_split_k.h), BERT_PROGRAMMATIC_LAUNCH (kernels/kernel_launch.cuh) or
    BERT_ADAMW_BESIDE_FORWARD (engine/optimizer.h), a candidate timed in the same run; a NAME
    starting with "--" is a train_squad flag instead (--save_steps)."""
    tag = "_%s_%s" % (variant[0].strip("-").lower(), variant[1]) if variant else ""
    out_dir = os.path.join(work, "ours_b%d%s" % (batch, tag))
    steps = args.warmup + args.steps
    cmd = [os.path.join(args.bin, "train_squad"), "--model_name_or_path", model_dir,
           "--train_file", os.path.join(carry, "shared/data/squad/dev-v1.1.json"), "--do_train",
           "--output_dir", out_dir, "--overwrite_output_dir", "--device", args.device,
           "--per_device_train_batch_size", str(batch), "--max_steps", str(steps), "--logging_steps", "1",
           "--save_steps", "0", "--learning_rate", "3e-5", "--weight_decay", "0.01", "--warmup_ratio", "0.1",
           "--max_seq_length", "384", "--doc_stride", "128", "--seed", str(args.seed), "--report_to", "none"]
    env = dict(os.environ)
    if variant and variant[0].startswith("--"):
        cmd[cmd.index(variant[0]) + 1] = variant[1]
    elif variant:
        env[variant[0]] = variant[1]
    log("[ours] " + ("%s=%s " % variant if variant else "") + " ".join(cmd))
    began = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.ours_timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    wall = time.perf_counter() - began
    if done.returncode != 0:
        log("[ours] exit %d:\n%s" % (done.returncode, done.stderr[-2000:]))
        return {"status": "unavailable" if "--device cuda:" in done.stderr else "error", "exit": done.returncode}
    seconds = our_step_seconds(out_dir, batch)
    if len(seconds) != steps:
        return {"status": "error", "error": "%d step rows in trainer_log.jsonl, expected %d" % (len(seconds), steps)}
    result = {"status": "ok", "step_seconds": seconds, "seconds": sum(seconds[args.warmup:]), "wall_seconds": wall,
              "windows_run": steps * batch}
    prepared = PREPARE_LINE.search(done.stderr)
    if prepared:
        result.update(prepared_windows=int(prepared.group(1)), prepare_seconds=float(prepared.group(2)))
    return result


# train_squad's data line: "[train] FILE: Q questions -> W windows (...) on N threads in X s".
PREPARE_LINE = re.compile(r"\[train\] .*? questions -> (\d+) windows \(.*?\).* in ([0-9.]+) s")
# SQuAD v1.1's training set at 384/128 as run_qa.py windows it (issue 13).
SQUAD_TRAIN_WINDOWS = 88641
TWO_EPOCH_BOUND_SECONDS = 45.0


def project_two_epochs(result, windows_per_second):
    """Issue 13's 2-epoch fine-tune, projected from one train_squad run (see the module doc);
    None when the run did not report its data preparation."""
    if "prepare_seconds" not in result or windows_per_second <= 0:
        return None
    steps = 2 * SQUAD_TRAIN_WINDOWS / windows_per_second
    data = result["prepare_seconds"] * SQUAD_TRAIN_WINDOWS / max(result["prepared_windows"], 1)
    besides = result["wall_seconds"] - result["prepare_seconds"] - result["windows_run"] / windows_per_second
    return {"steps_seconds": steps, "data_seconds": data, "besides_seconds": besides,
            "total_seconds": steps + data + besides}


EVAL_LINE = re.compile(r"\[eval\] (\d+) windows in ([0-9.]+) s .*the model's forward passes ([0-9.]+) s")


def run_our_eval(args, carry, work, model_dir):
    """eval_squad over the whole dev set: the model's time (forward passes and logits' download)
    and the whole evaluation's (post-processing and scoring included)."""
    out_dir = os.path.join(work, "eval")
    cmd = [os.path.join(args.bin, "eval_squad"), "--model_name_or_path", model_dir,
           "--validation_file", os.path.join(carry, "shared/data/squad/dev-v1.1.json"), "--output_dir", out_dir,
           "--device", args.device, "--per_device_eval_batch_size", str(args.eval_batch),
           "--max_seq_length", "384", "--doc_stride", "128"]
    log("[eval] " + " ".join(cmd))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.ours_timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    found = EVAL_LINE.search(done.stderr)
    if done.returncode != 0 or not found:
        log("[eval] exit %d:\n%s" % (done.returncode, done.stderr[-2000:]))
        return {"status": "error", "exit": done.returncode}
    windows, seconds, model_seconds = int(found.group(1)), float(found.group(2)), float(found.group(3))
    return {"status": "ok", "batch": args.eval_batch, "windows": windows, "seconds": seconds,
            "model_seconds": model_seconds, "model_windows_per_second": windows / max(model_seconds, 1e-9)}


def hf_batches(torch, windows, order, batch, steps, pad, device):
    """Step k's windows of our order, padded to 384 or to the batch's longest (hf_qa.pad_batch)."""
    out = []
    for step in range(steps):
        chosen = [windows[i] for i in order[step * batch:(step + 1) * batch]]
        ids, types, mask = pad_batch(torch, chosen, device, 384 if pad == "384" else 0)
        starts = torch.tensor([w["start_position"] for w in chosen], device=device)
        ends = torch.tensor([w["end_position"] for w in chosen], device=device)
        out.append([ids, types, mask, starts, ends])
    return out


class HfSide:
    """One Hugging Face model, optimizer and (for mode "compile") compiled forward, kept across the
    variants so that torch.compile compiles once (dynamic shapes: batch and length vary)."""

    def __init__(self, args, model_dir, mode):
        import torch
        self.torch, self.args, self.device = torch, args, args.device
        self.model = load_model(torch, model_dir, self.device).train()
        self.optimizer = trainer_adamw(torch, self.model, 3e-5, 0.01, fused=self.device == "cuda")
        self.forward = torch.compile(self.model, dynamic=True) if mode == "compile" else self.model

    def step(self, batch):
        torch = self.torch
        ids, types, mask, starts, ends = batch
        with torch.autocast(device_type=self.device, dtype=torch.bfloat16, enabled=self.device == "cuda"):
            loss = self.forward(input_ids=ids, token_type_ids=types, attention_mask=mask,
                                start_positions=starts, end_positions=ends).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss

    def sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def time(self, batches):
        """Warm-up steps (the first call also compiles), then the timed steps."""
        torch = self.torch
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        for batch in batches[:self.args.warmup]:
            self.step(batch)
        self.sync()
        warm = time.perf_counter() - began
        began = time.perf_counter()
        for batch in batches[self.args.warmup:]:
            loss = self.step(batch)
        loss.item()
        self.sync()
        result = {"status": "ok", "seconds": time.perf_counter() - began, "warmup_seconds": warm}
        if self.device == "cuda":
            result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
        return result


def main():
    args = parse_args()
    if not args.bin:
        raise SystemExit("e2e_speed.py: give --bin (or source tools/device/carry_env.sh: BERT_CARRY_BIN)")
    carry, work = os.path.abspath(args.carry), os.path.abspath(args.work)
    out = os.path.abspath(args.out or work)
    os.makedirs(work, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    import torch
    import transformers
    report = {"settings": vars(args), "torch": torch.__version__, "transformers": transformers.__version__,
              "date": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()), "rows": []}
    if args.device == "cuda" and not torch.cuda.is_available():
        log("SKIPPED: torch sees no CUDA device")
        return 77
    card = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    peak = args.peak_tflops or next((v for k, v in PEAKS.items() if k in card), 0.0)
    report.update(card=card, peak_tflops=peak)
    log("[e2e] %s, peak %.1f TFLOP/s (dense bf16), torch %s, transformers %s" %
        (card, peak, torch.__version__, transformers.__version__))

    windows = prepare_dev_windows(args.bin, carry, os.path.join(work, "windows.jsonl"))
    model_dir = os.path.join(work, "model")
    non_embedding = make_model(args, carry, model_dir)
    sizes = bert_sizes(args.tiny)
    order = epoch_order(len(windows), args.seed, 0)
    report["model"] = {"non_embedding_parameters": non_embedding, **sizes}
    log("[e2e] %d windows; model: %.1f M non-embedding weights, dropout %g" %
        (len(windows), non_embedding / 1e6, args.dropout))

    def save():  # atomically: a kill during the write leaves the previous rows, not half a file
        path = os.path.join(out, "e2e_speed.json")
        with open(path + ".tmp", "w") as f:
            json.dump(report, f, indent=1)
        os.replace(path + ".tmp", path)

    hf_sides = {}  # mode -> HfSide, created at its first use
    for batch in [int(b) for b in args.batches.split(",") if b]:
        steps = args.warmup + args.steps
        if len(order) < steps * batch:
            raise SystemExit("%d windows are fewer than %d steps of %d" % (len(order), steps, batch))
        timed = [windows[i] for i in order[args.warmup * batch:steps * batch]]
        real_tokens = sum(len(w["input_ids"]) for w in timed)
        flops = sum(flops_per_window(len(w["input_ids"]), sizes, non_embedding) for w in timed)

        def row(side, result):
            entry = {"batch": batch, "side": side, **result}
            if result.get("status") == "ok":
                s = result["seconds"]
                entry.update(windows_per_second=len(timed) / s, tokens_per_second=real_tokens / s,
                             tflops=flops / s / 1e12, mfu=flops / s / 1e12 / peak if peak else None)
                if side.startswith("ours"):
                    entry["two_epochs"] = project_two_epochs(result, entry["windows_per_second"])
            report["rows"].append(entry)
            save()  # each row kept as measured: a run cut short by its timeout still reports it
            if entry.get("status") == "ok":
                log("[e2e] batch %d, %s: %.0f windows/s, %.1f TFLOP/s" %
                    (batch, side, entry["windows_per_second"], entry["tflops"]))
            return entry

        ours = row("ours", run_ours(args, carry, work, model_dir, batch))
        variants = [("attention %s" % k, ("BERT_ATTENTION_KERNEL", k)) for k in args.attention_variants.split(",") if k]
        variants += [("d_weight split-K %s" % k, ("BERT_GEMM_SPLIT_K", k))
                     for k in args.gemm_split_k_variants.split(",") if k]
        if args.programmatic_launch:
            variants.append(("programmatic launch", ("BERT_PROGRAMMATIC_LAUNCH", "1")))
        if args.adamw_beside_forward:
            variants.append(("AdamW beside forward", ("BERT_ADAMW_BESIDE_FORWARD", "1")))
        if args.checkpoint_every > 0:
            variants.append(("checkpoints every %d steps" % args.checkpoint_every,
                             ("--save_steps", str(args.checkpoint_every))))
        for label, setting in variants:
            variant = row("ours, %s" % label, run_ours(args, carry, work, model_dir, batch, setting))
            if ours.get("status") == "ok" and variant.get("status") == "ok":
                variant["ours_over_this"] = ours["windows_per_second"] / variant["windows_per_second"]
        for pad in [p for p in args.hf_paddings.split(",") if p]:
            batches = hf_batches(torch, windows, order, batch, steps, pad, args.device)
            for mode in [m for m in args.hf_modes.split(",") if m]:
                log("[hf] batch %d, %s, padded to %s" % (batch, mode, pad))
                try:
                    if mode not in hf_sides:
                        hf_sides[mode] = HfSide(args, model_dir, mode)
                    result = hf_sides[mode].time(batches)
                except Exception as e:  # an out-of-memory or compile failure is a result, not the end
                    result = {"status": "error", "error": repr(e)[:500]}
                    log("[hf] failed: %s" % result["error"])
                entry = row("hf %s pad %s" % (mode, pad), result)
                if ours.get("status") == "ok" and entry.get("status") == "ok":
                    entry["ours_over_this"] = ours["windows_per_second"] / entry["windows_per_second"]
        save()

    if args.eval_batch > 0:
        report["eval"] = run_our_eval(args, carry, work, model_dir)
        save()
        e = report["eval"]
        if e.get("status") == "ok":
            log("[eval] ours: %d dev windows at batch %d: model %.3f s (%.0f windows/s; issue bound 1 s), "
                "whole evaluation %.1f s" % (e["windows"], e["batch"], e["model_seconds"],
                                            e["model_windows_per_second"], e["seconds"]))
        else:
            log("[eval] ours: %s" % e.get("status"))

    log("\n| batch | side | windows/s | real tokens/s | TFLOP/s | MFU | ours / this |")
    log("| --- | --- | --- | --- | --- | --- | --- |")
    for r in report["rows"]:
        if r.get("status") != "ok":
            log("| %d | %s | %s | | | | |" % (r["batch"], r["side"], r.get("status")))
            continue
        log("| %d | %s | %.0f | %.0f | %.1f | %s | %s |" %
            (r["batch"], r["side"], r["windows_per_second"], r["tokens_per_second"], r["tflops"],
             "%.1f%%" % (100 * r["mfu"]) if r.get("mfu") else "-",
             "%.2fx" % r["ours_over_this"] if "ours_over_this" in r else "-"))
    log("\n2-epoch fine-tune on SQuAD v1.1's training set (2 x %d windows), projected from this run "
        "(issue bound %.0f s):" % (SQUAD_TRAIN_WINDOWS, TWO_EPOCH_BOUND_SECONDS))
    log("| batch | row | steps (s) | data (s) | start-up, warm-up, save (s) | total (s) |")
    log("| --- | --- | --- | --- | --- | --- |")
    for r in report["rows"]:
        p = r.get("two_epochs")
        if p:
            log("| %d | %s | %.1f | %.2f | %.1f | %.1f%s |" %
                (r["batch"], r["side"], p["steps_seconds"], p["data_seconds"], p["besides_seconds"],
                 p["total_seconds"], "" if p["total_seconds"] <= TWO_EPOCH_BOUND_SECONDS else " (over)"))
    save()
    return 0 if all(r.get("status") == "ok" for r in report["rows"] if r["side"] == "ours") else 1


if __name__ == "__main__":
    sys.exit(main())
