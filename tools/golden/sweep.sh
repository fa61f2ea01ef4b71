#!/usr/bin/env bash
# golden_parity (CPU, double and float) against Hugging Face on many drawn BERT configurations:
#   tools/golden/sweep.sh [FIRST_SEED] [COUNT]        (default 1 and 50)
# Each seed's golden is written by make_golden.py (head sizes 8-64, 1-3 layers, odd widths, up to
# 4 token types, layer_norm_eps 1e-12..1e-3, padding ids among the real tokens, clipping on or
# off, 2-4 AdamW steps with drawn hyperparameters). Needs a Python with torch and transformers
# (PYTHON, default python3) and a built golden_parity (GOLDEN_PARITY, default
# build-cpu/tests/engine/golden_parity; the GPU's test_golden_parity_gpu works alike, with
# MAKE_ARGS="--hidden_multiple 4" so that every drawn model runs there; PARITY_ARGS are passed
# to the binary, e.g. a Catch2 filter). Prints one line per seed; exits 1 if any failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
first="${1:-1}"
count="${2:-50}"
python="${PYTHON:-python3}"
parity="${GOLDEN_PARITY:-$root/build-cpu/tests/engine/golden_parity}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[[ -x "$parity" ]] || { echo "no golden_parity binary at $parity (set GOLDEN_PARITY)"; exit 2; }
failed=0
for ((seed = first; seed < first + count; ++seed)); do
  dir="$work/seed-$seed"
  # shellcheck disable=SC2086  # MAKE_ARGS and PARITY_ARGS are word lists on purpose
  if ! summary="$("$python" "$root/tools/golden/make_golden.py" "$dir" --seed "$seed" ${MAKE_ARGS:-} 2>"$work/make.log")"; then
    echo "seed $seed: make_golden.py failed:"; tail -5 "$work/make.log"; exit 2
  fi
  # shellcheck disable=SC2086
  if BERT_GOLDEN_DIR="$dir" "$parity" ${PARITY_ARGS:-} > "$work/parity.log" 2>&1; then
    echo "seed $seed: PASS $summary"
  else
    failed=$((failed + 1))
    echo "seed $seed: FAIL $summary"
    grep -E "exceeds|FAILED|golden " "$work/parity.log" | head -8 | sed 's/^/    /'
  fi
  rm -rf "$dir"
done
echo "$((count - failed)) of $count configurations pass"
((failed == 0))
