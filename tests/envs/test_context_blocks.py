"""`contexts` writes its features in blocks; a plain one-feature-at-a-time build agrees exactly.

`reference_contexts` is the context as it was first written (one float column per feature,
in the order of `feature_names`): the blockwise build must give the same float32 values, bit
for bit, whatever the rows asked and whatever the columns' integer dtypes.
"""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.envs import context
from nbasim.envs.context import CLIP, CLV_DAYS, CRM_COLUMNS, CrmSpec, contexts, feature_names
from nbasim.sim import lifecycle, rfm
from nbasim.sim.calibration import bgnbd_p_alive
from nbasim.sim.constraints import contacts_last_7_days
from nbasim.sim.params import CHANNELS
from nbasim.sim.population import NO_DAY
from tests.envs.test_context import lived_world


def reference_contexts(columns, rows, day, spec):
    """`contexts`, one feature at a time (the first version of it)."""
    col = {k: columns[k][rows] for k in CRM_COLUMNS}
    recency = (day - col["last_purchase_day"].astype(np.float64)).clip(0)
    freq = col["frequency"].astype(np.float64)
    tenure = (day - col["join_day"].astype(np.float64)).clip(0)
    contacts, last_contact = col["contact_days"], col["last_contact_day"]
    cart_age = (day - col["cart_day"].astype(np.float64)).clip(0)
    cart_open = (col["cart_value"] > 0) & (cart_age <= spec.cart_ttl_days)
    visits = col["visits_primary"].astype(np.float64) + col["visits_other"]
    cycle = tenure / np.maximum(freq - 1, 1)
    # Category history: categories bought, days since each over its cycle.
    known = col["category_days"] != NO_DAY
    due = np.where(known, (day - col["category_days"].astype(np.float64))
                   / np.asarray(spec.cycle_days), 0.0)
    # P(alive) and log1p of the expected spend (BG/NBD and Gamma-Gamma).
    r, alpha, a, b = spec.bgnbd
    p, q, gamma = spec.gamma_gamma
    x = np.maximum(freq - 1, 0)
    alive = bgnbd_p_alive(x, np.maximum(tenure - recency, 0), tenure, r, alpha, a, b)
    basket = (p * gamma + p * freq * (col["monetary"] / np.maximum(freq, 1))) / (p * freq + q
                                                                                 - 1)
    clv = alive * (r + x) / (alpha + tenure) * CLV_DAYS * basket
    daytime = col["store_daytime"]
    work = np.where(daytime.max(axis=1) > 0, daytime.argmax(axis=1), -1)
    sends = np.maximum(col["sends"], 1).astype(np.float64)

    def one_hot(codes, k):
        return [codes == j for j in range(k)]

    cols = [
        recency / 365, np.log1p(freq), np.log1p(col["monetary"]),
        col["r_score"] / 5, col["f_score"] / 5, col["m_score"] / 5,
        *one_hot(col["segment"], len(rfm.SEGMENTS)),
        *one_hot(col["stage"], len(lifecycle.STAGES)),
        tenure / 365,
        *[(col["consent"] >> k) & 1 for k in range(len(CHANNELS))],
        contacts_last_7_days(contacts, last_contact, day) / 7,
        contacts_last_7_days(contacts, last_contact, day, window=30) / 30,
        np.minimum(day - last_contact.astype(np.int64), 60) / 60,
        *np.log1p(col["opens"].T), *np.log1p(col["clicks"].T),
        *np.log1p(col["conversions"].T),
        col["visit_hour"] / 24, col["visits_primary"] / np.maximum(visits, 1),
        np.where(freq > 1, recency / np.maximum(cycle, 1), 0.0), cart_open,
        np.log1p(np.where(cart_open, col["cart_value"], 0)),
        np.where(cart_open, cart_age, 0) / 7,
        *one_hot(col["primary_store"], len(spec.stores)),
        *one_hot(col["last_category"], len(spec.categories)),
        known.sum(axis=1) / known.shape[1], *due.T, alive, np.log1p(clv),
        *one_hot(work, len(spec.stores)),
        *(col["opens"] / sends).T, *(col["clicks"] / sends).T,
        *np.log1p(col["offer_sends"].T), *np.log1p(col["offer_redemptions"].T),
    ]
    out = np.empty((len(col["frequency"]), len(cols)), dtype=np.float32)
    for j, c in enumerate(cols):
        out[:, j] = c
    return np.clip(out, 0.0, CLIP, out=out)


@pytest.fixture(scope="module")
def world():
    """A dry-cleaning world after 30 days of random messages, and its `CrmSpec`."""
    w, _ = lived_world(30, seed=11)
    return w, CrmSpec.of(w.params)


@pytest.mark.parametrize("take", ["all", "some", "one", "none", "every", "almost"])
def test_blocks_equal_the_plain_build_bit_for_bit(world, take):
    """The population's columns, whatever rows are asked (sorted or not, repeated).

    "every" asks every row of the columns in order (read in place), "almost" as many rows
    from 0 to the last, one repeated (copied).
    """
    w, spec = world
    rng = np.random.default_rng(0)
    n = w.n_present
    rows = {"all": np.arange(n), "some": rng.integers(0, n, 50), "one": np.array([n - 1]),
            "none": np.array([], dtype=np.int64), "every": np.arange(n),
            "almost": np.r_[0, np.arange(n - 1)]}[take]
    cols = vars(w.pop)
    if take in ("every", "almost"):
        cols = {k: cols[k][:n] for k in CRM_COLUMNS}
    want = reference_contexts(cols, rows, w.today, spec)
    got = contexts(cols, rows, w.today, spec)
    assert got.dtype == np.float32 and got.shape == (rows.size, len(feature_names(spec)))
    assert got.tobytes() == want.tobytes()


def test_blocks_equal_the_plain_build_with_wide_integer_columns(world):
    """Integer columns as int64 (no uint8 log table): still the plain build's values."""
    w, spec = world
    cols = {k: (v.astype(np.int64) if v.dtype.kind in "iu" else v)
            for k, v in vars(w.pop).items() if k in CRM_COLUMNS}
    rows = np.arange(w.n_present)
    assert contexts(cols, rows, w.today, spec).tobytes() == reference_contexts(
        cols, rows, w.today, spec).tobytes()


def test_log_table_is_numpys_uint8_log1p():
    """The uint8 table holds exactly what `np.log1p` gives a uint8 count."""
    counts = np.arange(256, dtype=np.uint8)
    assert context._LOG1P_U8.tobytes() == np.log1p(counts).astype(np.float32).tobytes()
