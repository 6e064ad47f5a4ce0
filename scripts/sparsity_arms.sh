#!/bin/bash
# The sparsity-aware training arms of the README ("Sparsity-aware training"): each is the run
# in runs/long-p6 (the model shipped before, 50 epochs) copied to runs/sparsity/lam<L> and
# resumed for 3 decoder-stage epochs with the spike-rate penalty L x (A_l / A) / r_l per
# decoder layer (A_l: the accumulates its spikes cause in the next layer, r_l: its rate, both
# measured on the shipped model with `fsvae-fpga stats`).  Usage: scripts/sparsity_arms.sh 0 0.03 0.1
# then: python benchmarks/sparsity_pareto.py lam0=runs/sparsity/lam0/last.pt ...
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f runs/long-p6/last.pt ] || { echo "scripts/sparsity_arms.sh: runs/long-p6/last.pt (the 50-epoch run) is not here" >&2; exit 2; }
for lam in "$@"; do
  d=runs/sparsity/lam$lam
  if [ -e "$d" ]; then echo "$d exists: skipped (remove it to run this arm again)" >&2; continue; fi
  mkdir -p runs/sparsity && cp -r runs/long-p6 "$d"
  w=$(python3 -c "l=float('$lam'); print('{decoder_fc: %g, decoder.0: %g, decoder.1: %g, decoder.2: %g}' % (0.382*l, 0.479*l, 0.520*l, 1.080*l))")
  .venv/bin/fsvae-fpga train --resume "$d/last.pt" --epochs 53 --set train.decoder_epochs=3 \
      --set train.decoder_lr=0.0003 --set "train.spike_rate_penalty=$w" --out "$d" --no-progress
done
