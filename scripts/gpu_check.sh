#!/usr/bin/env bash
# GPU check (not run by CI): trains the base config for ~1 minute per precision on one GPU and
# prints tokens/s and the dtype nn.LSTM really produced under autocast.
#   bash scripts/gpu_check.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STEPS=${1:-600}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY - <<'PY'
import torch
lstm, x = torch.nn.LSTM(256, 512, 2, batch_first=True).cuda(), torch.randn(64, 26, 256, device="cuda")
for dtype in (torch.bfloat16, torch.float16):
    with torch.autocast("cuda", dtype=dtype):
        out, _ = lstm(x)
    print(f"autocast {dtype}: nn.LSTM output {out.dtype}")
PY
for precision in no bf16 fp16; do
  out=runs/gpu_check_$precision
  rm -rf "$out"
  start=$(date +%s)
  $PY train_dist.py --config configs/base.yaml --set train.mixed_precision=$precision --set train.max_steps=$STEPS \
      --set train.log_every=50 --set train.eval_every=$STEPS --set train.num_samples=1 \
      --set output.tensorboard=false --set output.dir=$out > $out.log 2>&1 || { echo "$precision failed:"; tail -5 $out.log; continue; }
  rate=$($PY -c "import json,sys; r=[json.loads(l) for l in open('$out/metrics.jsonl')]; print(f\"{[x for x in r if 'tokens_per_s' in x][-1]['tokens_per_s']:,.0f}\")")
  ppl=$($PY -c "import json; print(round(json.load(open('$out/final/metrics.json'))['val_ppl'], 1))")
  echo "$precision: $rate tokens/s, val_ppl $ppl after $STEPS steps, $(( $(date +%s) - start )) s"
done
