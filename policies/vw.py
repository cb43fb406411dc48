"""Vowpal Wabbit `--cb_explore_adf` behind the one policy interface, with a top-k slate option.

The catalog is learned through features, not one arm per action: every action is an
example whose namespace `a` holds its features (`f0`, `f1`, ... = `action_features[k]`, plus
an indicator `a<k>` with `action_ids=True`), the customer's context is the shared example's
namespace `c` (feature `i` = `contexts[:, i]`), and `interactions` (default `("ca",)`, the
quadratic c x a) let the score of an action depend on the customer. Exploration is VW's:
`exploration` picks epsilon-greedy, SquareCB, online cover, bagging, softmax or RND, each with
its own parameters (see `VWParams`).

How a decision is made, per row: VW predicts a pmf over the row's candidate actions, the
action is drawn from that pmf with the policy's own generator (`self.rng`), and its pscore is
VW's probability of it. With an eligibility mask only the eligible actions are passed to VW,
so VW's pmf is already the distribution over the allowed actions: nothing is restricted or
renormalised afterwards and the pscore is exactly the probability the draw used (VW's pmf sums
to 1 within float32 rounding; the draw is scaled by that sum). Rewards become VW costs
(cost = -reward) here and nowhere else.

Speed (batch size 1 is the hard case, most of it VW's own predict + learn): no context is
written as text. The action examples are parsed once, when the policy is built, and reused
for every row; each row's shared example is a long-lived example whose namespace `c` is
rewritten in place (`unsetup_example`, `erase_namespace`, `push_feature_list` with
pre-hashed feature ids, `setup_example`), which gives the same feature ids as the text
`shared |c 0:x0 1:x1 ...` would, with the exact float32 values instead of VW's text float
parser. Learning needs a labelled copy of the chosen action, swapped into the example list
for the duration of `learn_multi`; VW appends to an example's label and never clears it, so
every new (action, cost, probability) needs an example of its own. It is parsed into an
example of a second, scratch workspace's pool (same arguments, hence the same features as the
action's own example) and given back to that pool (`finish_example`) right after learning,
so the next label reuses the same warm example instead of a new one; the scratch workspace
never learns and is never saved, and the learning workspace, which never sees
`finish_example`, keeps exactly the statistics and model of `learn_multi` alone. A label seen
twice (epsilon-greedy's few probabilities with binary rewards, bagging's fractions) is kept
and reused from then on. SquareCB regresses on costs without importance weights: before
learning, VW 9 sets the probability of every label in the list to 1 except the last example's
(its loop stops one short), so for SquareCB a label anywhere but last is kept under (action,
cost) alone and serves every probability, which makes SquareCB's labels recur as
epsilon-greedy's do; a label in last place keeps its probability in the key, and VW never
rewrites it there (`test_squarecb_ignores_probabilities_but_the_last` checks VW on both).
One row with every action eligible, one customer at a time, takes a short path through `act`
and `update`, without the batch's lists; the base class checks such small inputs on Python
values.

Batches: `act` keeps each row's shared example (up to `_POOL` rows) and its candidate list;
`update` with the same contexts (compared byte for byte) sets the labels and learns on them,
over each row's candidate list and slate from `act`; for a batch larger than the pool it
rewrites the shared examples from the contexts first, and with other contexts it learns over
the whole catalog. An `act` that no `update` follows is simply dropped by the next
`act`: there is nothing to finish.

Top-k (`top_k=k > 1`, e.g. five offers in a loyalty app): the interface is unchanged,
`act -> (actions (n,), pscores (n,))` gives the slate's first slot (the headline offer) with
its exact probability, and the whole slate is `last_slate` (n, k) int64 with the conditional
probability of each slot in `last_slate_pscores` (n, k); the slate's probability is their
product. Slots are filled in order like VW's conditional contextual bandit: slot j is a
cb_explore_adf decision over the eligible actions not yet in the slate, drawn from VW's pmf
over them. Action 0 (no action) means no contact: it may only be drawn for slot 0, and then
the rest of the slate is -1; a slate shorter than k (too few eligible actions) is padded with
-1. `update` learns from the slate's feedback: when the row's action is the pending slate's
first slot, every slot becomes one cb_explore_adf learning example over its own candidate set,
labelled with the row's reward (the slate's outcome, as VW's `--slates` attributes one global
reward to every slot) and that slot's conditional probability; otherwise the row is learned as
a single decision.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pylibvw
import vowpalwabbit

from nbasim.policies.base import Policy, PolicyError
from nbasim.policies.vw_params import NS_ACTION, NS_CONTEXT, VWParams, vw_arguments

_CB = int(pylibvw.vw.lContextualBandit)
# Rows whose shared example `act` keeps for `update` (one VW example is about 31 KB).
_POOL = 512
# Labelled action examples kept for reuse, keyed by (action, cost, probability), and how many
# labels seen once are remembered, so that a label is kept from its second sighting on.
_LABELS = 256
_SEEN = 4096

_unsetup = pylibvw.vw.unsetup_example
_setup = pylibvw.vw.setup_example
_predict = pylibvw.vw.predict_multi
_learn = pylibvw.vw.learn_multi
_parse = pylibvw.vw._parse
_finish = pylibvw.vw._finish_example_multi_ex

def _draw(pmf: list[float], u: float) -> int:
    """Index drawn from `pmf` (scaled by its sum) with the uniform `u` in [0, 1)."""
    cum = list(itertools.accumulate(pmf))
    j = bisect.bisect_right(cum, u * cum[-1])
    if j >= len(pmf):  # u * sum rounded up to the sum: the last action with mass
        j = max(i for i, q in enumerate(pmf) if q > 0)
    return j


class _Pending:
    """What `act` leaves for `update`: the contexts' bytes, candidates and slates per row."""

    __slots__ = ("n", "xbytes", "cands", "slates")

    def __init__(self, n: int, xbytes: bytes, cands: list | None, slates: list | None):
        self.n, self.xbytes, self.cands, self.slates = n, xbytes, cands, slates


