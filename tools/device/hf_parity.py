#!/usr/bin/env python3
"""Loss-trajectory parity and training speed: our train_squad against Hugging Face.

Runs on the GPU machine (python3 with torch + transformers + safetensors), from the repository
root, with device_carry/ present (tools/device/build_carry.sh). Steps:
  1. our prepare_squad writes the SQuAD dev windows (384/128); the first --windows of them are the
     training set of both sides. transformers' own tokenizer is not used (its traps are in
     ../shared/golden/README.md): Hugging Face is fed our windows.
  2. a bert-base-shaped BertForQuestionAnswering with seeded random weights and dropout 0 is saved
     as a model directory (config.json, model.safetensors, vocab.txt) that train_squad reads.
  3. ours: train_squad --device cuda on the first --windows questions' windows with
     --max_train_samples N and --per_device_train_batch_size N, so every step is one full batch of
     the same N windows: the seeded shuffle cannot change what a step sees, only the packing order.
  4. Hugging Face: the same N windows padded to the longest with attention_mask, bf16 autocast,
     fused AdamW (no weight decay), global-norm clipping at 1.0, our linear decay to 0 without
     warmup, and our loss (the mean of the start and end cross-entropies with the softmax over real
     tokens only: logits at padding are -inf).
  5. the per-step losses are compared: PASS when every step agrees within --rtol (relative).
  6. speed: Hugging Face eager (SDPA) windows/s on that batch, padded to the longest and to 384,
     after warm-up, against our median per-step windows/s from trainer_log.jsonl.
Writes <out>/hf_parity.json and prints both loss columns. Exit 0 on PASS or when our CUDA backend
is unavailable (reported as SKIPPED), 1 on FAIL or an error, 77 when torch sees no GPU.
--tiny --device cpu runs the same flow on a 2-layer model on the CPU (fp32 both sides): a smoke
test of this script on a machine without a GPU.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

SKIP_EXIT = 77


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--carry", default="device_carry", help="the folder build_carry.sh assembled (data)")
    p.add_argument("--bin", default=os.environ.get("BERT_CARRY_BIN", ""),
                   help="our binaries (default $BERT_CARRY_BIN, set by carry_env.sh with LD_LIBRARY_PATH)")
    p.add_argument("--work", default="/tmp/bert_hf_parity", help="scratch folder (model, windows, our run)")
    p.add_argument("--out", default=os.environ.get("OUT", ""), help="where hf_parity.json goes (default: --work)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="both sides run here")
    p.add_argument("--windows", type=int, default=32, help="training windows = the batch")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--learning_rate", type=float, default=3e-5)
    p.add_argument("--seed", type=int, default=0, help="seed of the random initial weights")
    p.add_argument("--rtol", type=float, default=0.02, help="per-step relative loss tolerance")
    p.add_argument("--timing_steps", type=int, default=20)
    p.add_argument("--timing_warmup", type=int, default=5)
    p.add_argument("--ours_timeout", type=int, default=240, help="seconds for our train_squad")
    p.add_argument("--tiny", action="store_true", help="2 layers, hidden 128 (smoke test)")
    p.add_argument("--skip_ours", action="store_true", help="Hugging Face side only")
    return p.parse_args()


def log(*parts):
    print(*parts, flush=True)


def prepare_dev_windows(bin_dir, carry, path):
    """prepare_squad's windows (384/128) of the carried SQuAD dev set, written to path; all of them."""
    cmd = [os.path.join(bin_dir, "prepare_squad"),
           "--vocab_file", os.path.join(carry, "shared/data/bert-base-uncased/vocab.txt"),
           "--input_file", os.path.join(carry, "shared/data/squad/dev-v1.1.json"),
           "--max_seq_length", "384", "--doc_stride", "128", "--output_file", path]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError("prepare_squad failed (%d): %s" % (done.returncode, done.stderr[-2000:]))
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def make_windows(args, carry, work):
    """Our windows of the dev set; returns the first args.windows as dicts."""
    windows = prepare_dev_windows(args.bin, carry, os.path.join(work, "windows.jsonl"))[:args.windows]
    if len(windows) < args.windows:
        raise RuntimeError("prepare_squad wrote only %d windows" % len(windows))
    if any(w["input_ids"][0] != 101 for w in windows):  # [CLS]: a vocab mix-up shows here
        raise RuntimeError("a window does not start with [CLS]=101")
    return windows


