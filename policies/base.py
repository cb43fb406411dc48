"""The one policy interface, its parameter validation, and the sampling every policy shares.

Every policy is built from `action_features` (n_actions, dim_action), `dim_context` and a
seed, plus its own parameters, and answers for a batch at once:

- `act(contexts, eligible=None, *, truth=None) -> (actions, pscores)`: `contexts` is
  (n, dim_context); `eligible` is None (every action allowed), (n,) bool (rows that may be
  contacted at all; the others get action 0) or (n, n_actions) bool (actions allowed per row;
  action 0 is always allowed); `truth` is (n, n_actions) true incremental margins, which only
  the oracle reads. `actions` is (n,) int64, `pscores` (n,) float64, the probability with
  which the policy chose each action, never 0.
- `update(contexts, actions, rewards, pscores, *, costs=None)`: learn from a batch of
  outcomes; `costs` (n,) is the money each action spent, which budget pacing reads.

Baselines ignore what they do not need, so callers never branch on the kind of policy. A
policy of your own subclasses `Policy` and implements both methods; the base checks every
input before they run.
"""

from __future__ import annotations

import abc
import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from nbasim.errors import NbasimError


class PolicyError(NbasimError):
    """A bad policy name, parameter or input; the message names it and what is allowed."""


class Params(BaseModel):
    """Base of every policy's parameters: frozen, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              arbitrary_types_allowed=True)


class Policy(abc.ABC):
    """The interface every policy implements: `act` and `update`, batched.

    A subclass implements `act(contexts, eligible)` and `update(contexts, actions, rewards,
    pscores)` (either may also take the keyword `truth`, respectively `costs`, if it reads
    it) and sets `Params` to a `Params` subclass for its parameters. Inputs reach those
    methods validated: `contexts` a finite (n, dim_context) float64 array, `eligible` None or
    an (n, n_actions) bool mask with action 0 (no action) always allowed, actions in range,
    finite rewards and pscores in (0, 1]. Register it with `register_policy` to use it by name
    in configs.

    Args:
        action_features: (n_actions, dim_action) action features; row 0 is no action.
        dim_context: length of a context vector.
        seed: seed of the policy's generator `self.rng`.
        **params: validated against the subclass's `Params` into `self.params`.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    needs_truth: ClassVar[bool | str] = False
    """Which truth a policy reads in `act`, if any: "margins" (the true incremental margins,
    env info["next"]["true_margins"]) or "values" (the true incremental values, "true_values"); True
    reads the margins. Callers then build envs with option truth=True (or truth set to that
    name alone: `nbasim.envs.episode.truth_option`) and pass that one on."""
    objective: ClassVar[str | None] = None
    """The env objective whose reward the policy is meant to learn (`causal_*`: "uplift_opened"), or
    None for whatever the experiment uses; runners build the policy's env with it."""
    # The small contexts the last `act` checked on Python values: (array, its bytes, its
    # rows). `update` on the same unchanged array need not check its values again, and `act`
    # itself may reuse the rows and bytes (`_act_input`).
    _acted: tuple[np.ndarray, bytes, list] | None = None

    def __init__(self, *, action_features: np.ndarray, dim_context: int, seed: int,
                 **params: Any):
        feats = np.asarray(action_features, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[0] < 2 or not np.isfinite(feats).all():
            raise PolicyError(f"action_features shape {feats.shape}: expected a finite "
                              "(n_actions, dim_action) array with n_actions >= 2")
        if isinstance(dim_context, bool) or not isinstance(dim_context, int | np.integer) \
                or dim_context < 1:
            raise PolicyError(f"dim_context = {dim_context!r}: expected an integer >= 1")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise PolicyError(f"seed = {seed!r}: expected an integer >= 0")
        try:
            self.params = self.Params(**params)
        except ValidationError as e:
            raise PolicyError(_describe(self.name or type(self).__name__, e)) from None
        self.action_features = feats
        self.n_actions, self.dim_action = feats.shape
        self.dim_context = int(dim_context)
        self.rng = np.random.default_rng(seed)

    def __init_subclass__(cls, **kwargs: Any):
        """Wrap the subclass's own `act` and `update` so that they receive checked inputs."""
        super().__init_subclass__(**kwargs)
        if "act" in cls.__dict__:
            cls.act = _checked_act(cls.__dict__["act"])
        if "update" in cls.__dict__:
            cls.update = _checked_update(cls.__dict__["update"])

    @abc.abstractmethod
    def act(self, contexts: np.ndarray, eligible: np.ndarray | None = None, *,
            truth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Choose an action per row.

        Args:
            contexts: (n, dim_context) float.
            eligible: None, (n,) bool rows that may be contacted, or (n, n_actions) bool.
            truth: (n, n_actions) true incremental margins (read only by the oracle).

        Returns:
            actions (n,) int64 and pscores (n,) float64 in (0, 1], the probability with
            which each action was chosen.
        """

    @abc.abstractmethod
    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray, *, costs: np.ndarray | None = None) -> None:
        """Learn from a batch: the contexts, the actions taken, their rewards and pscores.

        Args:
            contexts: (n, dim_context) as given to `act`.
            actions: (n,) the actions taken.
            rewards: (n,) their rewards.
            pscores: (n,) the probabilities with which they were chosen, in (0, 1].
            costs: (n,) money each action spent (budget pacing reads it), or None.
        """

    def _contexts(self, contexts: np.ndarray) -> np.ndarray:
        x = np.asarray(contexts, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim_context:
            raise PolicyError(f"contexts shape {x.shape}: expected (n, {self.dim_context})")
        if not _all_finite(x):
            raise PolicyError("contexts hold NaN or infinity")
        return x

    def _eligible(self, eligible: np.ndarray | None, n: int) -> np.ndarray | None:
        """None, or an (n, n_actions) bool mask with action 0 always allowed."""
        if eligible is None:
            return None
        e = np.asarray(eligible)
        if e.dtype != bool:
            raise PolicyError(f"eligible dtype {e.dtype}: expected bool")
        if e.shape == (n,):
            mask = np.ones((n, self.n_actions), dtype=bool)
            mask[~e, 1:] = False
            return mask
        if e.shape != (n, self.n_actions):
            raise PolicyError(f"eligible shape {e.shape}: expected ({n},) or "
                              f"({n}, {self.n_actions})")
        if e[:, 0].all():
            return e
        mask = e.copy()
        mask[:, 0] = True
        return mask

    def _act_input(self, contexts: np.ndarray) -> tuple[list[list[float]], bytes]:
        """(`contexts.tolist()`, `contexts.tobytes()`) inside `act`, as its check made them."""
        acted = self._acted
        if acted is not None and acted[0] is contexts:
            return acted[2], acted[1]
        return contexts.tolist(), contexts.tobytes()

    def _batch(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray, costs: np.ndarray | None) -> tuple:
        """Checked (contexts, actions int64, rewards, pscores, costs) of an `update` call."""
        x = self._contexts(contexts)
        n = x.shape[0]
        a = np.asarray(actions)
        if a.shape != (n,) or (n and a.dtype.kind not in "iu"):
            raise PolicyError(f"actions shape {a.shape} dtype {a.dtype}: expected ({n},) "
                              "integers")
        lo, hi = _min_max(a) if n else (0, 0)
        if lo < 0 or hi >= self.n_actions:
            raise PolicyError(f"action {a[(a < 0) | (a >= self.n_actions)][0]}: allowed 0 to "
                              f"{self.n_actions - 1}")
        r = _finite("rewards", rewards, n)
        p = _finite("pscores", pscores, n)
        lo, hi = _min_max(p) if n else (1, 1)
        if lo <= 0 or hi > 1:
            raise PolicyError(f"pscore {p[(p <= 0) | (p > 1)][0]}: allowed 0 < p <= 1")
        c = None if costs is None else _finite("costs", costs, n)
        return x, a.astype(np.int64), r, p, c


def _checked_act(fn: Callable) -> Callable:
    """`fn(self, contexts, eligible[, truth=])` called with checked contexts and mask."""
    takes_truth = "truth" in inspect.signature(fn).parameters

    @functools.wraps(fn)
    def act(self: Policy, contexts: np.ndarray, eligible: np.ndarray | None = None, *,
            truth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        rows = None if eligible is not None else _small_rows(contexts, self.dim_context)
        if rows is not None:
            x, mask = contexts, None
            self._acted = (x, x.tobytes(), rows)
        else:
            self._acted = None
            x = self._contexts(contexts)
            mask = self._eligible(eligible, x.shape[0])
        if takes_truth:
            return fn(self, x, mask, truth=truth)
        return fn(self, x, mask)
    return act


def _checked_update(fn: Callable) -> Callable:
    """`fn(self, contexts, actions, rewards, pscores[, costs=])` called with a checked batch."""
    takes_costs = "costs" in inspect.signature(fn).parameters

    @functools.wraps(fn)
    def update(self: Policy, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray, *, costs: np.ndarray | None = None) -> None:
        x, a, r, p, c = (_small_batch(self, contexts, actions, rewards, pscores, costs)
                         or self._batch(contexts, actions, rewards, pscores, costs))
        if takes_costs:
            fn(self, x, a, r, p, costs=c)
        else:
            fn(self, x, a, r, p)
    return update


class Fixed(Policy):
    """Base of the policies that do not learn: `update` checks its batch and ignores it."""

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """Learn nothing (the batch is still checked, so a bad one fails here too)."""


def sample(rng: np.random.Generator, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw one action per row from `dist` (n, n_actions), in proportion to its entries.

    Rows are meant to sum to 1; a rounding remainder is absorbed by each row's sum.

    Returns:
        actions (n,) int64 and their probabilities (n,).
    """
    return pick(dist, rng.random(dist.shape[0]))


def pick(dist: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`sample` with its uniforms given: row i takes the action where u[i] falls in its cumsum.

    Args:
        dist: (n, n_actions) action_dist.
        u: (n,) uniforms in [0, 1).

    Returns:
        actions (n,) int64 and their probabilities (n,).
    """
    cum = np.cumsum(dist, axis=1)
    u = u * cum[:, -1]
    a = (cum < u[:, None]).sum(axis=1)
    a = np.minimum(a, dist.shape[1] - 1)
    # Never land on a zero-probability action through rounding at the edge.
    p = dist[np.arange(dist.shape[0]), a]
    bad = p <= 0
    if bad.any():
        a[bad] = dist[bad].argmax(axis=1)
        p[bad] = dist[bad, a[bad]]
    return a.astype(np.int64), p


def epsilon_greedy(rng: np.random.Generator, scores: np.ndarray, eligible: np.ndarray | None,
                   explore: float) -> tuple[np.ndarray, np.ndarray]:
    """The best eligible score with probability 1 - `explore`, else uniform over eligible.

    A share `explore` of rows gets a uniformly random eligible action, the others their best
    eligible score (ties to the lowest index); pscore = (1 - explore) x 1{best} +
    explore / n_eligible, exactly. One pass over `scores`; no (n, n_actions) distribution is
    built.

    Args:
        rng: the policy's generator.
        scores: (n, n_actions), higher is better.
        eligible: None or (n, n_actions) bool.
        explore: share of uniform exploration in [0, 1].

    Returns:
        actions (n,) int64 and pscores (n,).
    """
    n, k = scores.shape
    best = (scores if eligible is None else np.where(eligible, scores, -np.inf)).argmax(axis=1)
    actions = best.astype(np.int64)
    n_eligible = np.full(n, k) if eligible is None else eligible.sum(axis=1)
    if explore > 0:
        rows = np.flatnonzero(rng.random(n) < explore)
        pick = np.minimum((rng.random(rows.size) * n_eligible[rows]).astype(np.int64),
                          n_eligible[rows] - 1)
        if eligible is None:
            actions[rows] = pick
        else:  # the pick-th eligible action of each exploring row
            rank = np.cumsum(eligible[rows], axis=1)
            actions[rows] = (rank <= pick[:, None]).sum(axis=1)
    pscores = (1.0 - explore) * (actions == best) + explore / n_eligible
    return actions, pscores


# Below this many values, checks run on a Python list: at batch size 1 numpy's per-call
# overhead (about 1-2 us per reduction) would dominate a VW round.
_SMALL = 32
# A call whose contexts hold at most this many values (a row of a typical context) is
# checked all at once on Python values (`_small_rows`, `_small_batch`); beyond that numpy's
# reductions are faster.
_FEW = 64
_F64, _I64 = np.dtype(np.float64), np.dtype(np.int64)


def _small_rows(contexts: np.ndarray, dim_context: int) -> list[list[float]] | None:
    """`contexts.tolist()` if it holds 1 to `_FEW` finite float64 values in rows, else None.

    What `Policy._contexts` accepts, checked on Python values for the common small case;
    None sends the contexts to `Policy._contexts`, which names what is wrong, if anything.
    """
    x = contexts
    if not (type(x) is np.ndarray and x.dtype is _F64 and x.ndim == 2
            and x.shape[1] == dim_context and 0 < x.size <= _FEW):
        return None
    rows = x.tolist()
    # A NaN or an infinity makes the sum non-finite (a finite overflow only sends the
    # contexts to the full check).
    return rows if math.isfinite(sum(map(sum, rows))) else None


def _small_batch(policy: Policy, contexts: np.ndarray, actions: np.ndarray,
                 rewards: np.ndarray, pscores: np.ndarray, costs: np.ndarray | None,
                 ) -> tuple | None:
    """`Policy._batch`'s result for a small valid batch of plain arrays, found cheaply; else None.

    At batch size 1 the full checks would cost a third of a VW round (a few numpy calls
    per array), so a batch of float64 arrays (int64 actions) whose contexts are those the
    last `act` checked, unchanged, or hold at most `_FEW` values is checked on Python
    values. Anything else, including any invalid value, gives None and goes through the
    full checks, which raise the error naming it: this path accepts only batches they
    accept, and never raises itself.
    """
    x, a, r, p, c = contexts, actions, rewards, pscores, costs
    array = np.ndarray
    if not (type(a) is array and type(r) is array and type(p) is array
            and (c is None or type(c) is array)
            and a.dtype is _I64 and r.dtype is _F64 and p.dtype is _F64):
        return None
    shape = a.shape
    if not (len(shape) == 1 and r.shape == shape and p.shape == shape
            and (c is None or (c.dtype is _F64 and c.shape == shape))
            and type(x) is array and x.dtype is _F64
            and x.shape == (shape[0], policy.dim_context) and 0 < shape[0] <= _FEW):
        return None
    acted = policy._acted
    if not ((acted is not None and acted[0] is x and acted[1] == x.tobytes())
            or _small_rows(x, policy.dim_context) is not None):
        return None
    al, rl, pl = a.tolist(), r.tolist(), p.tolist()
    # Comparisons with NaN are False and an infinite pscore exceeds 1; a NaN or an infinity
    # makes a sum non-finite (a finite overflow only sends the batch to the full checks).
    if len(al) == 1:
        valid = 0 <= al[0] < policy.n_actions and 0 < pl[0] <= 1 and math.isfinite(rl[0])
    else:
        valid = (min(al) >= 0 and max(al) < policy.n_actions and min(pl) > 0
                 and max(pl) <= 1 and math.isfinite(sum(pl)) and math.isfinite(sum(rl)))
    if not valid or (c is not None and not math.isfinite(sum(c.tolist()))):
        return None
    return x, a.copy(), r, p, c


def _all_finite(v: np.ndarray) -> bool:
    """True if `v` holds no NaN or infinity."""
    if v.size <= _SMALL:
        return all(map(math.isfinite, v.ravel().tolist()))
    # A NaN or an infinity makes the sum non-finite, so a finite sum proves the check; a sum
    # that overflows from finite values falls back to the elementwise test.
    return math.isfinite(v.sum()) or bool(np.isfinite(v).all())


def _min_max(v: np.ndarray) -> tuple[Any, Any]:
    """Smallest and largest value of a non-empty 1-d array."""
    if v.size <= _SMALL:
        values = v.tolist()
        return min(values), max(values)
    return v.min(), v.max()


def _finite(name: str, values: np.ndarray, n: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n,):
        raise PolicyError(f"{name} shape {v.shape}: expected ({n},)")
    if not _all_finite(v):
        raise PolicyError(f"{name} hold NaN or infinity")
    return v


def _describe(name: str, error: ValidationError) -> str:
    lines = []
    for e in error.errors():
        field = ".".join(str(x) for x in e["loc"]) or "params"
        got = e.get("input")
        lines.append(f"policy {name}: {field} = {got!r}: {e['msg']}")
    return "; ".join(lines)
