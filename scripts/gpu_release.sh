#!/usr/bin/env bash
# Train the release model (configs/release.yaml) on one GPU within a time budget.
#   BUDGET_S=300 bash scripts/gpu_release.sh
# A 100-step measuring run gives tokens/s; train.epochs is then the most epochs that fit BUDGET_S.
# A GPU wants larger batches than the CPU recipe's 16: BATCH (default 128) and LR (default 6e-3) set them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
BUDGET_S=${BUDGET_S:-300}
GPU_SETS=(--set "train.batch_size=${BATCH:-128}" --set "train.lr=${LR:-6.0e-3}" --set train.warmup_steps=300)
rm -rf runs/release_probe
$PY train_dist.py --config configs/release.yaml "${GPU_SETS[@]}" --set train.max_steps=100 --set train.eval_every=100000 \
    --set train.ckpt_every=100 --set train.num_samples=0 --set output.dir=runs/release_probe
EPOCHS=$($PY - "$BUDGET_S" <<'PY'
import json, sys
rate = [json.loads(l) for l in open("runs/release_probe/metrics.jsonl")][-1]["tokens_per_s"]
tokens_per_epoch = 14_500_000  # about: inputs of the train split (诗, half titled, and the 词), padding included as tokens_per_s counts it
print(max(1, min(30, int(float(sys.argv[1]) * rate / tokens_per_epoch))))
print(f"measured {rate:,.0f} tokens/s", file=sys.stderr)
PY
)
echo "training $EPOCHS epochs"
$PY train_dist.py --config configs/release.yaml "${GPU_SETS[@]}" --set train.epochs=$EPOCHS --resume auto
