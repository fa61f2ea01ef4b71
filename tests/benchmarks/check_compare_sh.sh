#!/usr/bin/env bash
# benchmarks/real_model/compare.sh end to end on what CI has: the tiny random model, article 0 of
# data/samples/squad-mini.json to train on and article 1 to evaluate, our side only (--skip_hf:
# no torch here). Checks the script still reads our apps' outputs (eval_results.json and
# train_results.json keys), records numbers and prints the table without a verdict.
#
# usage: check_compare_sh.sh REPO_ROOT BIN_DIR
set -euo pipefail
root=$1
bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "check_compare_sh: FAIL: $*" >&2; exit 1; }

rc=0
bash "$root/benchmarks/real_model/compare.sh" --device cpu --skip_hf --epochs 1 --seeds 7 \
  --model "$root/data/samples/tiny-bert-uncased" --squad "$root/data/samples/squad-mini.json" \
  --train_articles 0:1 --eval_articles 1:2 --bin "$bin" --work "$work" > "$work/out.log" 2>&1 || rc=$?
((rc == 0)) || { tail -30 "$work/out.log"; fail "compare.sh exited $rc"; }

python3 - "$work/results.jsonl" "$work/compare.json" << 'PY' || { tail -30 "$work/out.log"; fail "results"; }
import json, math, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
sides = [r["side"] for r in rows]
assert sides == ["untrained", "ours"], sides
for r in rows:
    for key in ("exact_match", "f1"):
        assert isinstance(r[key], (int, float)) and 0 <= r[key] <= 100, (r["side"], key, r[key])
ours = rows[1]
assert ours["seed"] == 7 and ours["epochs"] == 1, ours
assert ours["train_seconds"] > 0 and ours["windows_per_second"] > 0, ours
summary = json.load(open(sys.argv[2]))
assert summary["verdict"] == "NO VERDICT", summary["verdict"]
PY
grep -q '^| ours | cpu | 7 | 1 |' "$work/out.log" || fail "no table row for our run"
grep -q '^COMPARISON: NO VERDICT' "$work/out.log" || fail "no verdict line"
echo "check_compare_sh: OK"
