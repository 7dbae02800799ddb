#!/usr/bin/env bash
# Runs the PyTorch reference (bench/pytorch_reference.py, when torch is importable) and the
# Rust benchmark (examples/bench.rs) one after the other on this machine, with the same work,
# and writes the table comparing them to out/bench/bench.md.
#
#   bench/run_all.sh                      # 3 epochs, 200 sampler iterations, 2000 IWAE images
#   EPOCHS=1 ITERATIONS=50 IMAGES=300 bench/run_all.sh
#   PYTHON=/path/to/venv/bin/python bench/run_all.sh
#
# PyTorch: `pip install torch numpy`. Without it only the Rust figures are measured (against
# issue 7's PyTorch figures).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
out=${OUT:-out/bench}
epochs=${EPOCHS:-3}
iterations=${ITERATIONS:-200}
images=${IMAGES:-2000}
mkdir -p "$out"
torch_args=()
if "$python" -c "import torch, numpy" 2>/dev/null; then
    "$python" bench/pytorch_reference.py --epochs "$epochs" --iterations "$iterations" \
        --images "$images" --threads 2 --out "$out/pytorch.json"
    torch_args=(--torch-json "$out/pytorch.json")
else
    echo "torch is not importable by $python: measuring dlvm only" >&2
fi
cargo run --release --example bench -- --epochs "$epochs" --iterations "$iterations" \
    --images "$images" --out "$out" "${torch_args[@]}"
