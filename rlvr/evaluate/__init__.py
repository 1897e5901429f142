"""Evaluation: `rlvr eval` runs (`run`: generate for a dataset, score, write the run directory),
eval suites (`suite`, `suite_run`, `suite_report`: pass@k, maj@k, bootstrap intervals, two
models compared), probe packs (`probes`: verifier hack rates, policy susceptibility), their
metrics (`metrics`), and the scoring trainers share (`scoring`: score a model on rows, held-out
accuracy once per launch). May import everything below the trainers; never a trainer.
"""

from rlvr.evaluate.run import EvalConfig, EvalResult, evaluate
from rlvr.evaluate.scoring import Scored, held_out_accuracy, score_model

__all__ = ["EvalConfig", "EvalResult", "Scored", "evaluate", "held_out_accuracy", "score_model"]
