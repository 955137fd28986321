#!/usr/bin/env bash
# Check that `cardioliquid score` and `cardioliquid evaluate` write the same bytes at two
# revisions: BASE_REV and the checkout's HEAD (or HEAD_REV), each checked out into a temporary
# git worktree and run with this checkout's virtual environment.
#
#   CARDIOLIQUID_DATA_MIRROR=/path/to/data pipelines/check_outputs_unchanged.sh BASE_REV [HEAD_REV]
#
# Runs: evaluate arrhythmia on MIT-BIH DS2 (JSON + report); evaluate seizure on the CHB-MIT
# excerpts with the shipped seizure model (default event rule) and on ten Bonn segments with
# seizure-1ch (flags overriding the rule); score three MIT-BIH records (whole, and in 30 s
# segments as a stream) and the same EEG files. Every output file is compared with `cmp`; summary.json is
# compared without its clock fields (wall time, throughput, finish time), which differ on
# every run. Exit status 0 when all are identical. Takes about 5 minutes on 2 cores.
set -euo pipefail

BASE_REV=${1:?usage: $0 BASE_REV [HEAD_REV]}
HEAD_REV=${2:-HEAD}
REPO=$(git rev-parse --show-toplevel)
PY=${PYTHON:-$REPO/.venv/bin/python}
DATA=${CARDIOLIQUID_DATA_MIRROR:?set CARDIOLIQUID_DATA_MIRROR to the data folder}
export MPLBACKEND=Agg
WORK=$(mktemp -d /tmp/check_outputs.XXXXXX)
cleanup() {
    for side in base head; do
        [ -d "$WORK/$side/tree" ] && git -C "$REPO" worktree remove --force "$WORK/$side/tree"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

EEG="$DATA/eeg/chbmit_edf"
ECG=("$DATA/mitdb/100" "$DATA/mitdb/201" "$DATA/mitdb/203")
BONN=("$DATA"/bonn/E_S/S00[1-5].txt "$DATA"/bonn/A_Z/Z00[1-5].txt)  # seizure-1ch reads one channel

step() {  # step NAME CMD...: stdout to NAME.txt, exit status to NAME.rc (both compared)
    local name=$1; shift
    local rc=0
    "$@" > "$name.txt" || rc=$?
    echo "$rc" > "$name.rc"
}

run_side() {  # run_side SIDE REV: every command, outputs under $WORK/SIDE/out
    local side=$1 rev=$2
    local tree="$WORK/$side/tree" out="$WORK/$side/out"
    mkdir -p "$out"
    git -C "$REPO" worktree add --quiet --detach "$tree" "$rev"
    # The tree's package shadows the editable install of this checkout.
    local cl=(env PYTHONPATH="$tree" "$PY" -m cardioliquid.cli)
    echo "== $side ($(git -C "$tree" rev-parse --short HEAD))"
    cd "$out"  # relative output paths: the printed "wrote ..." lines match
    step eval_ds2 "${cl[@]}" evaluate arrhythmia --data "$DATA/mitdb" --records DS2 \
        --no-progress --json eval_ds2.json --report eval_ds2.md
    step eval_sz "${cl[@]}" evaluate seizure --data "$EEG" --no-progress \
        --json eval_sz.json --report eval_sz.md
    step eval_sz1ch "${cl[@]}" evaluate seizure --data "${BONN[@]}" --model seizure-1ch \
        --threshold 0.4 --smooth-windows 1 --min-duration 4 --no-progress --json eval_sz1ch.json
    step score_ecg "${cl[@]}" score "${ECG[@]}" --task arrhythmia --out score_ecg --no-progress
    step score_ecg_seg "${cl[@]}" score "${ECG[@]}" --task arrhythmia --segment-s 30 \
        --out score_ecg_seg --no-progress
    step score_eeg "${cl[@]}" score "$EEG" --task seizure --out score_eeg --no-progress
    step score_eeg_1ch "${cl[@]}" score "${BONN[@]}" --task seizure --model seizure-1ch \
        --threshold 0.4 --smooth-windows 1 --min-duration 4 --out score_eeg_1ch --no-progress
    for s in score_*/summary.json; do  # drop the clock fields
        "$PY" - "$s" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
for k in ("wall_time_s", "finished_at", "throughput_signal_hours_per_s", "realtime_factor"):
    doc.pop(k, None)
doc["model"].pop("path", None)  # the temporary tree's path
json.dump(doc, open(sys.argv[1], "w"), indent=1, sort_keys=True)
EOF
    done
    cd "$REPO"
}

run_side base "$BASE_REV"
run_side head "$HEAD_REV"

status=0
n=0
cd "$WORK/base/out"
while IFS= read -r f; do
    n=$((n + 1))
    if [ ! -f "$WORK/head/out/$f" ]; then
        echo "MISSING at $HEAD_REV: $f"; status=1
    elif ! cmp -s "$f" "$WORK/head/out/$f"; then
        echo "DIFFERS: $f"; status=1
    fi
done < <(find . -type f | sort)
extra=$(cd "$WORK/head/out" && find . -type f | sort | comm -13 <(find "$WORK/base/out" -type f \
    -printf './%P\n' | sort) -)
[ -n "$extra" ] && { echo "ONLY at $HEAD_REV: $extra"; status=1; }
if [ $status -eq 0 ]; then
    echo "identical: $n files ($BASE_REV vs $HEAD_REV)"
fi
exit $status
