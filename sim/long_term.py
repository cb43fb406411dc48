"""The long-term truth: an action's true incremental margin net of the future value it moves.

The myopic truth (`response.Truth.incremental_margin`) counts what a message earns within its
attribution window. A message also moves the customer's future, and the world says how:

- a sleeping dog who opens it churns with probability sleeping_dog_churn x (-tau)
  (`response.realize`), and a churned customer buys nothing again: the customer's expected
  value is lost (`Campaign.expected_value`: a year of purchases at the customer's rate,
  expected basket and margin);
- a latent-dead customer whom it makes buy comes back to life (`World.step` sets `alive` for
  every purchase an action caused): that value is won back, as objective `ltv` counts it;
- a delivered message adds `fatigue_per_message` to the channel's fatigue, which decays with
  `fatigue_half_life_days` and raises the daily churn hazard by a factor
  (1 + churn_fatigue_weight x summed fatigue) (`behaviour.churn_hazard`);
- an unsubscribe removes the channel for good, and with it every later message on it.

So, for customer i and action a sent on channel ch,

    true incremental value = incremental margin
                             - P(churn caused) x alive x V
                             + P(purchase caused) x (1 - alive) x V
                             - P(unsubscribe) x consent value(i, ch)
                             - P(delivered) x fatigue cost(i)

with V the expected value. The terms, each from the world's own formulas:

- fatigue cost(i) = alive x V x fatigue_per_message x churn_fatigue_weight x
  sum over days k >= 0 after the send of churn_base x churn multiplier(day) x
  min(1 + recency(day) / churn_recency_days, churn_recency_cap) x decay^k, decay =
  0.5 ** (1 / fatigue_half_life_days): the churn the extra fatigue adds, to first order in
  the daily hazards (about 1e-3), with the recency growing as if the customer did not buy in
  the meantime (a purchase resets it and lowers the hazard: a slight overstatement for
  frequent buyers). Fatigue also damps the effect of later messages and raises their
  unsubscribe rate; those costs are not counted here: they fall only on messages a policy
  chooses to send later, and the truth of each such message already carries them when it is
  sent (counting them now would count them twice for a policy that reads that truth).
- consent value(i, ch): the world has no value of a consent, since being reachable pays only
  through the messages a policy will send. We value it at the channel's best-fitting message
  for the customer today (the best offer on the channel, sent in the slot nearest the
  preferred hour and in the preferred wording; its true incremental margin, floored at 0)
  times `consent_messages`: one message per fatigue half-life over the value horizon, the pace
  at which the channel's fatigue stays at most 2 units. A customer for whom the channel has
  no profitable message loses nothing by leaving it.

No action has a value of exactly 0, as it has a margin of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbasim.sim import response
from nbasim.sim.actions import SLOT_HOURS, ActionCatalog
from nbasim.sim.params import ResponseParams, ScenarioParams

LTV_HORIZON_DAYS = 365
"""Days of purchases a customer's expected value counts (`Campaign.expected_value`)."""
FATIGUE_TAIL = 1e-6
"""Fatigue left of a message when the fatigue cost's sum over days stops."""


@dataclass
class CustomerValues:
    """What the long-term terms need of each customer (aligned (n,) arrays).

    Attributes:
        alive_value: expected value of customers alive now (0 for the latent-dead): lost if
            an action makes them churn.
        dead_value: expected value of latent-dead customers if brought back (0 for the
            alive): won if an action makes them buy.
        fatigue_cost: expected value lost through the churn hazard per delivered message.
        consent_value: (n, n_channels) value of the customer's consent to each channel.
    """

    alive_value: np.ndarray
    dead_value: np.ndarray
    fatigue_cost: np.ndarray
    consent_value: np.ndarray


def consent_messages(params: ScenarioParams) -> float:
    """Messages a consent is worth: one per fatigue half-life over `LTV_HORIZON_DAYS`."""
    return LTV_HORIZON_DAYS / params.fatigue_half_life_days


def fatigue_churn(recency: np.ndarray, churn_ahead: np.ndarray,
                  params: ScenarioParams, table: np.ndarray | None = None) -> np.ndarray:
    """Expected churn that one unit of fatigue added today causes, per customer.

    sum over k >= 0 of churn_base x churn_ahead[k] x min(1 + (recency + 1 + k) /
    churn_recency_days, churn_recency_cap) x churn_fatigue_weight x decay^k: the fatigue
    reaches the churn hazard from the next day on and decays at the end of each day. First
    order in the hazards; the recency grows as if the customer did not buy.

    Args:
        recency: (n,) days since the last purchase, today.
        churn_ahead: (m,) the world's churn multiplier from tomorrow on (shocks); its last
            value holds beyond.
        params: scenario.
        table: `fatigue_churn_table(churn_ahead, params)`, if already at hand.

    Returns:
        (n,) float64 probabilities per unit of fatigue.
    """
    table = table if table is not None else fatigue_churn_table(churn_ahead, params)
    return table[np.clip(np.asarray(recency, dtype=np.int64), 0, table.size - 1)]


