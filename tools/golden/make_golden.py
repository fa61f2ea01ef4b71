#!/usr/bin/env python3
"""Writes a golden directory for `golden_parity` (BERT_GOLDEN_DIR=DIR) from Hugging Face.

The layout is the one of ../shared/golden/tiny-bert-qa (its README says what each tensor
holds): config.json + model.safetensors (float32, as save_pretrained writes them) and
golden.safetensors (float64) with the batch, the hidden states, the logits, the masked span
loss before each AdamW step, the first step's gradients, the gradient norm before each step's
clipping and the parameters after the last step. Everything is computed by
transformers' BertForQuestionAnswering in float64 from the float32 weights, so the golden
holds what Hugging Face computes, not what this repository computes.

Needs torch, transformers, safetensors and numpy (e.g. a venv from PyPI). Examples:
  make_golden.py OUT_DIR                         # a random configuration drawn from --seed
  make_golden.py OUT_DIR --config cfg.json       # keys given there override the drawn ones
  make_golden.py OUT_DIR --hidden_size 96 --num_attention_heads 3 --steps 2 --lr 3e-4
tools/golden/sweep.sh runs golden_parity over many drawn configurations.
"""
import argparse
import json
import math
import os
import random
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import BertConfig, BertForQuestionAnswering

NO_DECAY_RULE = "names ending in .bias or containing LayerNorm"


def draw_config(rng, hidden_multiple=1):
    """A small BERT whose shapes are unlike the shipped golden's (heads of 8 to 64, widths
    that are not powers of two, 1 to 3 layers, up to 4 token types). hidden_multiple: draw
    until hidden_size is a multiple of it (4 for the CUDA backend, whose LayerNorm kernels
    need it)."""
    while True:
        head_dim = rng.choice([8, 16, 24, 26, 32, 40, 64])
        heads = rng.choice([1, 2, 3, 4, 5])
        if (head_dim * heads) % hidden_multiple == 0:
            break
    config = {
        "vocab_size": rng.randint(40, 1200),
        "hidden_size": head_dim * heads,
        "num_attention_heads": heads,
        "num_hidden_layers": rng.randint(1, 3),
        "intermediate_size": rng.randint(16, 400),
        "max_position_embeddings": rng.randint(40, 160),
        "type_vocab_size": rng.randint(2, 4),
        "layer_norm_eps": rng.choice([1e-12, 1e-7, 1e-5, 1e-3]),
        "hidden_act": rng.choice(["gelu", "gelu_python"]),
        "pad_token_id": None,
    }
    # BERT's 0, another row, or none (null in config.json): the padding row gets no gradient
    # (nn.Embedding's padding_idx), and the drawn batches hold it among their real tokens.
    config["pad_token_id"] = rng.choice([0, 0, rng.randrange(config["vocab_size"]), None])
    return config


def draw_optimizer(rng):
    return {
        "steps": rng.randint(2, 4),  # the GPU golden test needs two steps at least
        # Up to the shipped golden's 1e-3: at 3e-3 a drawn batch is fitted within two or three
        # steps, where float32 itself (torch's as ours) leaves float64 by more than the float
        # test's 1e-5 (seed 191: torch's own float32 gradient norm 3% off at step 2).
        "lr": rng.choice([1e-4, 5e-4, 1e-3]),
        "beta1": rng.choice([0.9, 0.8]),
        "beta2": rng.choice([0.999, 0.98]),
        "eps": rng.choice([1e-8, 1e-6]),
        "weight_decay": rng.choice([0.0, 0.01, 0.1]),
        # Small bounds clip every step; a large one never does.
        "max_grad_norm": rng.choice([0.05, 1.0, 1e9]),
    }


def draw_batch(rng, config, batch, seq):
    """Left-aligned rows (pads id 0, mask 0 at the tail), lengths from 1 to seq, token types
    anywhere in the vocabulary of types, answers inside each row's real tokens. About one real
    token in twenty holds the padding id, which Hugging Face embeds but never trains."""
    lengths = [seq] + [rng.randint(1, seq) for _ in range(batch - 1)]
    rng.shuffle(lengths)
    ids = np.zeros((batch, seq), np.int64)
    types = np.zeros((batch, seq), np.int64)
    mask = np.zeros((batch, seq), np.int64)
    starts, ends = [], []
    for b, length in enumerate(lengths):
        pad = config["pad_token_id"]
        ids[b, :length] = [pad if pad is not None and rng.random() < 0.05 else rng.randrange(config["vocab_size"])
                           for _ in range(length)]
        types[b, :length] = [rng.randrange(config["type_vocab_size"]) for _ in range(length)]
        mask[b, :length] = 1
        start = rng.randrange(length)
        starts.append(start)
        ends.append(rng.randrange(start, length))
    return ids, types, mask, np.array(starts, np.int64), np.array(ends, np.int64)


