#!/usr/bin/env bash
# The prepared GPU check (issue 20): ONE call on a lent machine, at most ~8.5 minutes for study +
# workers, ~2.5 more for predict (each step under its own timeout; STEPS chooses which). Runs from
# the repository root. Prints the RESULT lines:
#   study_minutes, overhead_share_<model>, heatmaps_seconds_<model>, mfu_<model>_compile
#       (study_bench: resnet50 + ViT-B/16, 4,300 images, 30 epochs, torch.compile, throughput batch)
#   workers_images_per_s_n{1,2,4}, workers_speedup_n{2,4} (workers_bench: resnet10t 128 px, one GPU)
#   predict_images_per_s, predict_forward_images_per_s, predict_4300_seconds (predict_bench: an
#       ensemble of 5 resnet50 at 224 px screening 4,300 unlabelled images; issue 18)
# (train_bench's engine-vs-baseline figures are in benchmarks/results/2026-11-27-h200/; run it
# separately when a second call is available.)
# Raw logs go to benchmarks/results/<date>-<gpu>/ (LOGS=... to choose), and are copied to $OUT
# when it is set (the device tool brings $OUT back).
#   WHEELS=.whl  a folder of wheels for packages the machine lacks (pydicom, grad-cam, ttach, ...)
#   DRY_RUN=1    the same sequence on the CPU at toy sizes: checks the script and its RESULT lines
#   STEPS="study workers predict"  the steps to run (default all three; e.g. STEPS=predict for a
#                short second call: one call has at most 10 minutes)
#   PEAK=989     the GPU's dense bf16 TFLOP/s for MFU (H100/H200 SXM: 989)
set -u
cd "$(dirname "$0")/.."
DRY=${DRY_RUN:-0}
if [ -d "${WHEELS:-.whl}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "${WHEELS:-.whl}"/*.whl && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 AFFWB_OFFLINE=1
PY=${PYTHON:-python3}
if [ "$DRY" = 1 ]; then
  GPU=cpu-dry-run
else
  GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 \
        | grep -oiE '[A-Z][0-9]{2,4}' | head -1 | tr 'A-Z' 'a-z')
  GPU=${GPU:-gpu}
fi
LOGS=${LOGS:-benchmarks/results/$(date -u +%F)-$GPU}
mkdir -p "$LOGS"
DATA=$(mktemp -d /tmp/gpu_session_data.XXXX)  # shared by the study and the workers benchmark
echo "logs in $LOGS"

STEPS=" ${STEPS:-study workers predict} "
# step NAME SECONDS CMD...: run with a time limit, keep its whole output, echo its RESULT lines
step() {
  local name=$1 secs=$2; shift 2
  case "$STEPS" in *" $name "*) ;; *) echo "== $name: skipped (STEPS)"; return 0;; esac
  local t0=$SECONDS
  timeout "$secs" "$@" > "$LOGS/$name.txt" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s (limit $secs s)" | tee -a "$LOGS/steps.txt"
  grep -h '^RESULT' "$LOGS/$name.txt"
  [ $rc -eq 0 ] || tail -5 "$LOGS/$name.txt"
}

if [ "$DRY" = 1 ]; then
  echo "DRY_RUN: CPU, toy sizes, aot_eager compile; the figures mean nothing" | tee "$LOGS/gpu.txt"
  $PY -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)" | tee -a "$LOGS/gpu.txt"
  step study 600 $PY benchmarks/study_bench.py --device cpu --models resnet10t,vit_tiny_patch16_224 \
    --images 60 --epochs 1 --size 64 --batch auto --heatmap-batch 16 --png-side 256 \
    --compile --compile-backend aot_eager --peak-tflops 1 --keep "$DATA"
  step workers 600 $PY benchmarks/workers_bench.py --device cpu --n 1,2 --images 60 --jobs 2 --epochs 1 \
    --size 64 --batch 8 --png-side 256 --keep "$DATA"
  step predict 300 $PY benchmarks/predict_bench.py --device cpu --images 64 --labelled 24 --side 128 \
    --size 64 --batch 32
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOGS/gpu.txt"
  $PY -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, torch.cuda.get_device_name())" | tee -a "$LOGS/gpu.txt"
  PEAK=${PEAK:-989}
  step study 320 $PY benchmarks/study_bench.py --device cuda --images 4300 --epochs 30 --run-folds 1 \
    --batch auto --compile --peak-tflops "$PEAK" --keep "$DATA"
  step workers 160 $PY benchmarks/workers_bench.py --device cuda --n 1,2,4 --images 4300 --jobs 8 \
    --epochs 3 --size 128 --batch 64 --timeout 50 --keep "$DATA"
  step predict 150 $PY benchmarks/predict_bench.py --device cuda --model resnet50 --size 224 --folds 5 \
    --images 4300 --batch 256 --threads 8
fi
echo "== all RESULT lines"
grep -h '^RESULT' "$LOGS"/*.txt | tee "$LOGS/results.txt"
rm -rf "$DATA"
if [ -n "${OUT:-}" ] && [ "$OUT" != "$LOGS" ]; then mkdir -p "$OUT" && cp -r "$LOGS" "$OUT/"; fi
