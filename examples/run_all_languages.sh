#!/usr/bin/env bash
# The prototype's loop over all 102 FLEURS languages: labels, then the probe of every layer.
# Usage: examples/run_all_languages.sh [probe options, e.g. --model wavlm --device cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
python gather_data.py all
for n in $(seq 0 101); do
    python make_pitch_data.py "$n" && python linear_regress.py "$n" "$@"
done | tee linear_regress.log
