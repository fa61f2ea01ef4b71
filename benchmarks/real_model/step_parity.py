#!/usr/bin/env python3
"""Step-by-step parity of train_squad with Hugging Face, dropout included.

From the same weights (the QA head is drawn once by transformers and saved, so both sides start
equal), both sides train STEPS steps on the same batches in the same order with the same
optimizer settings, and each step's loss and gradient norm (before clipping) are compared:

- ours: train_squad --max_steps STEPS --logging_steps 1 (random order, or --group_by_length);
- Hugging Face: BertForQuestionAnswering (eager attention) fed our batches in our order (the
  order is recomputed here: engine/trainer.cpp epoch_order, std::mt19937_64 + rejection
  sampling), AdamW with Trainer's no-decay grouping, linear warmup/decay, clipping, and the loss
  over each window's real tokens (ours never pads). Its nn.Dropout modules and the attention
  dropout are replaced by OUR masks: Philox4x32-10 keyed and numbered as kernels/dropout_rng.h
  and kernels/attention.h define them (attention probabilities with 8-bit draws and our kept
  scale), so with dropout on, the two sides differ only where the arithmetic differs.

Equal losses and gradient norms (within float rounding) show that the forward, every backward
including dropout's, clipping, AdamW and the schedule are Hugging Face's; what is left between
two full runs is which random masks, batches and QA-head draws each side takes.

--steps 0 runs one whole epoch (ours with --num_train_epochs 1), and both trained models are
kept (WORK/ours, WORK/hf) for eval_squad: with the same masks, order and QA-head draw, the two
sides' scores then differ only by float rounding carried through the run.

The masks come from our own C++ (benchmarks/real_model/our_masks.cpp and
kernels/dropout_mask_ref.cpp, compiled here with the system's c++ and loaded with ctypes), so
both sides draw them with the one implementation train_squad runs.

usage: step_parity.py --model DIR --train_file train.json --windows train.jsonl --bin build/apps
                      [--steps 10] [--batch 8] [--dropout 0.1] [--seed 42] [--work DIR]
Needs torch, transformers, numpy. Exit 0 when every step agrees within --tolerance (relative).
"""
import argparse
import ctypes
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np

from hf_qa import group_by_length, pad_batch, read_jsonl, save_model, trainer_adamw, write_initial_model

MASK64 = (1 << 64) - 1


class Mt19937_64:
    """std::mt19937_64 (the C++ standard's parameters)."""

    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & MASK64
        for i in range(1, 312):
            self.mt[i] = (6364136223846793005 * (self.mt[i - 1] ^ (self.mt[i - 1] >> 62)) + i) & MASK64
        self.index = 312

    def __call__(self):
        if self.index >= 312:
            for i in range(312):
                x = (self.mt[i] & 0xFFFFFFFF80000000) | (self.mt[(i + 1) % 312] & 0x7FFFFFFF)
                xa = x >> 1
                if x & 1:
                    xa ^= 0xB5026F5AA96619E9
                self.mt[i] = self.mt[(i + 156) % 312] ^ xa
            self.index = 0
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64


def epoch_order(count, seed, epoch):
    """engine/trainer.cpp epoch_order: Fisher-Yates with unbiased draws by rejection."""
    order = list(range(count))
    engine = Mt19937_64((seed * 0x9E3779B97F4A7C15 + epoch + 1) & MASK64)
    for i in range(count, 1, -1):
        limit = MASK64 - (MASK64 % i)
        draw = engine()
        while draw >= limit:
            draw = engine()
        j = draw % i
        order[i - 1], order[j] = order[j], order[i - 1]
    return order


