#!/usr/bin/env bash
# Regenerate the example diagrams in docs/ from the scenarios (needs Graphviz `dot` and fonts-liberation).
# Run from anywhere: bash docs/make-pictures.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -m mailhops export three-hops -o docs/three-hops-light.svg
python -m mailhops export three-hops -o docs/three-hops-dark.svg --theme dark
python -m mailhops export forwarding-loop -o docs/forwarding-loop-light.svg
python -m mailhops export forwarding-loop -o docs/forwarding-loop-dark.svg --theme dark
python -m mailhops export mx-fallback --topology -o docs/mx-fallback-topology-print.svg --theme print
