"""Seeded experiment: audio classification on precomputed log-mel / MFCC / cepstral features.

Run: OMP_NUM_THREADS=1 python run.py   (reads config.json, data/<dataset>.npz)
Slots (filled by the coding agent, validated before they get here):
  config.json "method"    -> {"name", "family", "params", "steps"} of the proposed method
  config.json "ablations" -> variants of the method (e.g. one preprocessing step dropped)
  method.py (optional)    -> build_model(seed, params) for family "custom"
Writes metrics.json (method, dataset, metric, value, seed, split) and figures/results.png.
"""
from nr_common import finish, load_config, run_supervised

if __name__ == "__main__":
    cfg = load_config()
    finish(run_supervised(cfg), cfg)
