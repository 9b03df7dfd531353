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
python -m mailhops export three-hops --slide -o docs/three-hops-slide.png --dpi 72
python -m mailhops export forwarding-loop --slide -o docs/forwarding-loop-slide.png --dpi 72
python -m mailhops export spam-accept-then-bounce --slide -o docs/spam-accept-then-bounce-slide.png --dpi 72
python -m mailhops export enterprise --topology -o docs/enterprise-topology.png --dpi 48
python -m mailhops export three-hops --view headers --slide -o docs/three-hops-headers-view.png --dpi 72
