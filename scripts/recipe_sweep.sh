#!/usr/bin/env bash
# Short runs of the release recipe's variants on the full 诗 corpus, each over the same number of
# training tokens (about 1.2 M, a ninth of an epoch), each with its own warmup and full cosine decay:
# prints validation perplexity and wall time, so the recipe is chosen by perplexity per CPU-minute.
# Usage: [SWEEP_TOKENS=N] scripts/recipe_sweep.sh [NAME ...]   (default: every variant below);
# results in runs/sweep/results.tsv (a line per run: name, steps, tokens, seconds, perplexity).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
TOKENS=${SWEEP_TOKENS:-1200000}
POEM_TOKENS=47  # mean training row of the 诗 corpus: <bos> <form> poem <eos>, inputs only
declare -A VARIANT=(
  [b128]="train.batch_size=128 train.lr=3.0e-3"
  [b64]="train.batch_size=64 train.lr=3.0e-3"
  [b32]="train.batch_size=32 train.lr=3.0e-3"
  [b64_lr6]="train.batch_size=64 train.lr=6.0e-3"
  [b64_d0]="train.batch_size=64 train.lr=3.0e-3 model.dropout=0"
  [b16]="train.batch_size=16 train.lr=3.0e-3"
  [b16_lr2]="train.batch_size=16 train.lr=2.0e-3"
  [b32_lr5]="train.batch_size=32 train.lr=5.0e-3"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(b128 b64 b32 b64_lr6 b64_d0)
mkdir -p runs/sweep
for name in "${names[@]}"; do
  sets=()
  for kv in ${VARIANT[$name]}; do sets+=(--set "$kv"); done
  batch=$(echo "${VARIANT[$name]}" | sed -E 's/.*batch_size=([0-9]+).*/\1/')
  steps=$((TOKENS / (batch * POEM_TOKENS)))
  name_dir="$name-$TOKENS"
  rm -rf "runs/sweep/$name_dir"
  start=$(date +%s)
  "$PY" train_dist.py --config configs/release.yaml "${sets[@]}" --set "train.max_steps=$steps" \
    --set "train.warmup_steps=$((steps / 10))" --set train.eval_every=100000 --set train.ckpt_every=100000 \
    --set train.num_samples=0 --set data.ci_corpus=null --set "output.dir=runs/sweep/$name_dir" >"runs/sweep/$name_dir.log" 2>&1
  secs=$(($(date +%s) - start))
  ppl=$(grep -o 'val_ppl [0-9.]*' "runs/sweep/$name_dir.log" | tail -1 | cut -d' ' -f2)
  printf '%s\t%s steps\t%s tokens\t%s s\tval_ppl %s\n' "$name" "$steps" "$TOKENS" "$secs" "$ppl" | tee -a runs/sweep/results.tsv
done
