#!/usr/bin/env bash
# Train and export the three shipped models from their configs, timing each run.
# Usage: pipelines/train_all.sh [arrhythmia|seizure|seizure-1ch ...]   (default: all three)
# Needs the data mirror: CARDIOLIQUID_DATA_MIRROR=/abs/path/to/shared/data (or data pulled
# with `cardioliquid data pull`). Runs go to runs/<name>/ (config.yaml, metrics.csv, ckpts).
set -euo pipefail
cd "$(dirname "$0")/.."
TRAIN="${TRAIN:-.venv/bin/cardioliquid-train}"
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(arrhythmia seizure seizure-1ch)
mkdir -p pipelines/results
for name in "${models[@]}"; do
  start=$(date +%s)
  "$TRAIN" fit --config "pipelines/configs/${name}.yaml" \
    --export_to "cardioliquid/models/pretrained/${name}.safetensors"
  end=$(date +%s)
  echo "{\"model\": \"${name}\", \"train_wall_s\": $((end - start)), \"cpus\": $(nproc), \"finished_utc\": \"$(date -u +%FT%TZ)\"}" \
    > "pipelines/results/${name}_training_time.json"
  echo "${name}: trained in $((end - start)) s"
done