def masked_span_loss(start_logits, end_logits, mask, starts, ends):
    """The loss the golden defines: mean of the start and end cross-entropies, each softmax
    over the positions with attention_mask 1 only."""
    pad = mask == 0
    ce = torch.nn.functional.cross_entropy
    start = ce(start_logits.masked_fill(pad, -math.inf), starts)
    end = ce(end_logits.masked_fill(pad, -math.inf), ends)
    return (start + end) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0, help="draws the configuration, weights and batch")
    parser.add_argument("--config", help="JSON file of BertConfig keys that override the drawn ones")
    parser.add_argument("--hidden_multiple", type=int, default=1,
                        help="draw a hidden_size that is a multiple of this (4: what the CUDA backend runs)")
    parser.add_argument("--batch", type=int, help="rows in the batch (default: drawn, 1 to 5)")
    parser.add_argument("--seq", type=int, help="padded length (default: drawn, at most max_position_embeddings)")
    for key in ["hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size",
                "max_position_embeddings", "type_vocab_size", "pad_token_id"]:
        parser.add_argument("--" + key, type=int)
    parser.add_argument("--layer_norm_eps", type=float)
    parser.add_argument("--hidden_act")
    parser.add_argument("--steps", type=int)
    for key in ["lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm"]:
        parser.add_argument("--" + key, type=float)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    settings = draw_config(rng, args.hidden_multiple)
    if args.config:
        with open(args.config) as f:
            settings.update(json.load(f))
    for key in list(settings):
        if getattr(args, key, None) is not None:
            settings[key] = getattr(args, key)
    optimizer_settings = draw_optimizer(rng)
    for key in list(optimizer_settings):
        if getattr(args, key, None) is not None:
            optimizer_settings[key] = getattr(args, key)
    if settings["hidden_size"] % settings["num_attention_heads"]:
        sys.exit(f"hidden_size {settings['hidden_size']} is not a multiple of "
                 f"num_attention_heads {settings['num_attention_heads']}")
    batch = args.batch or rng.randint(1, 5)
    seq = args.seq or rng.randint(1, settings["max_position_embeddings"])
    if seq > settings["max_position_embeddings"]:
        sys.exit(f"--seq {seq} exceeds max_position_embeddings {settings['max_position_embeddings']}")

    torch.manual_seed(args.seed)
    config = BertConfig(**settings, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        attn_implementation="eager")
    model = BertForQuestionAnswering(config)
    # Biases and LayerNorm parameters randomised too (not 0/1), so every path matters; every
    # value a float32, as the saved model.safetensors holds it.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias") or "LayerNorm" in name:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("LayerNorm.weight") else 0.0))
            else:
                p.copy_(torch.randn_like(p) * 0.05)
    os.makedirs(args.out_dir, exist_ok=True)
    model.save_pretrained(args.out_dir, safe_serialization=True)
    model = model.double()
    model.train()  # dropout is 0: train mode only matches what a training step runs

    ids, types, mask, starts, ends = draw_batch(rng, settings, batch, seq)
    t = {k: torch.from_numpy(v) for k, v in
         dict(ids=ids, types=types, mask=mask, starts=starts, ends=ends).items()}

    names = [n for n, _ in model.named_parameters()]
    decay = [p for n, p in model.named_parameters() if not (n.endswith(".bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": optimizer_settings["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=optimizer_settings["lr"], betas=(optimizer_settings["beta1"], optimizer_settings["beta2"]),
        eps=optimizer_settings["eps"])

    golden = {"input.input_ids": ids, "input.token_type_ids": types, "input.attention_mask": mask,
              "input.start_positions": starts, "input.end_positions": ends}
    losses, norms = [], []
    for step in range(optimizer_settings["steps"]):
        optimizer.zero_grad()
        out = model(input_ids=t["ids"], token_type_ids=t["types"], attention_mask=t["mask"],
                    start_positions=t["starts"], end_positions=t["ends"], output_hidden_states=True)
        loss = masked_span_loss(out.start_logits, out.end_logits, t["mask"], t["starts"], t["ends"])
        loss.backward()
        if step == 0:
            for i, h in enumerate(out.hidden_states):
                golden[f"act.hidden_states.{i}"] = h.detach().numpy()
            golden["out.start_logits"] = out.start_logits.detach().numpy()
            golden["out.end_logits"] = out.end_logits.detach().numpy()
            golden["out.loss_hf_unmasked"] = np.array([out.loss.item()])
            for n, p in model.named_parameters():
                golden["grad." + n] = p.grad.detach().numpy().copy()
        losses.append(loss.item())
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), optimizer_settings["max_grad_norm"]).item())
        optimizer.step()
    golden["out.loss_steps"] = np.array(losses)
    golden["out.grad_norm_steps"] = np.array(norms)
    for n, p in model.named_parameters():
        golden["param_after_steps." + n] = p.detach().numpy().copy()
    assert len(names) == len(set(names))

    metadata = {
        "steps": str(optimizer_settings["steps"]),
        "lr": repr(optimizer_settings["lr"]),
        "betas": f"{optimizer_settings['beta1']!r},{optimizer_settings['beta2']!r}",
        "eps": repr(optimizer_settings["eps"]),
        "weight_decay": repr(optimizer_settings["weight_decay"]),
        "max_grad_norm": repr(optimizer_settings["max_grad_norm"]),
        "no_decay": NO_DECAY_RULE,
        "dropout": "0",
        "loss": "mean of start/end cross-entropy over positions with attention_mask=1",
        "made_by": "tools/golden/make_golden.py --seed %d (torch %s)" % (args.seed, torch.__version__),
    }
    save_file({k: np.ascontiguousarray(v) for k, v in golden.items()},
              os.path.join(args.out_dir, "golden.safetensors"), metadata=metadata)
    summary = dict(settings, batch=batch, seq=seq, lengths=mask.sum(1).tolist(), **optimizer_settings)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
