#!/usr/bin/env bash
# Evaluate the shipped models with `cardioliquid evaluate`; JSON + Markdown + PNG land in
# pipelines/results/eval_*. Each JSON records the SHA-256 of the model file it scored.
# Usage: pipelines/evaluate_all.sh [arrhythmia|arrhythmia-adaptive|arrhythmia-second-lead|seizure ...]
#   (default: arrhythmia seizure; the patient-adaptive run fine-tunes once per DS2 record,
#    a few seconds each: about a minute for DS2 on 2 cores)
# Needs the data mirror: CARDIOLIQUID_DATA_MIRROR=/abs/path/to/shared/data (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
EVAL="${EVAL:-.venv/bin/cardioliquid} evaluate"
DATA="${CARDIOLIQUID_DATA_MIRROR:-../shared/data}"
OUT=pipelines/results
runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(arrhythmia seizure)
mkdir -p "$OUT"
for run in "${runs[@]}"; do
  case "$run" in
    arrhythmia)  # inter-patient headline: trained on DS1, tested on DS2
      $EVAL arrhythmia --data "$DATA/mitdb" --records DS2 --model arrhythmia \
        --json "$OUT/eval_arrhythmia_ds2.json" --report "$OUT/eval_arrhythmia_ds2.md" ;;
    arrhythmia-adaptive)  # EC57 patient-adaptive: first 5 min of labels, scored after
      $EVAL arrhythmia --data "$DATA/mitdb" --records DS2 --model arrhythmia \
        --calibrate-minutes 5 --json "$OUT/eval_arrhythmia_ds2_adaptive.json" \
        --report "$OUT/eval_arrhythmia_ds2_adaptive.md" ;;
    arrhythmia-second-lead)  # the same records read from their other lead (V1, V2, V4 or V5)
      $EVAL arrhythmia --data "$DATA/mitdb" --records DS2 --model arrhythmia --lead V1,V2,V4,V5 \
        --json "$OUT/eval_arrhythmia_ds2_second_lead.json" \
        --report "$OUT/eval_arrhythmia_ds2_second_lead.md" ;;
    seizure)  # chb03 is the shipped model's held-out patient; chb01 onsets are in-sample
      $EVAL seizure --data "$DATA"/eeg/chbmit_edf/chb03_*.edf --model seizure \
        --mode "held-out patient chb03 (excerpts)" \
        --json "$OUT/eval_seizure_chb03.json" --report "$OUT/eval_seizure_chb03.md"
      $EVAL seizure --data "$DATA"/eeg/chbmit_edf/chb01_*_onset.edf --model seizure \
        --mode "patient chb01 continuous onset excerpts (in-sample patient)" \
        --json "$OUT/eval_seizure_chb01_onsets.json" \
        --report "$OUT/eval_seizure_chb01_onsets.md" ;;
    *) echo "unknown run: $run" >&2; exit 2 ;;
  esac
done