class VWPolicy(Policy):
    """Vowpal Wabbit contextual bandit with action features; see the module docstring.

    Args:
        action_features: (n_actions, dim_action) features of the catalog; row 0 is no action.
        dim_context: length of a context vector.
        seed: seed of the sampling generator; VW's `--random_seed` is derived from it.
        **params: see `VWParams`.

    Attributes:
        vw_arguments: the VW command line used.
        last_slate: (n, top_k) int64 slate of the last `act` (-1 pads), or None.
        last_slate_pscores: (n, top_k) conditional probability of each slot (0 on pads).
    """

    Params = VWParams

    def __init__(self, *, action_features: np.ndarray, dim_context: int, seed: int,
                 **params: Any):
        super().__init__(action_features=action_features, dim_context=dim_context, seed=seed,
                         **params)
        self.seed = int(seed)
        vw_seed = int(np.random.SeedSequence(self.seed).generate_state(1)[0])
        self.vw_arguments = vw_arguments(self.params, vw_seed)
        try:
            self._vw = vowpalwabbit.Workspace(self.vw_arguments)
        except Exception as e:  # VW raises plain RuntimeErrors
            raise PolicyError(f"policy vw: Vowpal Wabbit rejected {self.vw_arguments!r}: "
                              f"{e}") from None
        vw = self._vw
        ids = self.params.action_ids
        self._top_k = self.params.top_k
        self._lines = [_action_line(k, row, ids)
                       for k, row in enumerate(self.action_features.tolist())]
        self._acts = [pylibvw.example(vw, _CB, line) for line in self._lines]
        self._ns = ord(NS_CONTEXT)
        self._ns_hash = vw.hash_space(NS_CONTEXT)
        self._hashes = [vw.hash_feature(str(i), self._ns_hash) for i in range(dim_context)]
        self._pool: list[list] = []  # per row slot: [shared example] + action examples
        # Labelled examples come from a second workspace's example pool (module docstring).
        self._scratch = vowpalwabbit.Workspace(self.vw_arguments)
        self._labels: dict[tuple[int, float, float | None], Any] = {}
        self._seen: dict[tuple[int, float, float | None], None] = {}
        self._free_prob = self.params.exploration == "squarecb"
        self._pending: _Pending | None = None
        self._pool_holds: _Pending | None = None  # the `act` whose contexts the pool holds
        self.last_slate: np.ndarray | None = None
        self.last_slate_pscores: np.ndarray | None = None

    @classmethod
    def load(cls, path: str | Path, *, action_features: np.ndarray, dim_context: int,
             seed: int, **params: Any) -> VWPolicy:
        """A policy that starts from the model `save` wrote to `path`; params as when saved."""
        return cls(action_features=action_features, dim_context=dim_context, seed=seed,
                   model=str(path), **params)

    @property
    def slate_size(self) -> int:
        """Offers per decision (`top_k`); `policies.slates` describes the slate protocol."""
        return self._top_k

    def save(self, path: str | Path) -> None:
        """Write the VW model (weights and the state to resume learning) to `path`."""
        pylibvw.vw.save(self._vw, str(path))

    def close(self) -> None:
        """Release the VW workspace; the policy cannot be used afterwards."""
        vw = getattr(self, "_vw", None)
        if vw is None:
            return
        scratch = getattr(self, "_scratch", None)
        kept = list(getattr(self, "_labels", {}).values())
        self._acts, self._pool, self._labels, self._seen, self._pending = [], [], {}, {}, None
        self._vw = self._scratch = None
        if scratch is not None:
            _finish(scratch, kept)  # back to the scratch pool, which frees them with it
            scratch.finish()
        vw.finish()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def __reduce__(self):
        """Pickle as (init arguments, model bytes, generator state); VW's own RNG restarts."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.vw")
            self.save(path)
            model = Path(path).read_bytes()
        kwargs = self.params.model_dump(exclude={"model"}, by_alias=True)
        kwargs.update(action_features=self.action_features, dim_context=self.dim_context,
                      seed=self.seed)
        return _unpickle, (type(self), kwargs, model, self.rng.bit_generator.state)

    def action_dist(self, contexts: np.ndarray, eligible: np.ndarray | None = None,
                    ) -> np.ndarray:
        """VW's pmf per row without drawing or learning (for slates, the first slot's).

        Args:
            contexts: (n, dim_context) float.
            eligible: None, (n,) bool or (n, n_actions) bool, as in `act`.

        Returns:
            (n, n_actions) action_dist; 0 on ineligible actions, rows sum to 1 (float32).
        """
        x = self._contexts(contexts)
        n = x.shape[0]
        cands = self._candidates(self._eligible(eligible, n), n)
        dist = np.zeros((n, self.n_actions))
        exs = self._slot(0)
        shared = exs[0]
        for i, row in enumerate(x.tolist()):
            self._set_context(shared, row)
            cand = list(range(self.n_actions)) if cands is None or cands[i] is None \
                else cands[i]
            if len(cand) == 1:
                dist[i, cand[0]] = 1.0
                continue
            _predict(self._vw, [shared] + [self._acts[a] for a in cand])
            dist[i, cand] = shared.get_action_scores()
        self._pending = self._pool_holds = None  # the pool's first shared example was rewritten
        return dist

    # --- acting -------------------------------------------------------------------------

    def _slot(self, i: int) -> list:
        """The example list [shared] + actions of row slot `i`, created on first use."""
        pool, vw = self._pool, self._vw
        while len(pool) <= i:
            shared = pylibvw.example(vw, _CB, f"shared |{NS_CONTEXT}")
            _unsetup(vw, shared)
            shared.ensure_namespace_exists(self._ns)  # text with no feature leaves it out
            _setup(vw, shared)
            pool.append([shared, *self._acts])
        return pool[i]

    def _set_context(self, shared: Any, row: list[float]) -> None:
        """Rewrite the shared example's namespace `c` with one context row."""
        vw = self._vw
        _unsetup(vw, shared)
        shared.erase_namespace(self._ns)
        features = list(zip(self._hashes, row, strict=True))
        shared.push_feature_list(vw, self._ns, self._ns_hash, features)
        _setup(vw, shared)

    def _candidates(self, eligible: np.ndarray | None, n: int) -> list | None:
        """Per row None (every action) or the list of eligible actions; None if all rows are."""
        if eligible is None:
            return None
        full = eligible.all(axis=1)
        if full.all():
            return None
        return [None if f else np.flatnonzero(row).tolist()
                for f, row in zip(full, eligible, strict=True)]

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Ask VW for a distribution per row over its eligible actions and draw."""
        n = contexts.shape[0]
        if n == 1 and eligible is None and self._top_k == 1:
            # One customer at a time, the case where Python's overhead counts: the loop
            # below for one row, without the batch's lists, candidates and slates.
            rows, xbytes = self._act_input(contexts)
            exs = self._pool[0] if self._pool else self._slot(0)
            shared = exs[0]
            self._set_context(shared, rows[0])
            u = self.rng.random()  # the same draw as rng.random(1)[0]
            _predict(self._vw, exs)
            pmf = shared.get_action_scores()
            j = _draw(pmf, u)
            self._pending = self._pool_holds = _Pending(1, xbytes, None, None)
            return np.array([j], dtype=np.int64), np.array([pmf[j]])
        rows = contexts.tolist()
        cands = self._candidates(eligible, n)
        if self._top_k > 1:
            return self._act_slates(contexts, rows, cands)
        draws = self.rng.random(n).tolist()
        vw, acts = self._vw, self._acts
        actions, pscores = [0] * n, [1.0] * n
        pool = self._pool
        for i in range(n):
            exs = pool[i] if i < len(pool) else self._slot(i % _POOL)
            shared = exs[0]
            self._set_context(shared, rows[i])
            cand = None if cands is None else cands[i]
            if cand is not None:
                if len(cand) == 1:
                    actions[i] = cand[0]
                    continue
                exs = [shared] + [acts[j] for j in cand]
            _predict(vw, exs)
            pmf = shared.get_action_scores()
            j = _draw(pmf, draws[i])
            actions[i] = j if cand is None else cand[j]
            pscores[i] = pmf[j]
        self._pending = self._pool_holds = _Pending(n, contexts.tobytes(), cands, None)
        return np.array(actions, dtype=np.int64), np.array(pscores, dtype=np.float64)

    def _act_slates(self, x: np.ndarray, rows: list, cands: list | None,
                    ) -> tuple[np.ndarray, np.ndarray]:
        n, k = x.shape[0], self._top_k
        draws = self.rng.random((n, k)).tolist()
        vw, acts = self._vw, self._acts
        slate = np.full((n, k), -1, dtype=np.int64)
        slate_p = np.zeros((n, k))
        slates = []
        for i in range(n):
            exs = self._slot(i % _POOL)
            shared = exs[0]
            self._set_context(shared, rows[i])
            left = list(range(self.n_actions)) if cands is None or cands[i] is None \
                else list(cands[i])
            slots = []  # (candidates, position of the chosen one, its probability)
            for s in range(k):
                if not left:
                    break
                if len(left) == 1:
                    j, p = 0, 1.0
                else:
                    _predict(vw, [shared] + [acts[a] for a in left])
                    pmf = shared.get_action_scores()
                    j = _draw(pmf, draws[i][s])
                    p = pmf[j]
                a = left[j]
                slots.append((left, j, p))
                slate[i, s], slate_p[i, s] = a, p
                if a == 0:  # no contact: nothing else is shown
                    break
                left = [b for b in left if b != a and b != 0]
            slates.append(slots)
        self.last_slate, self.last_slate_pscores = slate, slate_p
        self._pending = self._pool_holds = _Pending(n, x.tobytes(), cands, slates)
        return slate[:, 0].copy(), slate_p[:, 0].copy()

    # --- learning -----------------------------------------------------------------------

    def _learn_one(self, exs: list, pos: int, action: int, cost: float, prob: float) -> None:
        """Learn on `exs` with the action at list position `pos + 1` labelled `0:cost:prob`.

        The labelled example is a kept one or is parsed into the scratch workspace's pool and
        given back after learning (see the module docstring): a new `pylibvw.example` per
        label would cost about half a VW round (allocation, then cold memory in learning).
        """
        # SquareCB: VW sets the probability of every label but the list's last to 1 before
        # learning, so there the probability is not part of what is learned (module docstring).
        free = self._free_prob and pos + 2 < len(exs)
        key = (action, cost, None if free else prob)
        labelled = self._labels.get(key)
        parsed = None
        if labelled is None:
            parsed = _parse(self._scratch, f"0:{cost!r}:{prob!r} {self._lines[action]}")
            labelled = parsed[0]
        plain = exs[pos + 1]
        exs[pos + 1] = labelled
        try:
            _learn(self._vw, exs)
        finally:
            exs[pos + 1] = plain
            if parsed is not None:
                self._keep_or_return(key, parsed)

    def _keep_or_return(self, key: tuple[int, float, float | None], parsed: list) -> None:
        """Keep a labelled example whose label was seen before; give a first one back."""
        seen, kept = self._seen, self._labels
        if key in seen:
            del seen[key]
            if len(kept) >= _LABELS:
                _finish(self._scratch, [kept.pop(next(iter(kept)))])
            kept[key] = parsed[0]
            return
        if len(seen) >= _SEEN:  # labels that do not recur (SquareCB's): start afresh
            seen.clear()
        seen[key] = None
        _finish(self._scratch, parsed)

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """Teach VW the chosen actions' costs (negative rewards) with their pscores."""
        n = contexts.shape[0]
        pend, self._pending = self._pending, None
        # The rows `act` saw: their candidate lists and slates still apply; their shared
        # examples still hold the contexts only when the batch fitted in the pool and no
        # later `act` or `action_dist` rewrote it (a subclass may hand back an older pending).
        match = pend is not None and pend.n == n and pend.xbytes == contexts.tobytes()
        held = match and pend is self._pool_holds
        if held and n == 1 and pend.cands is None and pend.slates is None:
            # One row over the whole catalog, whose shared example still holds it: the
            # loop below for one row.
            a = actions.item()
            self._learn_one(self._pool[0], a, a, -rewards.item(), pscores.item())
            return
        same = held and n <= _POOL
        rows = None if same else contexts.tolist()
        cands = pend.cands if match else None
        slates = pend.slates if match else None
        acts = self._acts
        pool = self._pool
        for i, (a, r, p) in enumerate(zip(actions.tolist(), rewards.tolist(),
                                          pscores.tolist(), strict=True)):
            cost = -r  # VW minimises cost; the rest of nbasim maximises reward
            exs = pool[i] if i < len(pool) else self._slot(i % _POOL)
            shared = exs[0]
            if not same:
                self._set_context(shared, rows[i])
            slots = None if slates is None else slates[i]
            if slots and slots[0][0][slots[0][1]] == a:
                for s, (left, j, q) in enumerate(slots):
                    self._learn_one([shared] + [acts[b] for b in left], j, left[j], cost,
                                    p if s == 0 else q)
                continue
            cand = None if cands is None else cands[i]
            if cand is not None and a in cand and len(cand) < self.n_actions:
                self._learn_one([shared] + [acts[b] for b in cand], cand.index(a), a, cost, p)
            else:
                self._learn_one(exs, a, a, cost, p)


def _action_line(k: int, features: list[float], ids: bool) -> str:
    """VW text of action `k`: `|a a<k> f0:v0 f1:v1 ...` (zero values left out, as VW does)."""
    parts = [f"|{NS_ACTION}"]
    if ids:
        parts.append(f"a{k}")
    parts += [f"f{j}:{v!r}" for j, v in enumerate(features) if v != 0]
    return " ".join(parts)


def _unpickle(cls: type[VWPolicy], kwargs: dict, model: bytes, rng_state: dict) -> VWPolicy:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.vw")
        Path(path).write_bytes(model)
        policy = cls(model=path, **kwargs)
    policy.rng.bit_generator.state = rng_state
    return policy

