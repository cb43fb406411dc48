"""Segment playbooks: the RFM playbook of marketing practice, and one learned from a pilot.

Also the name lookups that rule baselines share: actions by (offer, channel, slot, wording)
through the env's `action_table`, and the RFM segment of each context row through the
`segment_<name>` one-hot columns named in `context_names`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from nbasim.policies.base import Fixed, Policy, PolicyError, epsilon_greedy, sample
from nbasim.policies.base import Params as BaseParams

ActionTable = dict[str, tuple[str, ...]]
KEYS = ("offer", "channel", "slot", "wording")


class ActionSpec(BaseParams):
    """One catalog action named by its parts, e.g. win_back by email in the morning."""

    offer: str
    """Offer name, e.g. "discount_10", "loyalty_x2", "win_back"."""
    channel: str = "email"
    """Channel: email, sms, push or phone."""
    slot: str = "morning"
    """Send-time slot: morning, midday or evening."""
    wording: str = "rational"
    """Wording: rational, emotional, urgency or social_proof."""

    def __str__(self) -> str:
        return f"{self.offer} by {self.channel}, {self.slot}, {self.wording}"


class Catalog:
    """The names of every action, read from an env's `action_table`.

    Args:
        table: {"offer", "channel", "slot", "wording"} -> (n_actions,) names; row 0 is "none".
            An optional "target" names the category or store of targeted offers; a rule's
            offer means the variant whose target is "none".
        n_actions: number of actions the policy was built with.
        policy: name of the policy, for error messages.

    Raises:
        PolicyError: no table, a missing key, a length other than `n_actions`, or a row 0
            that is not all "none".
    """

    def __init__(self, table: Mapping[str, Sequence[str]] | None, n_actions: int, policy: str):
        if table is None:
            raise PolicyError(f"policy {policy}: action_table is required: pass the env's "
                              "env.unwrapped.action_table")
        missing = [k for k in KEYS if k not in table]
        if missing:
            raise PolicyError(f"policy {policy}: action_table lacks {', '.join(missing)}: "
                              f"expected keys {', '.join(KEYS)}")
        for k in KEYS:
            if len(table[k]) != n_actions:
                raise PolicyError(f"policy {policy}: action_table[{k!r}] has {len(table[k])} "
                                  f"names: expected n_actions = {n_actions}")
            if table[k][0] != "none":
                raise PolicyError(f"policy {policy}: action_table[{k!r}][0] = "
                                  f"{table[k][0]!r}: row 0 must be 'none' (no action)")
        self.policy = policy
        self.names = {k: np.asarray(table[k], dtype=str) for k in KEYS}
        self.offers = tuple(dict.fromkeys(self.names["offer"][1:].tolist()))
        # A rule names an offer, not a target: it means the variant that names none.
        target = table.get("target") or ("none",) * n_actions
        self._index = {key: i for i, key in enumerate(zip(*(table[k] for k in KEYS),
                                                          strict=True))
                       if i and target[i] == "none"}

    def index(self, spec: ActionSpec | Literal["none"], field: str) -> int:
        """Index of the action `spec` ("none" is action 0).

        Raises:
            PolicyError: naming `field` when the combination is not in the catalog.
        """
        if spec == "none":
            return 0
        i = self._index.get((spec.offer, spec.channel, spec.slot, spec.wording))
        if i is None:
            have = "; ".join(f"{k}s: {', '.join(dict.fromkeys(self.names[k][1:].tolist()))}"
                             for k in KEYS)
            raise PolicyError(f"policy {self.policy}: {field} = {spec!s} is not in the action "
                              f"catalog; it holds {have}")
        return i


class Segments:
    """Which RFM segment each context row is in, from the `segment_<name>` one-hot columns.

    Args:
        names: context_names, one per context column.
        dim_context: length of a context vector.
        policy: name of the policy, for error messages.

    Attributes:
        names: segment names in column order; code `len(names)` means "no segment" (a row
            whose segment columns are all 0, such as a customer not yet joined).
    """

    def __init__(self, names: Sequence[str] | None, dim_context: int, policy: str):
        self.context_names = context_names(names, dim_context, policy)
        self.columns = [j for j, c in enumerate(self.context_names) if c.startswith("segment_")]
        if not self.columns:
            raise PolicyError(f"policy {policy}: context_names has no segment_<name> column; "
                              "pass the env's env.unwrapped.feature_names")
        self.names = tuple(self.context_names[j][len("segment_"):] for j in self.columns)

    def codes(self, x: np.ndarray) -> np.ndarray:
        """(n,) int64 segment index of each row of `x` (n, dim_context)."""
        one_hot = x[:, self.columns]
        codes = one_hot.argmax(axis=1)
        codes[one_hot.max(axis=1) < 0.5] = len(self.names)
        return codes.astype(np.int64)


def context_names(names: Sequence[str] | None, dim_context: int, policy: str) -> tuple[str, ...]:
    """Check that `names` names each of the `dim_context` context columns.

    Raises:
        PolicyError: no names, or a count other than `dim_context`.
    """
    if names is None:
        raise PolicyError(f"policy {policy}: context_names is required: pass the env's "
                          "env.unwrapped.feature_names")
    if len(names) != dim_context:
        raise PolicyError(f"policy {policy}: context_names has {len(names)} names: expected "
                          f"dim_context = {dim_context}")
    return tuple(names)


def restrict(actions: np.ndarray, eligible: np.ndarray | None) -> np.ndarray:
    """`actions` (n,) with every action not allowed by `eligible` (n, n_actions) set to 0."""
    if eligible is None:
        return actions
    ok = eligible[np.arange(actions.shape[0]), actions]
    return np.where(ok, actions, 0)


def _spec(offer: str, channel: str, slot: str, wording: str) -> ActionSpec:
    return ActionSpec(offer=offer, channel=channel, slot=slot, wording=wording)


# The default RFM playbook, after the segment tactics CRM teams commonly use:
# reward the best customers without giving margin away, broaden one-category buyers,
# reactivate the slipping with a time-limited incentive, win back the valuable lapsing,
# and leave the lost alone (a discount to them is mostly wasted, or wakes sleeping dogs).
DEFAULT_PLAYBOOK: dict[str, ActionSpec | Literal["none"]] = {
    "champions": _spec("loyalty_x2", "email", "morning", "emotional"),
    "loyal": _spec("loyalty_x2", "email", "morning", "emotional"),
    "potential_loyalists": _spec("cross_sell", "email", "evening", "rational"),
    "new": _spec("cross_sell", "email", "evening", "rational"),
    "promising": _spec("free_delivery", "email", "morning", "rational"),
    "need_attention": _spec("discount_10", "sms", "midday", "urgency"),
    "at_risk": _spec("win_back", "email", "morning", "emotional"),
    "cannot_lose": _spec("win_back", "sms", "midday", "emotional"),
    "hibernating": "none",
    "lost": "none",
}
DEFAULT_CART = _spec("cart_reminder", "email", "evening", "urgency")

Entry = ActionSpec | Literal["none"]


class RfmPlaybook(Fixed):
    """The RFM playbook: each customer gets the action its segment's row names.

    The segment is read from the `segment_<name>` columns of the context. The default table
    (`DEFAULT_PLAYBOOK`) is:

    | segment             | action                                          |
    |---------------------|-------------------------------------------------|
    | champions, loyal    | loyalty_x2 by email, morning, emotional         |
    | potential_loyalists | cross_sell by email, evening, rational          |
    | new                 | cross_sell by email, evening, rational          |
    | promising           | free_delivery by email, morning, rational       |
    | need_attention      | discount_10 by sms, midday, urgency             |
    | at_risk             | win_back by email, morning, emotional           |
    | cannot_lose         | win_back by sms, midday, emotional              |
    | hibernating, lost   | none                                            |

    and a customer with an open cart (`cart_open` column > 0.5) gets the `cart` action instead
    (default: cart_reminder by email, evening, urgency), as a triggered cart mail would.
    A row with no segment, or whose action is not eligible, gets action 0. pscore is 1.

    Params:
        action_table: the env's `action_table` (required).
        context_names: the env's `feature_names` (required).
        playbook: segment name -> {offer, channel, slot, wording} or "none"; entries given
            replace the default's, the others keep it. Channel, slot and wording default to
            email, morning, rational.
        cart: the action for open carts, or "none" to ignore carts.
    """

    class Params(BaseParams):
        """Parameters of `rfm_playbook`."""

        action_table: ActionTable | None = None
        context_names: tuple[str, ...] | None = None
        playbook: dict[str, Entry] = Field(default_factory=dict)
        cart: Entry = DEFAULT_CART

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        p = self.params
        catalog = Catalog(p.action_table, self.n_actions, self.name)
        self.segments = Segments(p.context_names, self.dim_context, self.name)
        unknown = sorted(set(p.playbook) - set(self.segments.names))
        if unknown:
            raise PolicyError(f"policy {self.name}: playbook segment {unknown[0]!r}: allowed "
                              f"{', '.join(self.segments.names)}")
        table = {**DEFAULT_PLAYBOOK, **p.playbook}
        self.by_segment = np.zeros(len(self.segments.names) + 1, dtype=np.int64)
        for k, seg in enumerate(self.segments.names):
            self.by_segment[k] = catalog.index(table.get(seg, "none"), f"playbook[{seg!r}]")
        self.cart_action = catalog.index(p.cart, "cart")
        self.cart_column = None
        if self.cart_action:
            names = self.segments.context_names
            if "cart_open" not in names:
                raise PolicyError(f"policy {self.name}: cart = {p.cart!s} needs a cart_open "
                                  "column in context_names; set cart='none' otherwise")
            self.cart_column = names.index("cart_open")

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Each row's segment's action from the playbook, where eligible."""
        actions = self.by_segment[self.segments.codes(contexts)]
        if self.cart_column is not None:
            actions = np.where(contexts[:, self.cart_column] > 0.5, self.cart_action, actions)
        return restrict(actions, eligible), np.ones(contexts.shape[0])


