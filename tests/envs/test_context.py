"""The context: what a CRM knows, worked out from CRM columns only, never a latent trait."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nbasim.envs import context
from nbasim.envs.context import CRM_COLUMNS, CrmSpec, contexts, feature_names
from nbasim.sim.calibration import bgnbd_p_alive
from nbasim.sim.campaign import Campaign
from nbasim.sim.params import CHANNELS, OFFERS
from nbasim.sim.population import NO_DAY, Population
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World

LATENT = ("purchase_rate", "dropout", "spend_rate", "home_zone", "work_zone", "online_share",
          "category_affinity", "price_sensitivity", "channel_affinity", "send_hour",
          "wording", "responsiveness", "alive", "fatigue", "blocked_until")
"""Traits the world draws and a CRM never sees (DESIGN.md), and hidden state."""


def lived_world(days=40, seed=5):
    """A dry-cleaning world after `days` days of random messages."""
    w = World(get_scenario("dry_cleaning_seeds"), 4000, days + 1, seed)
    c = Campaign(w)
    rng = np.random.default_rng(seed)
    for _ in range(days):
        w.step()
        rows = np.arange(w.n_present)
        c.act(rows, rng.integers(0, c.actions.n_actions, rows.size) * (rng.random(rows.size)
                                                                        < 0.2))
    return w, c


def test_no_latent_trait_is_a_crm_column():
    """The CRM columns name none of the latent traits; every other column is named here."""
    assert not set(CRM_COLUMNS) & set(LATENT)
    others = {f.name for f in dataclasses.fields(Population)} - set(CRM_COLUMNS)
    assert others - set(LATENT) == {"last_store"}  # known to a CRM, not used by the context


def test_no_latent_trait_can_reach_a_policy():
    """Scrambling every column outside the CRM's leaves every context unchanged."""
    w, c = lived_world()
    rows = np.arange(w.n_present)
    before = context.of_campaign(c, rows)
    rng = np.random.default_rng(0)
    for f in dataclasses.fields(Population):
        if f.name not in CRM_COLUMNS:
            col = getattr(w.pop, f.name)
            col[...] = rng.permutation(col)
    assert np.array_equal(context.of_campaign(c, rows), before)


def test_crm_features_by_hand():
    """Two customers' CRM columns and the features worked out by hand."""
    p = get_scenario("dry_cleaning_chain")
    spec = CrmSpec.of(p)
    names = feature_names(spec)
    n_ch, n_off, n_st, n_cat = len(CHANNELS), len(OFFERS) - 1, len(p.stores), len(p.categories)
    cols = {k: np.zeros(2, dtype=np.int64) for k in CRM_COLUMNS}
    cols.update(
        join_day=np.array([-100, 10]), last_purchase_day=np.array([50, 10]),
        frequency=np.array([5, 1]), monetary=np.array([100.0, 20.0]),
        last_category=np.array([2, n_cat]),  # outerwear; the second: none yet (n_cat)
        category_days=np.array([[30] + [NO_DAY] + [50] + [NO_DAY] * (n_cat - 3),
                                 [NO_DAY] * n_cat]),
        store_daytime=np.array([[0, 3, 1] + [0] * (n_st - 3), [0] * n_st]),
        sends=np.array([[4, 0, 0, 0], [0] * n_ch]), opens=np.array([[2, 0, 0, 0], [0] * n_ch]),
        clicks=np.array([[1, 0, 0, 0], [0] * n_ch]),
        offer_sends=np.array([[0, 3] + [0] * (n_off - 2), [0] * n_off]),
        offer_redemptions=np.array([[0, 1] + [0] * (n_off - 2), [0] * n_off]),
        conversions=np.zeros((2, n_ch)), primary_store=np.array([0, 0]),
        segment=np.array([0, 0]), stage=np.array([0, 0]), cart_day=np.full(2, NO_DAY))
    x = contexts(cols, np.arange(2), 100, spec)
    f = dict(zip(names, x.T, strict=True))
    assert f["last_category_outerwear"].tolist() == [1, 0]
    assert sum(f[f"last_category_{c.name}"][1] for c in p.categories) == 0
    assert f["n_categories_bought"] == pytest.approx([2 / n_cat, 0])
    # shirts (cycle 7) bought on day 30: 70 days ago, 10 cycles (clipped at CLIP = 10);
    # outerwear (cycle 60) on day 50: 50 / 60.
    assert f["repurchase_due_shirts"] == pytest.approx([10.0, 0])
    assert f["repurchase_due_outerwear"] == pytest.approx([50 / 60, 0])
    # BG/NBD: x = 4 repeats, t_x = 150 days, T = 200 days, alpha in days = 7 x weekly alpha.
    want = bgnbd_p_alive(np.array([4.0]), np.array([150.0]), np.array([200.0]), p.bgnbd_r,
                         p.bgnbd_alpha * 7, p.bgnbd_a, p.bgnbd_b)[0]
    assert f["p_alive"][0] == pytest.approx(want, rel=1e-6) and f["p_alive"][1] == 1
    assert f["work_store_north"].tolist() == [1, 0]  # 3 weekday daytime visits there
    assert sum(f[f"work_store_{s.name}"][1] for s in p.stores) == 0
    assert f["open_rate_email"] == pytest.approx([0.5, 0]) and f["click_rate_email"][0] == 0.25
    assert f["log_sends_discount_20"] == pytest.approx([np.log1p(3), 0])
    assert f["log_redemptions_discount_20"] == pytest.approx([np.log1p(1), 0])
    assert f["log_expected_clv"][0] > f["log_expected_clv"][1] > 0


def test_crm_history_follows_the_world():
    """Sends and opens per channel, offer sends, category days and work stores add up."""
    w, c = lived_world(30)
    pop = w.pop
    assert (pop.opens <= pop.sends).all() and pop.sends.sum() > 0
    assert pop.offer_sends.sum() == pop.sends.sum()  # every message carries one offer
    assert (pop.offer_redemptions <= pop.offer_sends).all() and pop.offer_redemptions.sum() > 0
    bought = pop.frequency > 0
    assert (pop.category_days.max(axis=1)[bought] == pop.last_purchase_day[bought]).all()
    last = pop.category_days[np.arange(pop.n_customers), np.minimum(pop.last_category,
                                                                    w.catalog.n_categories - 1)]
    assert (last[bought] == pop.last_purchase_day[bought]).all()
    # The work store the CRM infers is, for most commuters seen at least twice, a store the
    # gravity model makes likely from their work zone.
    seen = pop.store_daytime.sum(axis=1) >= 2
    inferred = pop.store_daytime[seen].argmax(axis=1)
    likely = w.city.huff[pop.work_zone[seen], inferred]
    assert seen.sum() > 50 and np.median(likely) > 0.3
