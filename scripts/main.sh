#!/usr/bin/env bash
# The main job: install what is missing, then run one full research cycle offline on the
# embedded defaults (local Ray, agents as Ray actors, the Serve planner on SmolLM2-135M,
# embedded Qdrant, the local arXiv library, the bubblewrap sandbox, LaTeX) and end with a
# PDF. Extra arguments go to `nanoresearch run` (e.g. --topic "..." --user alice).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ $# -eq 0 ]; then
  set -- --topic "Does feature standardisation change which classifier (k-NN, SVM, logistic regression) is best for breast-cancer diagnosis?" --domain tabular
fi
exec nanoresearch run "$@"
