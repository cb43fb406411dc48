"""Point-of-sale offers: an offer shown at the till of a checkout (channel `pos`, issue 16).

A scenario opts in by listing "pos" among its `channels`; the catalog then holds every offer
variant at the till beside the messages (`sim.actions`). The design:

- Where: only to the customer of a NextBestAction-v0 `checkout` moment (a purchase in a
  store, at its hour). Anywhere else, and always in CampaignDay-v0, which has no checkouts,
  the world stops it with reason `not_at_checkout`; a slate is a message, so a slate cannot
  hold one (`check_slates`). The holdout never sees one.
- What it is not: a message. It needs no consent (nothing is sent to an address), has no
  price per offer, is not a contact (the contact policy neither stops nor counts it) and
  adds no message fatigue. The offer rules (suppressions, offer caps) and the budget apply
  as to a message. Its slot has no effect: it is shown at the checkout's hour.
- Its effect: the offer is seen for sure, and acts with the world's heterogeneous treatment
  effect of the offer variant for the customer (`sim.offer_effects`: responsiveness x the
  offer's effect x the customer's scale, a targeted cross-sell's fit for its category) times
  the wording fit, with no fatigue damping and no click boost, less a small annoyance
  (`ResponseParams.pos_annoyance`): tau = clip(effect x word - annoyance, -1, 1).
- tau >= 0, the basket being bought: with probability tau the customer adds a line to it,
  of the targeted category for a targeted cross-sell, of the basket's own category
  otherwise (raising the amount). The line's spend is drawn as a purchase of that category
  (Gamma-Gamma x the category's price level, `World.add_lines`), at the checkout's store and
  hour: the customer's spend and margin rise, their purchase count does not (one visit).
  The discount is on the line only (what is redeemed).
- tau < 0, the next visit (sleeping dogs, or an effect below the annoyance): with probability
  -tau the customer is put off buying for the attribution window, as a sleeping dog who opens
  a message is, and leaves with probability `sleeping_dog_churn` x -tau.
- Truth, with a = max(tau, 0), h = max(-tau, 0), B_l and m_l the expected spend and margin
  rate of the line's category, and p0, B, m the organic window conversion, basket and margin
  rate of a message's truth: incremental margin = a B_l (m_l - discount) - h p0 B m; cost =
  a B_l discount. A line accepted at the till is caused by the offer, so its attributed
  margin (the reward) is its expected margin minus the discount: no sure thing is paid.

Its draws come from the world's own "pos" stream (per-customer uniforms of the day,
`sim.draws`), so that the messages' draws never move.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nbasim.sim import arrays, draws, long_term, offer_effects, response
from nbasim.sim.actions import ActionCatalog, CatalogGrid
from nbasim.sim.param_types import CHANNELS, OFFERS, WORDINGS, ParameterError
from nbasim.sim.response_params import ResponseParams
from nbasim.sim.targets import CATEGORY

POS_CODE = len(CHANNELS)
"""Channel code of `POS` in the catalog."""
U_TAKE, U_CHURN, U_AMOUNT = range(3)
"""Uses of a customer's point-of-sale uniforms of the day."""


@dataclass
class Lines:
    """What a point-of-sale offer needs of customers at a checkout, per offer variant.

    Attributes:
        effect: (n, n_variants) responsiveness x offer effect (`offer_effects.effects`).
        word: (n, n_wordings) wording fit.
        category: (n, n_variants) int category of the line each variant would add.
        basket, margin_rate: (n, n_variants) expected spend and margin rate of that line.
        p_organic, avg_basket, avg_margin: (n,) a message's p0, basket and margin rate.
    """

    effect: np.ndarray
    word: np.ndarray
    category: np.ndarray
    basket: np.ndarray
    margin_rate: np.ndarray
    p_organic: np.ndarray
    avg_basket: np.ndarray
    avg_margin: np.ndarray

    def take(self, index: np.ndarray) -> Lines:
        """The customers at `index`, every field indexed alike."""
        return Lines(**{k: v[index] for k, v in vars(self).items()})

    @classmethod
    def of(cls, world, rows: np.ndarray, catalog: ActionCatalog,
           c: response.Customers | None = None) -> Lines:
        """The lines of customers `rows`, who bought today (their basket: their last category)."""
        rows = np.asarray(rows, dtype=np.int64)
        c = c if c is not None else world.customers_for_response(rows)
        rp, cat = world.params.response, world.catalog
        effect = offer_effects.effects(c, rp).T
        n_variants = effect.shape[1]
        category = np.repeat(world.pop.last_category[rows].astype(np.int64)[:, None],
                             n_variants, axis=1)
        for j, (kind, index) in enumerate(zip(catalog.targets.kind, catalog.targets.index,
                                              strict=True)):
            if kind == CATEGORY:
                category[:, len(OFFERS) + j] = index
        basket = world.basket(rows, cat.price_level[category].T).T
        word = np.where(np.eye(len(WORDINGS), dtype=bool), rp.wording_match,
                        rp.wording_miss)[c.wording]
        return cls(effect, word, category, basket, cat.margin[category], c.p_organic,
                   c.basket, c.margin_rate)