class SegmentGreedy(Policy):
    """Learn a playbook: a random pilot, then each segment's best-paying action.

    For the first `pilot_decisions` decisions seen by `update`, every row gets an action drawn
    uniformly among its eligible actions in `candidates` plus action 0 (pscore 1 / number of
    those). When the pilot is complete the table is frozen: for each segment, the action with
    the highest mean observed reward among those tried at least `min_count` times in that
    segment, provided it beats action 0 (whose mean counts as 0 until it reaches `min_count`);
    otherwise no action. Later rows get their segment's action (or, where it is not eligible,
    the next best qualified one, else 0), with pscore 1. Rows without a segment form a group
    of their own.

    The pilot must be large enough to try each candidate `min_count` times in each segment:
    about n_segments x (len(candidates) + 1) x min_count decisions.

    Params:
        context_names: the env's `feature_names` (required).
        pilot_decisions: decisions in the pilot, >= 1 (default 5000).
        candidates: action indices tried in the pilot (default: every action).
        min_count: tries of an action in a segment before it can be chosen, >= 1 (default 30).
    """

    class Params(BaseParams):
        """Parameters of `segment_greedy`."""

        context_names: tuple[str, ...] | None = None
        pilot_decisions: Annotated[int, Field(ge=1)] = 5000
        candidates: tuple[int, ...] | None = None
        min_count: Annotated[int, Field(ge=1)] = 30

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        p = self.params
        self.segments = Segments(p.context_names, self.dim_context, self.name)
        self.tried = np.ones(self.n_actions, dtype=bool)
        if p.candidates is not None:
            bad = [a for a in p.candidates if not 0 <= a < self.n_actions]
            if bad or not p.candidates:
                raise PolicyError(f"policy {self.name}: candidates = {list(p.candidates)}: "
                                  f"expected action indices 0 to {self.n_actions - 1}, at least "
                                  "one")
            self.tried[:] = False
            self.tried[[0, *p.candidates]] = True
        groups = len(self.segments.names) + 1
        self.sums = np.zeros((groups, self.n_actions))
        self.counts = np.zeros((groups, self.n_actions), dtype=np.int64)
        self.seen = 0
        self.scores: np.ndarray | None = None

    @property
    def learned(self) -> dict[str, int] | None:
        """Segment name -> chosen action (0 = none) once the pilot is over, else None."""
        if self.scores is None:
            return None
        best = self.scores.argmax(axis=1)
        return dict(zip(self.segments.names, best[:-1].tolist(), strict=True))

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Random during the pilot, then each segment's best action."""
        n = contexts.shape[0]
        if self.scores is None:
            allowed = np.broadcast_to(self.tried, (n, self.n_actions))
            if eligible is not None:
                allowed = allowed & eligible
            return sample(self.rng, allowed / allowed.sum(axis=1, keepdims=True))
        scores = self.scores[self.segments.codes(contexts)]
        return epsilon_greedy(self.rng, scores, eligible, 0.0)

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """Count rewards per segment and action during the pilot."""
        if self.scores is not None:
            return
        codes = self.segments.codes(contexts)
        np.add.at(self.sums, (codes, actions), rewards)
        np.add.at(self.counts, (codes, actions), 1)
        self.seen += contexts.shape[0]
        if self.seen >= self.params.pilot_decisions:
            enough = self.counts >= self.params.min_count
            mean = self.sums / np.maximum(self.counts, 1)
            scores = np.where(enough, mean, -np.inf)
            scores[:, 0] = np.where(enough[:, 0], mean[:, 0], 0.0)
            self.scores = scores
