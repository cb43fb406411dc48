"""`causal_vw`: Vowpal Wabbit on the uplift reward, choosing among a shortlist.

Scoring every message of a large catalog for every customer every day is more than VW's
per-example loop can afford (433 messages x 50,000 customers x 180 days in `learning.toml`).
So the decision is made in two stages, as recommenders retrieve then rank:

1. A screen, `causal_lints` with one posterior sample (`CausalLinTS.shortlist`), proposes per
   customer the `shortlist` messages of highest sampled uplift, and only for customers where
   one clears its hurdle; everyone else gets no action for sure, without a VW call.
2. VW's `--cb_explore_adf` (the `vw` adapter, with its exploration) chooses among no action
   and that shortlist, learning the uplift over the same action features with its own
   quadratic context x action model.

Both stages learn the `uplift_opened` reward: the screen from every message sent, VW from its
own decisions. The pscore is VW's probability of the chosen action given the shortlist. The
shortlist is a function of the context and of the screen's posterior sample of that call, so
the pscore is exact given that sample, which is drawn independently of the customers'
outcomes: for off-policy estimates it is a valid propensity for target policies that choose
within the shortlists, and, as for any policy that gives some messages probability 0, blind
to the value of messages it never lists.

Rewards arrive days after the decisions (the attribution window), one batch per decision day:
the shortlists of the last `_KEPT` batches are kept, keyed by the batch's contexts, so that VW
learns each row over the candidates it chose among. A batch not found (after pickling, or
contexts never acted on) is learned over the whole catalog, as the `vw` adapter does; a
pickled `causal_vw` does not carry the shortlists of batches still waiting for their rewards.
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from nbasim.policies.causal import CausalLinTS, CausalParams
from nbasim.policies.vw import VWPolicy, _unpickle
from nbasim.policies.vw_params import VWParams

_KEPT = 64
"""Decision batches whose shortlists are kept for learning (days of attribution window, with
room to spare)."""


class CausalVWParams(VWParams):
    """Parameters of `causal_vw`: those of `vw` (`VWParams`), plus the screen's.

    Attributes:
        shortlist: messages VW chooses among besides no action, 1 to 64 (3). VW's time grows
            with it.
        screen: parameters of the screen, as for `causal_lints` (`CausalParams`); its
            `n_samples` must be 1 and its `explore` 0 (VW explores).
    """

    shortlist: int = Field(3, ge=1, le=64)
    screen: CausalParams = CausalParams(n_samples=1)

    @field_validator("screen", mode="before")
    @classmethod
    def _one_sample_by_default(cls, value: Any) -> Any:
        return {"n_samples": 1, **value} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _one_sample_no_exploration(self) -> CausalVWParams:
        if self.screen.n_samples != 1 or self.screen.explore != 0:
            raise ValueError("screen: n_samples must be 1 and explore 0 (VW explores), not "
                             f"n_samples = {self.screen.n_samples}, "
                             f"explore = {self.screen.explore}")
        return self


class CausalVW(VWPolicy):
    """Vowpal Wabbit on the `uplift_opened` reward, over a shortlist from a causal screen.

    See the module docstring. `action_dist` is VW's pmf over each row's shortlist.
    """

    Params = CausalVWParams
    objective: ClassVar[str | None] = "uplift_opened"

    def __init__(self, *, action_features: np.ndarray, dim_context: int, seed: int,
                 **params: Any):
        super().__init__(action_features=action_features, dim_context=dim_context, seed=seed,
                         **params)
        screen_seed = int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0])
        self._screen = CausalLinTS(action_features=action_features, dim_context=dim_context,
                                   seed=screen_seed, **self.params.screen.model_dump())
        self._kept: OrderedDict[bytes, tuple[np.ndarray, Any]] = OrderedDict()

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """VW's draw among no action and the screen's shortlist; no action where it is empty."""
        n = contexts.shape[0]
        short = self._screen.shortlist(contexts, eligible, self.params.shortlist)
        live = np.flatnonzero(short[:, 1:].any(axis=1))
        actions, pscores = np.zeros(n, dtype=np.int64), np.ones(n)
        pending = None
        if live.size:
            actions[live], pscores[live] = super().act(contexts[live], short[live])
            pending = self._pending
        self._kept[_key(contexts)] = (live, pending)
        while len(self._kept) > _KEPT:
            self._kept.popitem(last=False)
        return actions, pscores

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """The screen learns from every message; VW from the rows it chose for."""
        self._screen.update(contexts, actions, rewards, pscores)
        kept = self._kept.pop(_key(contexts), None)
        if kept is None:       # not acted on here: every row, over the whole catalog
            live, self._pending = np.arange(contexts.shape[0]), None
        else:
            live, self._pending = kept
        if live.size:
            super().update(contexts[live], actions[live], rewards[live], pscores[live])

    def action_dist(self, contexts: np.ndarray, eligible: np.ndarray | None = None,
                    ) -> np.ndarray:
        """(n, n_actions) VW's pmf over each row's shortlist; no action for sure without one.

        The shortlists come from one sample of a copy of the screen, so that asking changes
        nothing the policy will do: the distribution is conditional on that sample.
        """
        x = self._contexts(contexts)
        screen = copy.deepcopy(self._screen)
        short = screen.shortlist(x, self._eligible(eligible, x.shape[0]),
                                 self.params.shortlist)
        live = np.flatnonzero(short[:, 1:].any(axis=1))
        dist = np.zeros((x.shape[0], self.n_actions))
        dist[:, 0] = 1.0
        if live.size:
            dist[live] = super().action_dist(x[live], short[live])
        return dist

    def __reduce__(self):
        """As the `vw` adapter, plus the screen; the kept shortlists are not carried over."""
        fn, args = super().__reduce__()
        return _unpickle_causal, (*args, self._screen)


def _key(contexts: np.ndarray) -> bytes:
    return hashlib.blake2b(contexts.tobytes(), digest_size=16).digest()


def _unpickle_causal(cls: type[CausalVW], kwargs: dict, model: bytes, rng_state: dict,
                     screen: CausalLinTS) -> CausalVW:
    policy = _unpickle(cls, kwargs, model, rng_state)
    policy._screen = screen
    return policy