def respond(rp: ResponseParams, *, effect, word, discount, p0, basket, margin_rate, line_basket,
            line_margin) -> response.Truth:
    """The truth of point-of-sale offers (module docstring); arguments broadcast together."""
    tau = np.clip(effect * word - rp.pos_annoyance, -1.0, 1.0)
    take, harm = np.maximum(tau, 0.0), np.maximum(-tau, 0.0)
    lost = harm * p0
    cost = discount * line_basket * take
    uplift = take - lost
    margin = take * line_basket * line_margin - cost - lost * (basket * margin_rate)
    one, zero = np.ones(tau.shape), np.zeros(tau.shape)
    return response.Truth(p0 + zero, p0 + uplift, one, zero, zero, line_basket + zero,
                          line_margin + zero, cost, uplift, margin, tau, one)


def truth(lines: Lines, actions: np.ndarray, catalog: ActionCatalog, rp: ResponseParams
          ) -> response.Truth:
    """Truth of pos `actions`, one per customer of `lines` ((n,) each) or, 2-d, (n, k) each."""
    actions = np.asarray(actions)
    i = np.arange(lines.p_organic.shape[0]).reshape(-1, *[1] * (actions.ndim - 1))
    v = catalog.variant[actions].astype(np.intp)
    col = (lambda a: a[:, None]) if actions.ndim == 2 else (lambda a: a)
    return respond(rp, effect=lines.effect[i, v],
                   word=lines.word[i, np.maximum(catalog.wording[actions], 0)],
                   discount=catalog.discount[actions], p0=col(lines.p_organic),
                   basket=col(lines.avg_basket), margin_rate=col(lines.avg_margin),
                   line_basket=lines.basket[i, v], line_margin=lines.margin_rate[i, v])


def fill_grids(campaign, rows: np.ndarray, out: dict[str, np.ndarray],
               checkout: bool) -> None:
    """Write the pos columns of `Campaign.truth_grids`' grids: their truth at a checkout, else 0.

    A pos offer is not shown outside a checkout, so there nothing happens (as for a message
    to a customer who does not consent).
    """
    cat = campaign.actions
    cols = np.flatnonzero(cat.pos)
    if not cols.size:
        return
    if not checkout or not rows.size:
        for grid in out.values():
            grid[:, cols] = 0.0
        return
    w = campaign.world
    c = w.customers_for_response(rows)
    t = truth(Lines.of(w, rows, cat, c), np.broadcast_to(cols, (rows.size, cols.size)), cat,
              w.params.response)
    if "margins" in out:
        out["margins"][:, cols] = t.incremental_margin
    if "values" in out:
        v = campaign.customer_values(rows, c)
        out["values"][:, cols] = long_term.incremental_value(
            t, 0.0, v.alive_value[:, None], v.dead_value[:, None], 0.0, w.params.response)


def uniforms(world, day: int, rows: np.ndarray) -> np.ndarray:
    """(3, n) the customers' point-of-sale uniforms of `day` (`U_TAKE`, `U_CHURN`, `U_AMOUNT`)."""
    key = int(world.day_rng("pos", day).integers(2**63))
    return np.stack([draws.uniforms(key, rows, use) for use in range(3)])