def bert_sizes(tiny):
    """bert-base's sizes, or a 2-layer model of hidden 128 for smoke tests."""
    if tiny:
        return dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512)
    return dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)


def save_random_bert_qa(carry, model_dir, tiny, seed, dropout=0.0):
    """A BertForQuestionAnswering with seeded random weights, saved as a model directory that
    train_squad reads (config.json, model.safetensors, the carried vocab.txt)."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering
    config = BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, layer_norm_eps=1e-12,
                        initializer_range=0.02, pad_token_id=0, **bert_sizes(tiny))
    config._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    model = BertForQuestionAnswering(config)
    model.save_pretrained(model_dir)
    shutil.copy(os.path.join(carry, "shared/data/bert-base-uncased/vocab.txt"), model_dir)
    return model


def make_model(args, carry, model_dir):
    return save_random_bert_qa(carry, model_dir, args.tiny, args.seed)


def run_ours(args, carry, work, model_dir):
    out_dir = os.path.join(work, "ours")
    cmd = [os.path.join(args.bin, "train_squad"), "--model_name_or_path", model_dir,
           "--train_file", os.path.join(carry, "shared/data/squad/dev-v1.1.json"), "--do_train",
           "--output_dir", out_dir, "--overwrite_output_dir", "--device", args.device,
           "--max_train_samples", str(args.windows), "--per_device_train_batch_size", str(args.windows),
           "--max_steps", str(args.steps), "--logging_steps", "1", "--save_steps", "0",
           "--learning_rate", repr(args.learning_rate), "--weight_decay", "0", "--warmup_steps", "0",
           "--max_grad_norm", "1.0", "--max_seq_length", "384", "--doc_stride", "128", "--seed", "42"]
    log("[ours] " + " ".join(cmd))
    result = {"status": "error", "command": " ".join(cmd)}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.ours_timeout)
    except subprocess.TimeoutExpired as e:
        result["status"] = "timeout"
        result["stderr_tail"] = (e.stderr or b"")[-3000:].decode("utf-8", "replace") \
            if isinstance(e.stderr, bytes) else (e.stderr or "")[-3000:]
        log("[ours] TIMEOUT after %d s" % args.ours_timeout)
        return result
    stderr_tail = "\n".join(l for l in done.stderr.splitlines() if "\r" not in l)[-3000:]
    result["stderr_tail"] = stderr_tail
    result["exit_code"] = done.returncode
    log("[ours] exit %d; stderr tail:\n%s" % (done.returncode, stderr_tail[-1500:]))
    if done.returncode != 0:
        if "--device cuda:" in done.stderr:  # make_backend's refusal: no backend or no usable GPU
            result["status"] = "unavailable"
        return result
    steps = {}
    with open(os.path.join(out_dir, "trainer_log.jsonl")) as f:
        for line in f:
            entry = json.loads(line)
            if "loss" in entry:
                steps[entry["step"]] = entry
    ordered = [steps[s] for s in sorted(steps)]
    result.update(status="ok", losses=[e["loss"] for e in ordered],
                  grad_norms=[e.get("grad_norm") for e in ordered],
                  windows_per_second=[e.get("windows_per_second") for e in ordered])
    if len(ordered) != args.steps:
        result["status"] = "error"
        result["error"] = "trainer_log.jsonl holds %d logged steps, expected %d" % (len(ordered), args.steps)
    return result


def make_batch(windows, device, pad_to=0):
    import torch
    length = max(pad_to, max(len(w["input_ids"]) for w in windows))
    ids = torch.zeros(len(windows), length, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, w in enumerate(windows):
        n = len(w["input_ids"])
        ids[row, :n] = torch.tensor(w["input_ids"])
        types[row, :n] = torch.tensor(w["token_type_ids"])
        mask[row, :n] = 1
    starts = torch.tensor([w["start_position"] for w in windows])
    ends = torch.tensor([w["end_position"] for w in windows])
    return [t.to(device) for t in (ids, types, mask, starts, ends)]


class HfTrainer:
    """One optimizer step exactly as our trainer takes it (see the module docstring)."""

    def __init__(self, model, args, device):
        import torch
        self.torch = torch
        self.model = model.to(device).train()
        self.device = device
        self.args = args
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, betas=(0.9, 0.999),
                                           eps=1e-8, weight_decay=0.0, fused=(device == "cuda"))
        self.step_index = 0

    def step(self, batch):
        torch = self.torch
        ids, types, mask, starts, ends = batch
        # Our linear_schedule_lr with no warmup: lr·(total − step)/total, step counted from 0.
        lr = self.args.learning_rate * max(0.0, (self.args.steps - self.step_index) / self.args.steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.device == "cuda"):
            out = self.model(input_ids=ids, token_type_ids=types, attention_mask=mask)
        real = mask.bool()
        start = out.start_logits.float().masked_fill(~real, float("-inf"))
        end = out.end_logits.float().masked_fill(~real, float("-inf"))
        loss = 0.5 * (torch.nn.functional.cross_entropy(start, starts) + torch.nn.functional.cross_entropy(end, ends))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_index += 1
        return loss, norm


def time_hf(trainer, batch, args):
    torch = trainer.torch
    for _ in range(args.timing_warmup):
        trainer.step(batch)
    if trainer.device == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(args.timing_steps):
        loss, _ = trainer.step(batch)
    loss.item()
    if trainer.device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    return {"ms_per_step": 1e3 * seconds / args.timing_steps,
            "windows_per_second": args.windows * args.timing_steps / seconds,
            "padded_length": int(batch[0].shape[1])}


def compare(hf_losses, ours_losses, rtol):
    rows, worst = [], (0.0, 0)
    for i, (h, o) in enumerate(zip(hf_losses, ours_losses), start=1):
        rel = abs(o - h) / max(abs(h), 1e-12) if o is not None and math.isfinite(o) else float("inf")
        rows.append((i, h, o, rel))
        worst = max(worst, (rel, i))
    verdict = "PASS" if rows and all(r[3] <= rtol for r in rows) else "FAIL"
    return rows, verdict, worst


def main():
    args = parse_args()
    carry = os.path.abspath(args.carry)
    if not args.bin:
        raise SystemExit("hf_parity.py: give --bin or source tools/device/carry_env.sh (BERT_CARRY_BIN)")
    work = os.path.abspath(args.work)
    out = os.path.abspath(args.out or work)
    os.makedirs(work, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    report = {"settings": {k: v for k, v in vars(args).items()}}

    def save_report():
        with open(os.path.join(out, "hf_parity.json"), "w") as f:
            json.dump(report, f, indent=1)

    import torch
    import transformers
    report["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    log("[hf] torch %s, transformers %s" % (torch.__version__, transformers.__version__))
    if args.device == "cuda" and not torch.cuda.is_available():
        log("SKIPPED: torch sees no CUDA device")
        report["verdict"] = "SKIPPED"
        save_report()
        return SKIP_EXIT
    if args.device == "cuda":
        report["gpu"] = torch.cuda.get_device_name(0)

    windows = make_windows(args, carry, work)
    lengths = [len(w["input_ids"]) for w in windows]
    report["windows"] = {"count": len(windows), "tokens": sum(lengths), "max_length": max(lengths),
                         "mean_length": sum(lengths) / len(lengths),
                         "example_ids": sorted({w["example_id"] for w in windows})}
    log("[data] %d windows, %d tokens, mean length %.1f, longest %d" %
        (len(windows), sum(lengths), sum(lengths) / len(lengths), max(lengths)))

    model_dir = os.path.join(work, "model")
    shutil.rmtree(model_dir, ignore_errors=True)
    began = time.perf_counter()
    model = make_model(args, carry, model_dir)
    report["model"] = {"parameters": sum(p.numel() for p in model.parameters()),
                       "attn_implementation": getattr(model.config, "_attn_implementation", None)}
    log("[model] %d parameters, attention %s, saved to %s in %.1f s" %
        (report["model"]["parameters"], report["model"]["attn_implementation"], model_dir, time.perf_counter() - began))

    # Ours first, while this process holds no GPU memory; the HF model stays on the CPU meanwhile.
    ours = {"status": "skipped"} if args.skip_ours else run_ours(args, carry, work, model_dir)
    report["ours"] = ours
    save_report()

    trainer = HfTrainer(model, args, args.device)
    batch = make_batch(windows, args.device)
    hf_losses, hf_norms = [], []
    began = time.perf_counter()
    for _ in range(args.steps):
        loss, norm = trainer.step(batch)
        hf_losses.append(loss.item())
        hf_norms.append(norm.item())
    report["hf"] = {"losses": hf_losses, "grad_norms": hf_norms, "seconds": time.perf_counter() - began}
    save_report()

    if ours["status"] == "ok":
        rows, verdict, (worst_rel, worst_step) = compare(hf_losses, ours["losses"], args.rtol)
        log("\n| step | HF loss | our loss | rel diff | HF grad norm | our grad norm |")
        log("| --- | --- | --- | --- | --- | --- |")
        for (i, h, o, rel), hn, on in zip(rows, hf_norms, ours["grad_norms"]):
            log("| %d | %.5f | %.5f | %.3f%% | %.4f | %s |" % (i, h, o, 100 * rel, hn,
                                                             "%.4f" % on if on is not None else "-"))
        report["verdict"] = verdict
        report["max_rel_diff"] = worst_rel
        report["worst_step"] = worst_step
        log("\nPARITY: %s (max relative loss difference %.3f%% at step %d; tolerance %.1f%%)" %
            (verdict, 100 * worst_rel, worst_step, 100 * args.rtol))
    else:
        report["verdict"] = "SKIPPED" if ours["status"] in ("unavailable", "skipped") else "ERROR"
        log("\nPARITY: %s (ours: %s); HF losses: first %.4f, last %.4f" %
            (report["verdict"], ours["status"], hf_losses[0], hf_losses[-1]))
    save_report()

    # Speed on the same batch: padded to the longest window, then to 384.
    speed = {}
    if args.timing_steps > 0:
        speed["hf_sdpa_longest"] = time_hf(trainer, batch, args)
        speed["hf_sdpa_384"] = time_hf(trainer, make_batch(windows, args.device, pad_to=384), args)
        if args.device == "cuda":
            speed["hf_peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    if ours["status"] == "ok":
        skip = min(10, args.steps // 2)
        tail = [w for w in ours["windows_per_second"][skip:] if w]
        if tail:
            speed["ours_median_windows_per_second"] = statistics.median(tail)
    if "hf_sdpa_longest" in speed and "ours_median_windows_per_second" in speed:
        speed["ours_over_hf_longest"] = speed["ours_median_windows_per_second"] / speed["hf_sdpa_longest"]["windows_per_second"]
    report["speed"] = speed
    save_report()
    for name in ("hf_sdpa_longest", "hf_sdpa_384"):
        if name in speed:
            log("SPEED: %-16s %7.1f windows/s (%.1f ms/step, padded to %d)" %
                (name, speed[name]["windows_per_second"], speed[name]["ms_per_step"], speed[name]["padded_length"]))
    if "ours_median_windows_per_second" in speed:
        log("SPEED: ours             %7.1f windows/s (median per step after the first %d, packed)" %
            (speed["ours_median_windows_per_second"], skip))
    if "ours_over_hf_longest" in speed:
        log("SPEED: ours / HF (padded to longest) = %.2fx" % speed["ours_over_hf_longest"])
    return 1 if report["verdict"] in ("FAIL", "ERROR") else 0


if __name__ == "__main__":
    sys.exit(main())
