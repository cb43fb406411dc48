"""Baselines: the control, random, the mass mailing, and the classic targeting models.

- `no_action`: action 0 for everyone, the control.
- `random`: uniform over each row's eligible actions.
- `blanket`: one action to every eligible row, the mass mailing.
- `response_model`: the action to the rows most likely to respond (propensity, not uplift).
- `uplift_two_model`: the action to the rows whose predicted uplift is above a threshold.
- `arbitration`: Pega-style priority = propensity x value x business lever per action.

The segment baselines (`rfm_playbook`, `segment_greedy`) live in `policies.playbook`; the
learners (ridge and logistic regression) in `policies.models`.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from nbasim.policies import playbook
from nbasim.policies.base import Fixed, Policy, PolicyError, epsilon_greedy, sample
from nbasim.policies.base import Params as BaseParams
from nbasim.policies.models import Logistic, Ridge, sigmoid, with_intercept
from nbasim.policies.playbook import ActionSpec, ActionTable, Catalog
from nbasim.policies.slates import fill_by_offer

Share = Annotated[float, Field(ge=0.0, le=1.0)]

__all__ = ["Arbitration", "Blanket", "NoAction", "Random", "ResponseModel", "UpliftTwoModel"]


class NoAction(Fixed):
    """Action 0 for every row, pscore 1.

    Params:
        top_k: slate size it fills (default 1): its slates are empty (`policies.slates`), so
            it is the control of runs with slates too.
    """

    class Params(BaseParams):
        """Parameters of `no_action`."""

        top_k: Annotated[int, Field(ge=1, le=10)] = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.slate_size = self.params.top_k
        self.last_slate = self.last_slate_pscores = None

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Action 0 (no contact) for every row."""
        n = contexts.shape[0]
        if self.slate_size > 1:
            self.last_slate = np.full((n, self.slate_size), -1, dtype=np.int64)
            self.last_slate[:, 0] = 0
            self.last_slate_pscores = np.zeros((n, self.slate_size))
            self.last_slate_pscores[:, 0] = 1.0
        return np.zeros(n, dtype=np.int64), np.ones(n)


class Random(Fixed):
    """An action drawn uniformly among each row's eligible actions (action 0 included).

    pscore is 1 / (number of eligible actions of the row). No params.
    """

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """A uniformly random eligible action per row."""
        n = contexts.shape[0]
        if eligible is None:
            actions = self.rng.integers(self.n_actions, size=n, dtype=np.int64)
            return actions, np.full(n, 1.0 / self.n_actions)
        return sample(self.rng, eligible / eligible.sum(axis=1, keepdims=True))


class OneActionParams(BaseParams):
    """One catalog action named by its parts; defaults: discount_10 by email, morning."""

    action_table: ActionTable | None = None
    """The env's `action_table` (required)."""
    offer: str = "discount_10"
    """Offer name."""
    channel: str = "email"
    """Channel name."""
    slot: str = "morning"
    """Send-time slot name."""
    wording: str = "rational"
    """Wording name."""


def _one_action(policy: Policy) -> int:
    p = policy.params
    spec = ActionSpec(offer=p.offer, channel=p.channel, slot=p.slot, wording=p.wording)
    return Catalog(p.action_table, policy.n_actions, policy.name).index(
        spec, "offer/channel/slot/wording")


