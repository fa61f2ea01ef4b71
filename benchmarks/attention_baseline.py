#!/usr/bin/env python3
"""PyTorch's fused attention on the sequences bench_kernels timed: issue 13's library baseline.

bench_kernels --json records each batch's window lengths and times our attention kernels on
them. This script builds, for the same batches and head layouts (12x64 bert-base, 12x32
all-MiniLM-L6-v2), random bf16 q, k, v and times torch.nn.functional.scaled_dot_product_attention
forward and forward+backward under each fused backend of torch.nn.attention.sdpa_kernel (cuDNN,
flash, memory-efficient), at dropout 0 and at bench_kernels' dropout:

- the windows as a nested jagged tensor when the backend takes one: the same work as ours;
- otherwise padded to the batch's longest window (marked "padded": more work than ours).

FLOPs are counted as bench_kernels counts ours (4·ΣL²·heads·head_dim forward, 2.5 times that
backward), so TFLOP/s are comparable, and each row gives our forward+backward time on the same
batch and the ratio (this / ours: above 1 means ours is faster). The backward alone is the
forward+backward median minus the forward median.

usage (GPU machine):  python3 benchmarks/attention_baseline.py --json OUT/bench_kernels.json
CPU smoke test:       python3 benchmarks/attention_baseline.py --device cpu --lengths 7,5 --repeats 2
Exit 0; 77 when torch sees no CUDA device (--device cuda).
"""
import argparse
import json
import statistics
import sys

HEADS = [(12, 64), (12, 32)]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="bench_kernels --json output: batches (with lengths) and our attention rows")
    p.add_argument("--lengths", help="comma-separated window lengths of one batch (instead of --json)")
    p.add_argument("--dropout", type=float, default=None, help="default: bench_kernels' (0.1 without --json)")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    return p.parse_args()


def load_batches(args):
    """[(label, lengths)], our medians {(batch, op, pass): µs} and the dropout."""
    if args.lengths:
        return [("custom", [int(x) for x in args.lengths.split(",")])], {}, 0.1
    if not args.json:
        sys.exit("attention_baseline.py: give --json (bench_kernels') or --lengths")
    with open(args.json) as f:
        bench = json.load(f)
    batches = [(b["label"], b["lengths"]) for b in bench["batches"] if b.get("lengths")]
    if not batches:
        sys.exit("attention_baseline.py: %s has no batch lengths (a bench_kernels older than this script)" % args.json)
    ours = {(r["batch"], r["op"], r["pass"]): r["median_us"] for r in bench["results"] if r.get("median_us")}
    dropouts = sorted({float(r["op"].rsplit("dropout ", 1)[1].rstrip(")")) for r in bench["results"]
                       if r["op"].startswith("attention") and "dropout " in r["op"]})
    return batches, ours, max(dropouts) if dropouts else 0.1


class Timer:
    def __init__(self, torch, device, warmup, repeats):
        self.torch, self.device, self.warmup, self.repeats = torch, device, warmup, repeats

    def median_us(self, fn):
        torch = self.torch
        for _ in range(self.warmup):
            fn()
        samples = []
        for _ in range(self.repeats):
            if self.device == "cuda":
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                samples.append(start.elapsed_time(stop) * 1e3)
            else:
                import time
                begin = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - begin) * 1e6)
        return statistics.median(samples)


def make_inputs(torch, lengths, heads, head_dim, device, jagged):
    """q, k, v as (batch, heads, length, head_dim): nested jagged, or dense padded to the longest."""
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    generator = torch.Generator(device="cpu").manual_seed(1234)

    def one():
        if jagged:
            offsets = torch.tensor([0] + list(_cumsum(lengths)), dtype=torch.int64, device=device)
            values = torch.randn(sum(lengths), heads, head_dim, generator=generator).to(device, dtype)
            values.requires_grad_(True)
            nested = torch.nested.nested_tensor_from_jagged(values, offsets)
            return nested.transpose(1, 2), values
        dense = torch.randn(len(lengths), heads, max(lengths), head_dim, generator=generator).to(device, dtype)
        dense.requires_grad_(True)
        return dense, dense

    return [one() for _ in range(3)]


