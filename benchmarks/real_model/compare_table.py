#!/usr/bin/env python3
"""Prints the real-model comparison's table and verdict from compare.sh's results.jsonl.

    compare_table.py results.jsonl --device cpu|cuda --output compare.json

PASS when our mean EM and mean F1 are each within --tolerance (1.5) points of Hugging Face's,
both sides' means are at least --margin (10) points above the untrained model's, and every
Hugging Face model's two scorings (our eval_squad, hf_qa.py in Python) agree within
--scoring_tolerance (0.3) points. Exit 0 on PASS, 1 on FAIL, 0 with NO VERDICT when a side is
missing.
"""
import argparse
import json
import statistics
import sys


def fmt(value, digits=2):
    return "-" if value is None else ("%.*f" % (digits, value))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--device", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--tolerance", type=float, default=1.5)
    p.add_argument("--margin", type=float, default=10.0)
    p.add_argument("--scoring_tolerance", type=float, default=0.3)
    args = p.parse_args()
    rows = [json.loads(line) for line in open(args.results) if line.strip()]

    print("\n| side | device | seed | epochs | EM | F1 | EM / F1 scored in Python | training s | windows/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        python = "-" if r["python_exact_match"] is None else "%.2f / %.2f" % (r["python_exact_match"], r["python_f1"])
        print("| %s | %s | %s | %s | %.2f | %.2f | %s | %s | %s |" %
              (r["side"], args.device, r["seed"] if r["side"] != "untrained" else "-", r["epochs"],
               r["exact_match"], r["f1"], python, fmt(r["train_seconds"], 0), fmt(r["windows_per_second"], 1)))

    def mean(side, key):
        values = [r[key] for r in rows if r["side"] == side]
        return statistics.mean(values) if values else None

    summary = {"device": args.device, "rows": rows}
    for side in ("ours", "hf", "untrained"):
        summary[side] = {"exact_match": mean(side, "exact_match"), "f1": mean(side, "f1")}
    checks = []
    if summary["ours"]["f1"] is not None and summary["hf"]["f1"] is not None:
        for key in ("exact_match", "f1"):
            gap = summary["ours"][key] - summary["hf"][key]
            checks.append(("ours - hf mean %s = %+.2f (within %.1f)" % (key, gap, args.tolerance),
                           abs(gap) <= args.tolerance))
            for side in ("ours", "hf"):
                lead = summary[side][key] - summary["untrained"][key]
                checks.append(("%s mean %s - untrained = %+.2f (at least %.0f)" % (side, key, lead, args.margin),
                               lead >= args.margin))
        for r in rows:
            if r["side"] == "hf":
                for key, python_key in (("exact_match", "python_exact_match"), ("f1", "python_f1")):
                    gap = r[key] - r[python_key]
                    checks.append(("hf seed %s: our scoring - Python scoring of %s = %+.2f (within %.1f)" %
                                   (r["seed"], key, gap, args.scoring_tolerance), abs(gap) <= args.scoring_tolerance))
    print()
    for text, ok in checks:
        print("%s  %s" % ("ok  " if ok else "FAIL", text))
    verdict = "NO VERDICT" if not checks else ("PASS" if all(ok for _, ok in checks) else "FAIL")
    summary["checks"] = [{"check": text, "ok": ok} for text, ok in checks]
    summary["verdict"] = verdict
    with open(args.output, "w") as f:
        json.dump(summary, f, indent=1)
    print("\nCOMPARISON: %s" % verdict)
    return 1 if verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