def length_grouped_order(lengths, batch, seed, epoch):
    """engine/trainer.cpp length_grouped_order: Trainer's grouping on our shuffle."""
    return group_by_length(epoch_order(len(lengths), seed, epoch), lengths, batch)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_mask_library(work):
    """Compiles our_masks.cpp with our Philox code and loads it."""
    compiler = shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++")
    if compiler is None:
        sys.exit("step_parity.py: a C++ compiler (c++, g++ or $CXX) is needed to build our masks")
    library = os.path.join(work, "libour_masks.so")
    sources = [os.path.join(REPO, "benchmarks", "real_model", "our_masks.cpp"),
               os.path.join(REPO, "kernels", "dropout_mask_ref.cpp")]
    result = subprocess.run([compiler, "-std=c++17", "-O2", "-shared", "-fPIC", "-I", REPO] + sources
                            + ["-o", library], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("step_parity.py: could not compile our masks:\n" + result.stderr[-2000:])
    lib = ctypes.CDLL(library)
    u8p, f32, u64, u32 = ctypes.POINTER(ctypes.c_uint8), ctypes.c_float, ctypes.c_uint64, ctypes.c_uint32
    lib.our_hidden_keep.argtypes = [u8p, f32, u64, u32, u32, u64, u64, u64]
    lib.our_attention_keep.argtypes = [u8p, f32, u64, u32, u32, u64, u64, u64, u64]
    lib.our_hidden_keep.restype = lib.our_attention_keep.restype = None
    lib.our_attention_keep_scale.argtypes = [f32]
    lib.our_attention_keep_scale.restype = f32
    return lib


class MaskSource:
    """Keep flags of one window at one site, from our C++."""

    def __init__(self, lib, seed):
        self.lib, self.seed = lib, seed

    def hidden(self, start, n, width, micro_step, site_id, probability):
        keep = np.empty((n, width), dtype=np.uint8)
        self.lib.our_hidden_keep(keep.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), probability, self.seed,
                                 micro_step, site_id, int(start), n, width)
        return keep

    def attention(self, start, n, heads, max_positions, micro_step, site_id, probability):
        keep = np.empty((heads, n, n), dtype=np.uint8)
        self.lib.our_attention_keep(keep.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), probability, self.seed,
                                    micro_step, site_id, int(start), n, heads, max_positions)
        return keep

    def attention_keep_scale(self, probability):
        """Our attention dropout drops p rounded to a multiple of 1/256 (8-bit draws) and scales
        kept probabilities by 1 / (1 - that rate): kernels/dropout_rng.h attention_keep_scale."""
        return float(self.lib.our_attention_keep_scale(probability))


def site(layer, kind):  # kernels/dropout_rng.h dropout_site; layer -1 = embeddings
    return (layer + 1) * 4 + kind


def run_ours(args, init, out):
    cmd = [os.path.join(args.bin, "train_squad"), "--model_name_or_path", init, "--train_file", args.train_file,
           "--do_train", "--output_dir", out, "--overwrite_output_dir", "--device", "cpu",
           "--per_device_train_batch_size", str(args.batch)]
    cmd += ["--num_train_epochs", "1"] if args.steps == 0 else ["--max_steps", str(args.steps)]
    cmd += ["--learning_rate", repr(args.learning_rate), "--warmup_ratio", "0.1", "--weight_decay", "0.01",
            "--max_grad_norm", "1.0", "--seed", str(args.seed), "--logging_steps", "1", "--save_steps", "0",
            "--max_seq_length", "384", "--doc_stride", "128"] + (["--group_by_length"] if args.group_by_length else [])
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("train_squad failed (exit %d):\n%s" % (result.returncode, result.stderr[-3000:]))
    rows = [json.loads(line) for line in open(os.path.join(out, "trainer_log.jsonl"))]
    return [(r["loss"], r["grad_norm"]) for r in rows if "loss" in r and "grad_norm" in r]