class Blanket(Fixed):
    """The mass mailing: the same action to every row where it is eligible, else action 0.

    pscore is 1.

    Params:
        action_table: the env's `action_table` (required).
        offer, channel, slot, wording: the action; default discount_10 by email in the
            morning, rational wording (a cheap channel and the shallowest discount). A
            combination not in the catalog is an error.
    """

    Params = OneActionParams

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action = _one_action(self)

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The blanket action wherever it is eligible, else action 0."""
        actions = np.full(contexts.shape[0], self.action, dtype=np.int64)
        return playbook.restrict(actions, eligible), np.ones(contexts.shape[0])


class TargetingParams(OneActionParams):
    """One action, sent to the rows a model picks, after a randomized warm-up."""

    warmup: Annotated[int, Field(ge=0)] = 2000
    """Decisions seen by update() before the model targets; until then a fair coin decides."""
    explore: Share = 0.1
    """After warm-up, share of rows decided by a fair coin instead of the model."""
    l2: Annotated[float, Field(gt=0.0)] = 1.0
    """Ridge penalty (prior precision) of the model."""


class Targeting(Policy):
    """Send one action to the rows `_target` picks; the rest get action 0.

    Each row where the action is eligible gets it with probability
    (1 - e) x target + e / 2, where e = `explore` (e = 1 during warm-up), and pscore is that
    probability, or its complement for action 0. Rows where it is not eligible get action 0
    with pscore 1.
    """

    Params = TargetingParams

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action = _one_action(self)
        self.seen = 0

    def _target(self, x: np.ndarray, can: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n = contexts.shape[0]
        can = np.ones(n, dtype=bool) if eligible is None else eligible[:, self.action]
        e = 1.0 if self.seen < self.params.warmup else self.params.explore
        target = self._target(contexts, can) if e < 1 else np.zeros(n, dtype=bool)
        p_send = np.where(can, (1 - e) * target + e / 2, 0.0)
        send = self.rng.random(n) < p_send
        actions = np.where(send, self.action, 0).astype(np.int64)
        return actions, np.where(send, p_send, 1.0 - p_send)


class ResponseModel(Targeting):
    """The response model: target who is likely to respond, not whom the action changes.

    A logistic regression of P(reward > 0 | context, sent the action) is fitted online
    (`models.Logistic`) on the rows that received the action. Rows are targeted when their
    predicted propensity is among the top `share` of the batch's rows where the action is
    eligible, or, if `threshold` is set, when it is at least `threshold`. Before `warmup`
    decisions the action is sent by a fair coin so that the model has data; after, a share
    `explore` of rows still is (see `Targeting` for the pscores).

    Params:
        action_table, offer, channel, slot, wording: the action, as in `blanket`.
        share: share of each batch's eligible rows to target, in [0, 1] (default 0.2).
            With one decision at a time (NextBestAction-v0) use `threshold` instead.
        threshold: target rows with propensity >= threshold instead (default None).
        warmup: decisions before targeting (default 2000).
        explore: share of fair-coin rows after warm-up (default 0.1).
        l2: prior precision of the logistic regression (default 1.0).
    """

    class Params(TargetingParams):
        """Parameters of `response_model`."""

        share: Share = 0.2
        threshold: Share | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.model = Logistic(1 + self.dim_context, self.params.l2)

    def propensity(self, contexts: np.ndarray) -> np.ndarray:
        """(n,) predicted P(reward > 0) if sent the action, for `contexts` (n, dim_context)."""
        return self.model.predict(with_intercept(self._contexts(contexts)))

    def _target(self, x: np.ndarray, can: np.ndarray) -> np.ndarray:
        p = self.model.predict(with_intercept(x))
        if self.params.threshold is not None:
            return p >= self.params.threshold
        rows = np.flatnonzero(can)
        k = int(np.ceil(self.params.share * rows.size))
        target = np.zeros(x.shape[0], dtype=bool)
        target[rows[np.argsort(-p[rows], kind="stable")[:k]]] = True
        return target

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """Refit the response model on the rows that received the action."""
        self.seen += contexts.shape[0]
        treated = actions == self.action
        self.model.update(with_intercept(contexts[treated]),
                          (rewards[treated] > 0).astype(np.float64))


class UpliftTwoModel(Targeting):
    """The two-model uplift learner (T-learner): target whom the action changes.

    Two ridge regressions of the reward on the context (`models.Ridge`): one on the rows that
    received the action, one on the rows that received action 0. The predicted uplift is
    their difference; rows are targeted when it exceeds `threshold` (in reward units, so the
    default 0 targets an expected gain net of the message cost the reward already holds).
    Before `warmup` decisions the action is sent by a fair coin (a randomized experiment);
    after, a share `explore` of rows still is, which keeps both models learning (see
    `Targeting` for the pscores).

    Params:
        action_table, offer, channel, slot, wording: the action, as in `blanket`.
        threshold: least predicted uplift to target a row (default 0.0).
        warmup: decisions before targeting (default 2000).
        explore: share of fair-coin rows after warm-up (default 0.1).
        l2: ridge penalty (default 1.0).
    """

    class Params(TargetingParams):
        """Parameters of `uplift_two_model`."""

        threshold: float = 0.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.treated = Ridge(1 + self.dim_context, self.params.l2)
        self.control = Ridge(1 + self.dim_context, self.params.l2)

    def uplift(self, contexts: np.ndarray) -> np.ndarray:
        """(n,) predicted reward if sent the action minus if not, for `contexts`."""
        design = with_intercept(self._contexts(contexts))
        return self.treated.predict(design) - self.control.predict(design)

    def _target(self, x: np.ndarray, can: np.ndarray) -> np.ndarray:
        design = with_intercept(x)
        return self.treated.predict(design) - self.control.predict(design) \
            > self.params.threshold

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """Refit the treated and the control model on their rows."""
        self.seen += contexts.shape[0]
        design = with_intercept(contexts)
        treated, control = actions == self.action, actions == 0
        self.treated.update(design[treated], rewards[treated])
        self.control.update(design[control], rewards[control])


# Expected margin of one accepted offer, for a basket of about 35 at a 40% margin (the
# default world's Gamma-Gamma mean p x gamma / (q - 1) = 6.25 x 15.44 / 2.74 = 35.2):
# 35 x 0.4 = 14, less the discount's share of the basket (35 x depth; win-back gives 15%),
# less about 2 for free delivery, double points and the second-store bonus.
DEFAULT_VALUES = {
    "discount_10": 10.5, "discount_20": 7.0, "discount_30": 3.5, "free_delivery": 12.0,
    "cross_sell": 14.0, "loyalty_x2": 12.0, "second_store_bonus": 12.0, "win_back": 8.75,
    "cart_reminder": 14.0,
}


class Arbitration(Policy):
    """Next-best-action arbitration as in Pega: priority = propensity x value x lever.

    Propensity is P(reward > 0) of the action, from one online logistic regression per offer
    (`models.Logistic`) on the context plus the action's channel, slot and wording one-hots,
    learned from the rows that received that offer. Value and lever are set per offer. Each
    row gets the eligible action of highest priority (ties to the lowest index), or action 0
    when none exceeds `min_priority`; a share `explore` of rows gets a uniformly random
    eligible action instead, so pscore = (1 - explore) x 1{greedy} + explore / n_eligible.
    Before any data every propensity is 0.5, so the first choices follow value x lever.

    Params:
        action_table: the env's `action_table` (required).
        values: offer -> value of one accepted offer, overriding `DEFAULT_VALUES` (margin of a
            basket of about 35 at 40%, net of the offer's cost: discount_10 10.5,
            discount_20 7, discount_30 3.5, free_delivery 12, cross_sell 14, loyalty_x2 12,
            second_store_bonus 12, win_back 8.75, cart_reminder 14).
        levers: offer -> business lever, >= 0 (default 1 for every offer).
        min_priority: priority of action 0 (default 0.0: always contact someone eligible).
        explore: share of uniformly random decisions, in [0, 1] (default 0.1).
        l2: prior precision of the logistic regressions (default 1.0).
        top_k: offers per decision (default 1); with k > 1 the policy fills slates
            (`policies.slates.fill_by_offer`: slot 1 as above, then the best action of each
            other offer by priority, above `min_priority`).
    """

    class Params(BaseParams):
        """Parameters of `arbitration`."""

        action_table: ActionTable | None = None
        values: dict[str, float] = Field(default_factory=dict)
        levers: dict[str, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
        min_priority: float = 0.0
        explore: Share = 0.1
        l2: Annotated[float, Field(gt=0.0)] = 1.0
        top_k: Annotated[int, Field(ge=1, le=10)] = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        p = self.params
        self.slate_size = p.top_k
        self.last_slate = self.last_slate_pscores = None
        catalog = Catalog(p.action_table, self.n_actions, self.name)
        self.offers = catalog.offers
        for field, given in (("values", p.values), ("levers", p.levers)):
            bad = sorted(set(given) - set(self.offers))
            if bad:
                raise PolicyError(f"policy {self.name}: {field} offer {bad[0]!r}: allowed "
                                  f"{', '.join(self.offers)}")
        values = {**DEFAULT_VALUES, **p.values}
        missing = [o for o in self.offers if o not in values]
        if missing:
            raise PolicyError(f"policy {self.name}: values lacks offer {missing[0]!r}: give "
                              "its value in values")
        self.weight = np.array([values[o] * p.levers.get(o, 1.0) for o in self.offers])
        names = catalog.names
        self.offer_code = np.array([self.offers.index(o) if i else -1
                                    for i, o in enumerate(names["offer"].tolist())])
        variants = [(k, v) for k in ("channel", "slot", "wording")
                    for v in dict.fromkeys(names[k][1:].tolist())]
        self.variant = np.array([[names[k][i] == v for k, v in variants]
                                 for i in range(self.n_actions)], dtype=np.float64)
        self.variant[0] = 0.0
        dim = 1 + self.dim_context + len(variants)
        self.models = [Logistic(dim, p.l2) for _ in self.offers]

    def propensities(self, contexts: np.ndarray) -> np.ndarray:
        """(n, n_actions) predicted P(reward > 0) of each action; column 0 is 0."""
        return self._propensities(self._contexts(contexts))

    def priorities(self, contexts: np.ndarray) -> np.ndarray:
        """(n, n_actions) propensity x value x lever; column 0 is `min_priority`."""
        return self._priorities(self._contexts(contexts))

    def _propensities(self, x: np.ndarray) -> np.ndarray:
        d, codes = 1 + self.dim_context, self.offer_code[1:]
        w = np.stack([m.weights for m in self.models])  # (n_offers, dim)
        # logit of action a = [1, x] . w_o[:d] + variant_a . w_o[d:], o the offer of a.
        bias = np.einsum("ij,ij->i", self.variant[1:], w[codes, d:])
        z = (with_intercept(x) @ w[:, :d].T)[:, codes] + bias
        out = np.zeros((x.shape[0], self.n_actions))
        out[:, 1:] = sigmoid(z)
        return out

    def _priorities(self, x: np.ndarray) -> np.ndarray:
        pri = self._propensities(x)
        pri[:, 1:] *= self.weight[self.offer_code[1:]]
        pri[:, 0] = self.params.min_priority
        return pri

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Epsilon-greedy on propensity x value x lever among the eligible actions."""
        priorities = self._priorities(contexts)
        actions, pscores = epsilon_greedy(self.rng, priorities, eligible, self.params.explore)
        if self.slate_size > 1:
            self.last_slate, self.last_slate_pscores = fill_by_offer(
                priorities, eligible, self.offer_code, actions, pscores, self.slate_size,
                self.params.min_priority)
        return actions, pscores

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """Refit the propensity model of each action on its rows."""
        codes = self.offer_code[actions]
        for j, model in enumerate(self.models):
            rows = codes == j
            if rows.any():
                design = np.hstack([with_intercept(contexts[rows]), self.variant[actions[rows]]])
                model.update(design, (rewards[rows] > 0).astype(np.float64))