def fatigue_churn_table(churn_ahead: np.ndarray, params: ScenarioParams) -> np.ndarray:
    """`fatigue_churn` by recency, over the recencies it can tell apart (capped beyond).

    Args:
        churn_ahead: as in `fatigue_churn`.
        params: scenario.

    Returns:
        (top + 1,) float64: entry r is `fatigue_churn` at recency r; the last holds beyond.
    """
    decay = 0.5 ** (1.0 / params.fatigue_half_life_days)
    k = np.arange(int(np.ceil(np.log(FATIGUE_TAIL) / np.log(decay))) + 1)
    mult = np.asarray(churn_ahead, dtype=np.float64)[np.minimum(k, len(churn_ahead) - 1)]
    # One table over the recencies the factor can tell apart (it is capped beyond).
    top = int(np.ceil((params.churn_recency_cap - 1) * params.churn_recency_days)) + 1
    r = np.arange(top + 1)[:, None] + 1 + k[None, :]
    factor = np.minimum(1.0 + r / params.churn_recency_days, params.churn_recency_cap)
    return params.churn_base * params.churn_fatigue_weight * (factor * mult * decay ** k).sum(
        axis=1)


def consent_values(t: response.Tables, c: response.Customers, catalog: ActionCatalog,
                   rp: ResponseParams, messages: float) -> np.ndarray:
    """Value of each customer's consent to each channel of the tables (module's docstring).

    Args:
        t: the customers' response tables (`response.tables(c, ...)`), of every channel or of
            one channel per customer.
        c: the customers, (n,) rows.
        catalog: the action catalog (its offers and channels are the ones tried).
        rp: response parameters.
        messages: messages a consent is worth (`consent_messages`).

    Returns:
        (n, k) for the k channels of `t.channels`; 0 for a channel not in the catalog.
    """
    offers, discount = catalog.offers_sent
    in_catalog = np.zeros(len(rp.delivery), dtype=bool)
    in_catalog[catalog.channels_sent] = True
    # Candidates: each offer with a discount, and of those without one the offer of highest
    # effect. With no discount redeemed, the margin is a chain of sums, products by
    # non-negative factors and clips of the effect, each monotone in floating point too, so
    # that offer's margin is exactly the best of theirs.
    effects, paid = t.effect.T, discount > 0  # (n_offers, n)
    n = c.p_organic.shape[0]
    free = offers[~paid]
    shares = [*discount[paid], *([0.0] if free.size else [])]
    candidates = np.empty((len(shares), n))
    for row, offer in zip(candidates, offers[paid], strict=False):
        row[:] = effects[offer]
    if free.size:  # the maximum over the free offers, in their order (as np.max reduces)
        best_free = candidates[-1]
        best_free[:] = effects[free[0]]
        for o in free[1:]:
            np.maximum(best_free, effects[o], out=best_free)
    here = np.arange(n)
    slot = _NEAREST_SLOT[c.send_hour]
    # The tables' entries at each customer's slot and wording, picked by flat index from the
    # contiguous arrays the tables are views of ((k, n_slots, n) and (n_wordings, n)).
    opens = t.open.transpose(1, 2, 0)
    k, n_slots = opens.shape[:2]
    at_slot = np.take(opens.reshape(-1), (np.arange(k)[:, None] * n_slots + slot) * n + here)
    word = np.take(t.word.T.reshape(-1), c.wording.astype(np.intp) * n + here)

    def per_channel(a: np.ndarray) -> np.ndarray:
        """(n or 1, k) -> (k, 1, n or 1): channels x candidates x customers, customers last."""
        return a.T[:, None, :]

    def per_customer(a: np.ndarray) -> np.ndarray:
        return a[None, None, :]

    best = response.combine(
        response.ARRAYS, rp, reachable=per_channel(t.consent),
        open_=at_slot[:, None, :], word=per_customer(word),
        effect=candidates[None], damp=per_channel(t.damp), unsub=None,
        click_rate=per_channel(np.asarray(rp.click_rate)[t.channels]),
        price=per_channel(np.asarray(rp.channel_price)[t.channels]),
        delivery=per_channel(t.delivery[t.channels]), discount=np.array(shares)[:, None],
        p0=per_customer(t.p_organic), basket=per_customer(t.basket),
        margin_rate=per_customer(t.margin_rate)).incremental_margin
    value = messages * np.maximum(best.max(axis=1), 0.0) * in_catalog[t.channels].T
    return value.T


def _nearest_slots() -> np.ndarray:
    """(24,) the send-time slot nearest each whole hour (the first of two as near)."""
    gap = np.abs(np.arange(24.0)[:, None] - np.asarray(SLOT_HOURS))
    return np.minimum(gap, 24 - gap).argmin(axis=1)


_NEAREST_SLOT = _nearest_slots()


def incremental_value(t: response.Truth, consent_value: np.ndarray, alive_value: np.ndarray,
                      dead_value: np.ndarray, fatigue_cost: np.ndarray,
                      rp: ResponseParams, ops: response.Ops = response.ARRAYS) -> np.ndarray:
    """True incremental value of actions from their truth and the customers' values.

    Every argument broadcasts with the fields of `t`: (n,) for pairs, (n, n_actions) for a
    grid with the customer values as (n, 1) and the consent value of each action's channel.

    Args:
        t: the truth of the actions.
        consent_value: value of the consent to each action's channel.
        alive_value: expected value at stake if the customer churns (see `CustomerValues`).
        dead_value: expected value won back if a latent-dead customer buys.
        fatigue_cost: expected value lost per delivered message through the churn hazard.
        rp: response parameters.
        ops: `response.ARRAYS`, or `response.FLOATS` when every argument is a number (one
            decision, `sim.moment_queue`).
    """
    harm = ops.maximum(-t.effect, 0.0)
    churn = t.p_open * rp.sleeping_dog_churn * harm
    caused = t.p_open * ops.maximum(t.effect, 0.0)
    return (t.incremental_margin - churn * alive_value + caused * dead_value
            - t.p_unsubscribe * consent_value - t.p_delivered * fatigue_cost)