def _cumsum(values):
    total = 0
    for v in values:
        total += v
        yield total


def time_backend(torch, timer, backend, lengths, heads, head_dim, dropout, device):
    """(layout, fwd µs, fwd+bwd µs) for the first layout the backend accepts, or (None, error)."""
    from torch.nn.attention import sdpa_kernel
    sdpa = torch.nn.functional.scaled_dot_product_attention
    last_error = "not tried"
    for jagged in (True, False):
        try:
            (q, q_leaf), (k, k_leaf), (v, v_leaf) = make_inputs(torch, lengths, heads, head_dim, device, jagged)
            with sdpa_kernel([backend]):
                out = sdpa(q, k, v, dropout_p=dropout)
                grad = torch.ones_like(out) if not jagged else None

                def forward():
                    with torch.no_grad():
                        sdpa(q, k, v, dropout_p=dropout)

                def forward_backward():
                    o = sdpa(q, k, v, dropout_p=dropout)
                    if jagged:
                        o.values().sum().backward()
                    else:
                        o.backward(grad)

                forward_backward()  # the backward must run too, before timing
                fwd = timer.median_us(forward)
                both = timer.median_us(forward_backward)
            return ("jagged" if jagged else "padded"), fwd, both
        except Exception as e:  # this backend does not take this layout (or shape, or dropout)
            last_error = "%s: %s" % (type(e).__name__, str(e).split("\n")[0][:120])
    return None, last_error, None


def main():
    args = parse_args()
    import torch
    from torch.nn.attention import SDPBackend
    if args.device == "cuda" and not torch.cuda.is_available():
        print("attention_baseline.py: SKIPPED, torch sees no CUDA device")
        return 77
    batches, ours, bench_dropout = load_batches(args)
    dropout = bench_dropout if args.dropout is None else args.dropout
    backends = ([("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION),
                 ("efficient", SDPBackend.EFFICIENT_ATTENTION)] if args.device == "cuda"
                else [("math", SDPBackend.MATH)])
    timer = Timer(torch, args.device, args.warmup, args.repeats)
    card = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    print("\n## PyTorch SDPA on bench_kernels' batches (%s, torch %s, %d repeats)\n" % (card, torch.__version__,
                                                                                         args.repeats))
    print("| batch | heads | backend | layout | dropout | fwd µs | bwd µs | fwd+bwd µs | TFLOP/s | "
          "ours fwd+bwd µs | this / ours |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, lengths in batches:
        sum_squares = sum(length * length for length in lengths)
        for heads, head_dim in HEADS:
            flops = 4.0 * sum_squares * heads * head_dim * 3.5  # forward + 2.5x backward
            name = "attention" if (heads, head_dim) == (12, 64) else "attention %dx%d" % (heads, head_dim)
            for p in (0.0, dropout):
                op = "%s (dropout %.2g)" % (name, p)
                mine = ours.get((label, op, "fwd"), 0) + ours.get((label, op, "bwd"), 0)
                for backend_name, backend in backends:
                    layout, fwd, both = time_backend(torch, timer, backend, lengths, heads, head_dim, p, args.device)
                    if layout is None:
                        print("| %s | %dx%d | %s | - | %.2g | unavailable: %s | | | | | |" %
                              (label, heads, head_dim, backend_name, p, fwd))
                        continue
                    print("| %s | %dx%d | %s | %s | %.2g | %.1f | %.1f | %.1f | %.1f | %s | %s |" %
                          (label, heads, head_dim, backend_name, layout, p, fwd, both - fwd, both,
                           flops / (both * 1e-6) / 1e12, "%.1f" % mine if mine else "-",
                           "%.2f" % (both / mine) if mine else "-"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
