#!/usr/bin/env bash
# The prepared GPU check: one call on a lent machine (see docs/performance in ../shared and
# benchmarks/README). Runs from the repository root (or a copy of engine/ + benchmarks/).
# Writes each benchmark's output to $OUT (or ./gpu_out).
#   WHEELS=.whl  a folder of wheels for packages the machine lacks (pydicom, grad-cam, ttach, ...)
set -u
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
if [ -d "${WHEELS:-.whl}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "${WHEELS:-.whl}"/*.whl && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 AFFWB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"
PEAK=${PEAK:-989}
timeout 130 python3 benchmarks/train_bench.py --device cuda --model resnet50 --size 224 --batch 256 \
  --images 2048 --png-side 1024 --workers 12 --threads 16 --epochs 4 --peak-tflops "$PEAK" 2>&1 | tee "$OUT/train_resnet50.txt"
timeout ${STUDY_S:-300} python3 benchmarks/study_bench.py --device cuda --images 4300 --epochs 30 --run-folds 1 \
  --batch 128 2>&1 | tee "$OUT/study.txt"
timeout 130 python3 benchmarks/train_bench.py --device cuda --model vit_base_patch16_224 --size 224 --batch 256 \
  --images 2048 --png-side 1024 --workers 12 --threads 16 --epochs 4 --peak-tflops "$PEAK" 2>&1 | tee "$OUT/train_vit_base.txt"
grep -h RESULT "$OUT"/*.txt