def run_hf(args, init, masks):
    import torch
    import transformers.models.bert.modeling_bert as modeling_bert
    from transformers import BertForQuestionAnswering, get_linear_schedule_with_warmup

    model = BertForQuestionAnswering.from_pretrained(init, attn_implementation="eager", dtype=torch.float32)
    config = model.config
    heads, max_positions = config.num_attention_heads, config.max_position_embeddings
    p_hidden, p_attention = config.hidden_dropout_prob, config.attention_probs_dropout_prob
    batch_info = {}

    class OurDropout(torch.nn.Module):
        def __init__(self, site_id):
            super().__init__()
            self.site_id = site_id

        def forward(self, x):
            if not self.training or p_hidden == 0:
                return x
            n_seq, length, width = x.shape
            mask = np.zeros((n_seq, length, width), dtype=np.float32)
            for b, (start, n) in enumerate(zip(batch_info["starts"], batch_info["lengths"])):
                mask[b, :n] = masks.hidden(start, n, width, batch_info["micro_step"], self.site_id, p_hidden)
            return x * torch.from_numpy(mask) * (1.0 / (1.0 - p_hidden))

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        weights = torch.matmul(query, key.transpose(2, 3)) * scaling
        if attention_mask is not None:
            weights = weights + attention_mask
        weights = torch.nn.functional.softmax(weights, dim=-1)
        if module.training and p_attention > 0:
            n_seq, n_heads, length, _ = weights.shape
            mask = np.zeros(weights.shape, dtype=np.float32)
            for b, (start, n) in enumerate(zip(batch_info["starts"], batch_info["lengths"])):
                mask[b, :, :n, :n] = masks.attention(start, n, n_heads, max_positions, batch_info["micro_step"],
                                                     site(module.layer_idx, 1), p_attention)
            weights = weights * torch.from_numpy(mask) * masks.attention_keep_scale(p_attention)
        return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights

    modeling_bert.eager_attention_forward = attention
    model.bert.embeddings.dropout = OurDropout(site(-1, 0))
    for layer_index, layer in enumerate(model.bert.encoder.layer):
        layer.attention.output.dropout = OurDropout(site(layer_index, 2))
        layer.output.dropout = OurDropout(site(layer_index, 3))
    model.train()

    windows = read_jsonl(args.windows)
    if args.group_by_length:
        order = length_grouped_order([len(w["input_ids"]) for w in windows], args.batch, args.seed, 0)
    else:
        order = epoch_order(len(windows), args.seed, 0)
    optimizer = trainer_adamw(torch, model, args.learning_rate, 0.01)
    steps = args.steps or math.ceil(len(windows) / args.batch)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(0.1 * steps), steps)
    rows = []
    for step in range(steps):
        batch = [windows[i] for i in order[step * args.batch:(step + 1) * args.batch]]
        lengths = [len(w["input_ids"]) for w in batch]
        batch_info.update(micro_step=step, lengths=lengths, starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]))
        ids, types, real = pad_batch(torch, batch, "cpu")
        starts = torch.tensor([w["start_position"] for w in batch])
        ends = torch.tensor([w["end_position"] for w in batch])
        out = model(input_ids=ids, token_type_ids=types, attention_mask=real)
        keep = real.bool()
        loss = 0.5 * (torch.nn.functional.cross_entropy(out.start_logits.masked_fill(~keep, float("-inf")), starts)
                      + torch.nn.functional.cross_entropy(out.end_logits.masked_fill(~keep, float("-inf")), ends))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        rows.append((loss.item(), norm.item()))
        print("[hf] step %d (lengths %d-%d) loss %.6f grad norm %.6f" % (step + 1, min(lengths), max(lengths),
                                                                       rows[-1][0], rows[-1][1]), flush=True)
    if args.steps == 0:  # a whole epoch: keep the model for eval_squad
        out = os.path.join(args.work, "hf")
        shutil.rmtree(out, ignore_errors=True)
        save_model(model, init, out)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a BERT model directory (config.json, vocab.txt, safetensors)")
    p.add_argument("--train_file", required=True, help="SQuAD JSON ours trains on")
    p.add_argument("--windows", required=True, help="prepare_squad --output_file of the same file (384/128)")
    p.add_argument("--bin", required=True, help="folder with train_squad")
    p.add_argument("--work", default="/tmp/bert_step_parity")
    p.add_argument("--steps", type=int, default=10, help="0: one whole epoch, both models kept")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--dropout", type=float, default=0.1, help="hidden and attention dropout of both sides")
    p.add_argument("--learning_rate", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--group_by_length", action="store_true", help="both sides in Trainer's length-grouped order")
    p.add_argument("--tolerance", type=float, default=1e-4, help="relative, loss and gradient norm")
    args = p.parse_args()

    os.makedirs(args.work, exist_ok=True)
    init = os.path.join(args.work, "init")  # the QA head drawn once, for both sides
    write_initial_model(args.model, args.seed, init, hidden_dropout_prob=args.dropout,
                        attention_probs_dropout_prob=args.dropout)

    masks = MaskSource(load_mask_library(args.work), args.seed)
    ours = run_ours(args, init, os.path.join(args.work, "ours"))
    hf = run_hf(args, init, masks)
    if len(ours) != len(hf):
        sys.exit("train_squad logged %d steps, Hugging Face ran %d" % (len(ours), len(hf)))
    print("\n| step | loss ours | loss HF | rel. diff | grad norm ours | grad norm HF | rel. diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for step, ((lo, no), (lh, nh)) in enumerate(zip(ours, hf), 1):
        dl, dn = abs(lo - lh) / abs(lh), abs(no - nh) / abs(nh)
        worst = max(worst, dl, dn)
        print("| %d | %.6f | %.6f | %.1e | %.5f | %.5f | %.1e |" % (step, lo, lh, dl, no, nh, dn))
    verdict = "PASS" if worst <= args.tolerance else "FAIL"
    print("\nSTEP PARITY: %s (%d steps, batch %d, dropout %g, seed %d; worst relative difference %.1e, "
          "tolerance %.0e)" % (verdict, args.steps, args.batch, args.dropout, args.seed, worst, args.tolerance))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