def realize(t: response.Truth, u: np.ndarray, discount, rp: ResponseParams
            ) -> response.Realized:
    """Draw the outcome of pos offers shown, from their truth and uniforms `u` (3, n).

    A line is taken with probability tau > 0 (`incremental` and `converted`, delay 0: it is
    in today's basket); with tau < 0 the customer is put off (`blocked`) with probability
    -tau and leaves (`churned`) with probability `sleeping_dog_churn` x -tau. Shown means
    delivered and opened; nothing is clicked, unsubscribed or paid for but the discount.
    """
    tau = t.effect
    take = (tau > 0) & (u[U_TAKE] < tau)
    blocked = (tau < 0) & (u[U_TAKE] < -tau)
    churned = (tau < 0) & (u[U_CHURN] < rp.sleeping_dog_churn * -tau)
    none = np.zeros(tau.shape, dtype=bool)
    discount_cost = take * discount * t.basket
    attributed = take * t.basket * t.margin_rate - discount_cost
    return response.Realized(~none, ~none, none, take, take, blocked, none, churned,
                             np.zeros(tau.shape, dtype=np.int64), discount_cost,
                             np.zeros(tau.shape), attributed, attributed)


def check_slates(slate: np.ndarray, catalog: ActionCatalog) -> np.ndarray:
    """The slates, or a `ParameterError` when one holds a pos action (a slate is a message)."""
    if catalog.pos.any() and catalog.pos[np.asarray(slate)].any():
        raise ParameterError("slate holds a pos action: a point-of-sale offer is shown alone "
                             "at a checkout's till, never in a slate (a message)")
    return slate


def apply(campaign, rows: np.ndarray, actions: np.ndarray, real: response.Realized, day: int,
          hour: int, lines: Lines, at: np.ndarray, u_amount: np.ndarray) -> np.ndarray:
    """Update the world for pos offers shown on `day` at `hour` to `rows` (each once).

    Offer history and sends per offer; the redemption of a line taken (known at the till);
    the line itself (`World.add_lines`); customers put off or gone. Nothing of a message: no
    contact day, no fatigue, no channel counts, no unsubscribe.

    Args:
        campaign: the campaign.
        rows: (k,) customers shown an offer.
        actions: (k,) the pos actions.
        real: their drawn outcome.
        day: the day.
        hour: the checkout's hour.
        lines: the `Lines` of the moment's customers.
        at: (k,) each row's position in `lines`.
        u_amount: (k,) uniforms of the lines' spend.

    Returns:
        (m,) the rows whose basket took a line.
    """
    w, cat = campaign.world, campaign.actions
    pop, rp = w.pop, w.params.response
    offer = cat.offer[actions].astype(np.int64)
    if campaign.rules.offer_caps:
        campaign.offer_history.record(rows, offer, day)
    arrays.count_up(pop.offer_sends, rows, offer - 1)
    arrays.count_up(pop.offer_redemptions, rows[real.converted], offer[real.converted] - 1)
    pop.alive[rows[real.churned]] = False
    pop.blocked_until[rows[real.blocked]] = day + rp.attribution_days
    took = np.flatnonzero(real.incremental)
    if took.size:
        v = cat.variant[actions[took]].astype(np.intp)
        w.add_lines(rows[took], lines.category[at[took], v], hour, u_amount[took])
    pop.alive[rows[took]] = True  # a line caused by a win-back brings the customer back
    return rows[took]


def message_grid(catalog: ActionCatalog) -> tuple[CatalogGrid, list]:
    """The catalog's message actions as a grid, and each offer variant's catalog columns.

    Without pos actions: the catalog's own grid and one slice per offer (as before pos).

    Returns:
        (grid without the pos channel, [columns of offer i's message actions, per offer]).
    """
    grid = catalog.grid()
    per_offer = int(np.prod(grid.shape[1:]))
    if not catalog.pos.any():
        return grid, [slice(1 + i * per_offer, 1 + (i + 1) * per_offer)
                      for i in range(grid.shape[0])]
    cols = 1 + np.flatnonzero(~catalog.pos[1:]).reshape(grid.shape[0], -1)
    return replace(grid, channel=grid.channel[grid.channel != POS_CODE]), list(cols)
