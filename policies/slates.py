"""Slates a policy fills: K offers per decision, each slot with its pscore.

A policy fills slates when it has a `slate_size` (its `top_k` parameter) and, after each
`act`, `last_slate` (n, slate_size) int64 (-1 pads an empty slot) and `last_slate_pscores`
(n, slate_size): each slot's probability given the slots before it (0 on pads), so the
slate's probability is their product and slot 1's is the pscore `act` returns. The
environments send slates with option `slate_size`; callers check a policy's
`slate_size` first (`nbasim.envs.episode.check_slates`), so a policy that cannot fill
slates fails before any step.

`fill_by_offer` is the deterministic fill of baselines that score every action: after slot 1
(drawn by the policy as usual), slots 2..K take the best action of each other offer in
decreasing order of score, so a slate shows K different offers; given slot 1 they are
certain, so their conditional pscore is 1.
"""

from __future__ import annotations

import numpy as np


def fill_by_offer(scores: np.ndarray, eligible: np.ndarray | None, offer_code: np.ndarray,
                  first: np.ndarray, first_pscores: np.ndarray, k: int, floor: float,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Slates whose slot 1 is `first` and whose next slots are the best other offers.

    Args:
        scores: (n, n_actions) scores, higher is better.
        eligible: None or (n, n_actions) bool.
        offer_code: (n_actions,) offer of each action (-1 for no action).
        first: (n,) slot 1, as the policy chose it.
        first_pscores: (n,) its pscores.
        k: slots per slate.
        floor: an offer whose best score is not above it is not shown.

    Returns:
        slates (n, k) int64 (-1 pads; a row whose slot 1 is 0 is otherwise empty) and
        their conditional pscores (n, k): slot 1's, then 1 per filled slot, 0 on pads.
    """
    n = first.shape[0]
    s = scores if eligible is None else np.where(eligible, scores, -np.inf)
    codes = np.unique(offer_code[offer_code >= 0])
    best = np.full((n, codes.size), -np.inf)
    best_action = np.zeros((n, codes.size), dtype=np.int64)
    for i, code in enumerate(codes.tolist()):
        cols = np.flatnonzero(offer_code == code)
        pick = s[:, cols].argmax(axis=1)
        best_action[:, i] = cols[pick]
        best[:, i] = s[np.arange(n), cols[pick]]
    best[offer_code[first][:, None] == codes[None, :]] = -np.inf  # slot 1's offer
    order = np.argsort(-best, axis=1, kind="stable")[:, :k - 1]
    value = np.take_along_axis(best, order, axis=1)
    shown = (value > floor) & (first[:, None] > 0)
    slates = np.full((n, k), -1, dtype=np.int64)
    slates[:, 0] = first
    slates[:, 1:] = np.where(shown, np.take_along_axis(best_action, order, axis=1), -1)
    pscores = np.zeros((n, k))
    pscores[:, 0] = first_pscores
    pscores[:, 1:] = shown
    return slates, pscores
