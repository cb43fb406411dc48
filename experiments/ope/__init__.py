"""Off-policy evaluation: estimators, their reward model, targets and validation.

The library (`inputs`, `estimators`, `evaluation`, `reward_model`, `log`, `targets`) is
re-exported here, so `ope.evaluate(...)` and `ope.ips(...)` read as before; `command` is
`nbasim ope` and `validate` is `nbasim ope-validate`.
"""

from nbasim.experiments.ope.estimators import (
    DEFAULT_TAU,
    ESTIMATOR_FUNCTIONS,
    LEVEL,
    Terms,
    direct_method,
    doubly_robust,
    estimate,
    importance_weights,
    ips,
    model_terms,
    self_normalized_doubly_robust,
    snips,
    switch_doubly_robust,
)
from nbasim.experiments.ope.evaluation import (
    bootstrap_ci,
    diagnostics,
    evaluate,
    evaluate_terms,
    unseen_target_mass,
)
from nbasim.experiments.ope.inputs import (
    ESTIMATORS,
    MODEL_BASED,
    OPEError,
    check_action_dist,
    check_actions,
    check_estimators,
    check_pscores,
    check_rewards,
    check_target_pscores,
)
from nbasim.experiments.ope.reward_model import (
    RidgeRewardModel,
    cross_fit,
    fit_reward_model,
    predict_folds,
)

__all__ = [
    "DEFAULT_TAU", "ESTIMATORS", "ESTIMATOR_FUNCTIONS", "LEVEL", "MODEL_BASED", "OPEError",
    "RidgeRewardModel", "Terms", "bootstrap_ci", "check_action_dist", "check_actions",
    "check_estimators", "check_pscores", "check_rewards", "check_target_pscores", "cross_fit",
    "diagnostics", "direct_method", "doubly_robust", "estimate", "evaluate", "evaluate_terms",
    "fit_reward_model", "importance_weights", "ips", "model_terms", "predict_folds",
    "self_normalized_doubly_robust", "snips", "switch_doubly_robust", "unseen_target_mass",
]
