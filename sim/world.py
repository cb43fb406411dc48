"""The world: a population, its city and catalog, and one vectorised day at a time.

`World.step` is the daily sequence: draw who does anything today, then purchases (repeat
buyers and today's newcomers), abandoned carts, churn, lifecycle crossings, and finally the
RFM scores as of the end of the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nbasim.sim import arrays, behaviour, draws, lifecycle, memory, response, rfm
from nbasim.sim.actions import ActionCatalog
from nbasim.sim.catalog import Catalog
from nbasim.sim.geography import City
from nbasim.sim.params import ParameterError, ScenarioParams
from nbasim.sim.population import build_population
from nbasim.sim.seasonality import daily_multiplier, weekdays
from nbasim.sim.shocks import Shock, day_modifiers
from nbasim.sim.targets import CATEGORY, STORE, OfferTargets

STREAMS = ("population", "organic", "response", "calendar", "holdout", "slate", "pos")
MAX_DAYS = 20_000
BYTES_PER_CUSTOMER = 300  # state plus the day's scratch, with margin (see `make bench`)


@dataclass
class Transactions:
    """Purchases of one day, one row each.

    Attributes:
        customer: (n,) int64 row of the buyer.
        amount: (n,) float64 spend; margin: (n,) float64 margin.
        store: (n,) store index (`n_stores` = the online shop); category: (n,) uint8.
        hour: (n,) uint8 hour of the visit; first: (n,) bool, a newcomer's first purchase.
    """

    customer: np.ndarray
    amount: np.ndarray
    margin: np.ndarray
    store: np.ndarray
    category: np.ndarray
    hour: np.ndarray
    first: np.ndarray


@dataclass
class DayOutcome:
    """What happened on one day.

    Attributes:
        day: the simulated day.
        transactions: the day's purchases.
        carts: (n,) rows of customers who abandoned an online cart; cart_hours: (n,) uint8.
        churned: (n,) rows of customers who died today (BG/NBD dropout or churn hazard).
        crossed: lifecycle stage -> rows of customers who entered it today by recency.
        arrivals: number of newcomers today.
        n_present: customers present at the end of the day.
    """

    day: int
    transactions: Transactions
    carts: np.ndarray
    cart_hours: np.ndarray
    churned: np.ndarray
    crossed: dict[int, np.ndarray]
    arrivals: int
    n_present: int


class World:
    """A simulated customer base over a horizon of `days` days.

    Args:
        params: scenario parameters.
        n_customers: rows in all: the day-0 base plus the newcomers of the run.
        days: horizon.
        seed: root seed; streams are split with `SeedSequence.spawn` in the order of `STREAMS`,
            so two runs on one seed face the same customers and the same organic draws.
        shocks: shocks layered on the scenario.
    """

    def __init__(self, params: ScenarioParams, n_customers: int, days: int, seed: int,
                 shocks: Sequence[Shock] = ()):
        if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer) \
                or n_customers < 1:
            raise ParameterError(f"customers = {n_customers!r}: must be a positive integer")
        if isinstance(days, bool) or not isinstance(days, int | np.integer) \
                or not 1 <= days <= MAX_DAYS:
            raise ParameterError(f"days = {days!r}: must be an integer from 1 to {MAX_DAYS}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ParameterError(f"seed = {seed!r}: must be an integer >= 0")
        for shock in shocks:
            if shock.start_day >= days:
                raise ParameterError(
                    f"shock {shock.name} start_day = {shock.start_day}: must fall within the "
                    f"run's {days} days (0 to {days - 1}); set e.g. --shock "
                    f"{shock.name}:start_day=0")
        memory.check_fits(int(n_customers) * BYTES_PER_CUSTOMER, f"customers = {n_customers:,}")
        self.params, self.days = params, int(days)
        self.seeds = dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)),
                              strict=True))
        self.city, self.catalog = City(params), Catalog(params)
        self.pop = build_population(params, int(n_customers), self.days, self.city,
                                    self.catalog, np.random.default_rng(self.seeds["population"]))
        self.rng = self.day_rng("organic", 0)
        self.demand = daily_multiplier(params, self.days)
        self.weekday = weekdays(params, self.days)
        self.mods = day_modifiers(list(shocks), self.days, self.catalog.n_categories)
        self.has_online = params.online_share_mean > 0
        self.outlet_names = tuple(s.name for s in params.stores) + (
            ("online",) if self.has_online else ())
        self.day = 0
        self.n_present = self.pop.n_present(-1)
        self.max_fatigue = 0.0
        self.pending: dict[int, list[np.ndarray]] = {}
        self.pending_targeted: dict[int, list[tuple[np.ndarray, ...]]] = {}
        self.targets = OfferTargets.of(params)
        self.pending_conversions: dict[int, list[np.ndarray]] = {}
        self.pending_redemptions: dict[int, list[np.ndarray]] = {}
        self.lines: dict[int, list[Transactions]] = {}
        """Lines added to a day's baskets at the till (`add_lines`), by day."""
        n = self.pop.n_customers
        self._session = behaviour.session_rate(self.pop.purchase_rate, self.pop.online_share,
                                               params)
        self._e = np.empty(n, dtype=np.float32)
        self._x = np.empty(n, dtype=np.float32)
        self._mask = np.empty(n, dtype=bool)
        self._gamma = behaviour.GammaQuantile(params.gg_p)
        self._renewal_groups = self._group_by_renewal_day() \
            if params.purchase_process == "renewal" else None
        self.update_rfm(-1)

    # ----------------------------------------------------------------------------- the day
    def step(self) -> DayOutcome:
        """Simulate day `self.day` for everyone present, then advance the day."""
        d = self.day
        if d >= self.days:
            raise RuntimeError(f"the horizon of {self.days} days is over")
        pop, p = self.pop, self.params
        self.rng = self.day_rng("organic", d)
        lo, hi = self.n_present, max(self.n_present, pop.n_present(d))
        demand = self.demand[d] * self.mods.rate[d]

        # 1. One exponential draw per customer; only those below their bound act today. The
        # day's key then gives each customer their own further draws (`sim.draws`).
        cand, e = self._candidates(lo, demand, d)
        self._key = int(self.rng.integers(2**63))
        x_buy = pop.purchase_rate[cand] * demand
        x_session = self._session[cand] * demand
        buyers = cand[e < x_buy]
        carts = cand[(e >= x_buy) & (e < x_session)]
        rest = e >= x_session
        fat = pop.fatigue[cand[rest]].sum(axis=1) if self.max_fatigue > 0 else None
        hazard = behaviour.churn_hazard(d - pop.last_purchase_day[cand[rest]].astype(np.int64),
                                        fat, p, self.mods.churn[d])
        churned = cand[rest][e[rest] < x_session[rest] + hazard]
        # Dropout risk comes with every repeat purchase (BG/NBD), or with renewals only.
        at_risk_of_dropout = buyers
        if self._renewal_groups is not None:
            at_risk_of_dropout = self._renewals(d, lo)
            buyers = np.union1d(buyers, at_risk_of_dropout)
        # Sleeping dogs put off by a contact skip organic purchases; purchases caused by earlier
        # actions land today (a win-back brings the customer back to life).
        buyers = buyers[pop.blocked_until[buyers] < d]
        landing = np.unique(np.concatenate(self.pending.pop(d, [np.zeros(0, np.int64)])))
        forced = self._forced(d)  # purchases of targeted offers: their category or store
        if forced is not None:
            landing = np.union1d(landing, forced[0])
        pop.alive[landing] = True
        buyers = np.union1d(buyers, landing)

        # 2. Purchases: repeat buyers, then today's newcomers' first purchases.
        tx = self._purchase(d, buyers, np.arange(lo, hi), forced)
        dead_after_purchase = at_risk_of_dropout[
            self._uniforms(at_risk_of_dropout, draws.DROPOUT) < pop.dropout[at_risk_of_dropout]]

        # 3. Online sessions that end in an abandoned cart.
        cart_hours = self._abandon_carts(d, carts)

        # 4. Churn: BG/NBD dropout after a repeat purchase, and the churn hazard.
        churned = np.union1d(churned, dead_after_purchase)
        pop.alive[churned] = False

        # 5. Lifecycle: recency crossing the thresholds moves customers on.
        crossed = lifecycle.crossings_by_last_day(pop.last_purchase_day[:hi], d, p)
        for stage, rows in crossed.items():
            pop.stage[rows] = stage

        # 6. Fatigue decays; conversions of the windows closing today count; RFM as of the end
        # of the day.
        self._decay_fatigue()
        self._credit_conversions(d)
        self.n_present = hi
        self.update_rfm(d)
        self.day += 1
        return DayOutcome(d, tx, carts, cart_hours, churned, crossed, hi - lo, hi)

    def _credit_conversions(self, d: int) -> None:
        """Count the conversions of the messages whose attribution window closes on day `d`.

        The CRM's nightly attribution: a conversion is never known on the day its message is
        sent (`Campaign.apply` queues it).
        """
        for queue, column in ((self.pending_conversions, self.pop.conversions),
                              (self.pending_redemptions, self.pop.offer_redemptions)):
            landing = queue.pop(d, None)
            if landing is None:
                continue
            at, times = np.unique(np.concatenate(landing), return_counts=True)
            flat = column.reshape(-1)
            flat[at] = np.minimum(flat[at] + times, 255)  # counts stop at 255

    def queue_targeted(self, rows: np.ndarray, days: np.ndarray, targets: OfferTargets,
                       target: np.ndarray) -> None:
        """Queue purchases caused by targeted offers: of the target's category, at its store.

        Args:
            rows: (k,) customers.
            days: (k,) the day each purchase lands (those beyond the horizon are dropped).
            targets: the catalog's targets.
            target: (k,) index into `targets` of each.
        """
        kind = np.array(targets.kind)[target]
        index = np.array(targets.index, dtype=np.int16)[target]
        category = np.where(kind == CATEGORY, index, -1).astype(np.int16)
        store = np.where(kind == STORE, index, -1).astype(np.int16)
        for day in np.unique(days[days < self.days]):
            at = days == day
            self.pending_targeted.setdefault(int(day), []).append(
                (rows[at], category[at], store[at]))

    def _forced(self, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Targeted purchases landing on day `d`: rows (sorted, once each), category, store.

        -1 where the purchase names no category (or no store); a customer with two landing
        the same day keeps the first queued.
        """
        parts = self.pending_targeted.pop(d, None)
        if parts is None:
            return None
        rows, category, store = (np.concatenate(col) for col in zip(*parts, strict=True))
        rows, first = np.unique(rows, return_index=True)
        return rows, category[first], store[first]

    @property
    def today(self) -> int:
        """The day decisions taken now belong to: the last simulated day (0 before any)."""
        return max(self.day - 1, 0)

    def day_rng(self, stream: str, day: int) -> np.random.Generator:
        """A stream's generator for one day, from its own child seed.

        A policy that changes who buys today cannot shift the draws of any later day (common
        random numbers across policies).
        """
        root = self.seeds[stream]
        return np.random.default_rng(np.random.SeedSequence(root.entropy,
                                                            spawn_key=(*root.spawn_key, day)))

    def _uniforms(self, rows: np.ndarray, use: int) -> np.ndarray:
        """Today's uniforms of customers `rows` for one use (see `sim.draws`)."""
        return draws.uniforms(self._key, rows, use)

    def _candidates(self, lo: int, demand: float, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (alive) whose draw falls below session intensity plus the churn bound.

        Returns:
            rows (m,) and their exponential draws (m,) as float64.
        """
        e, x, mask = self._e[:lo], self._x[:lo], self._mask[:lo]
        self.rng.standard_exponential(out=e, dtype=np.float32)
        np.multiply(self._session[:lo], np.float32(demand), out=x)
        bound = behaviour.churn_bound(self.params, self.mods.churn[d], self.max_fatigue)
        np.add(x, np.float32(bound * 1.0001 + 1e-12), out=x)
        np.less(e, x, out=mask)
        cand = np.flatnonzero(mask)
        cand = cand[self.pop.alive[cand]]
        return cand, e[cand].astype(np.float64)

    def _purchase(self, d: int, repeat: np.ndarray, newcomers: np.ndarray,
                  forced: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                  ) -> Transactions:
        """Draw hour, store, category and spend of each purchase and update the buyers.

        `forced` (`_forced`) names the category or store of some repeat buyers' purchases
        (those targeted offers caused); their draws are made all the same and overridden.
        """
        pop, p = self.pop, self.params
        rows = np.concatenate([repeat, newcomers])
        first = np.zeros(rows.size, dtype=bool)
        first[repeat.size:] = True
        weekend = bool(self.weekday[d] >= 5)
        hours = behaviour.visit_hours(pop.visit_hour[rows], weekend, p,
                                      self._uniforms(rows, draws.HOUR))
        zones = behaviour.visit_zones(pop.home_zone[rows], pop.work_zone[rows], hours, weekend,
                                      p)
        store = self.city.choose_stores(zones, self._uniforms(rows, draws.STORE))
        if self.has_online:
            online = self._uniforms(rows, draws.ONLINE) < pop.online_share[rows]
            store[online] = self.city.n_stores
        recency = (d - pop.last_purchase_day[rows]).astype(np.float64)
        category = self.catalog.choose(pop.category_affinity[rows], pop.last_category[rows],
                                       recency, self.mods.category_weight[d],
                                       self._uniforms(rows, draws.CATEGORY))
        if forced is not None:
            at = np.searchsorted(repeat, forced[0])  # `repeat` is sorted and holds them all
            for column, given in ((category, forced[1]), (store, forced[2])):
                named = given >= 0
                column[at[named]] = given[named]
        amount = behaviour.basket_values(pop.spend_rate[rows], self.catalog.price_level[category],
                                         self.mods.spend[d], p, self._gamma,
                                         self._uniforms(rows, draws.AMOUNT))
        margin = amount * self.catalog.margin[category]

        pop.frequency[rows] += 1
        pop.monetary[rows] += amount.astype(np.float32)
        pop.last_purchase_day[rows] = d
        pop.last_category[rows] = category
        pop.category_days.reshape(-1)[rows * self.catalog.n_categories + category] = d
        if not weekend:  # the weekday daytime visits the CRM infers a work store from
            geo, n_stores = p.geography, self.city.n_stores
            i = np.flatnonzero((hours >= geo.work_start_hour) & (hours < geo.work_end_hour)
                               & (store < n_stores))
            arrays.count_up(pop.store_daytime, rows[i], store[i])
        pop.last_store[rows] = store
        at_primary = store == pop.primary_store[rows]
        pop.visits_primary[rows[at_primary]] += 1
        pop.visits_other[rows[~at_primary]] += 1
        pop.stage[repeat] = lifecycle.after_purchase(pop.stage[repeat])
        pop.stage[newcomers] = lifecycle.NEW
        pop.cart_value[rows] = 0.0
        return Transactions(rows, amount, margin, store, category, hours, first)

    def _abandon_carts(self, d: int, rows: np.ndarray) -> np.ndarray:
        """Open a cart for each abandoning customer; returns the session hours."""
        pop = self.pop
        price = (pop.category_affinity[rows] * self.catalog.price_level).sum(axis=1)
        value = behaviour.basket_values(pop.spend_rate[rows], price, self.mods.spend[d],
                                        self.params, self._gamma,
                                        self._uniforms(rows, draws.CART_AMOUNT))
        pop.cart_value[rows] = value.astype(np.float32)
        pop.cart_day[rows] = d
        return behaviour.visit_hours(pop.visit_hour[rows], bool(self.weekday[d] >= 5),
                                     self.params, self._uniforms(rows, draws.CART_HOUR))

    def _decay_fatigue(self) -> None:
        if self.max_fatigue > 0:
            factor = np.float32(0.5 ** (1.0 / self.params.fatigue_half_life_days))
            self.pop.fatigue[: self.n_present] *= factor
            self.max_fatigue *= float(factor)

    # ------------------------------------------------------------------- renewal business
    def _group_by_renewal_day(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by join day modulo the renewal period, with group boundaries."""
        period = self.params.renewal_days
        phase = self.pop.join_day.astype(np.int64) % period
        order = np.argsort(phase, kind="stable").astype(np.int32)
        bounds = np.searchsorted(phase[order], np.arange(period + 1))
        return order, bounds

    def _renewals(self, d: int, lo: int) -> np.ndarray:
        """Alive customers present before today whose renewal falls today."""
        order, bounds = self._renewal_groups
        k = d % self.params.renewal_days
        rows = order[bounds[k]:bounds[k + 1]].astype(np.int64)
        rows = rows[(rows < lo) & (self.pop.join_day[rows] < d)]
        return rows[self.pop.alive[rows]]

    def add_lines(self, rows: np.ndarray, category: np.ndarray, hour: int,
                  u: np.ndarray) -> Transactions:
        """Add a line to today's basket of customers `rows`, who bought today (`sim.pos`).

        The line's spend is drawn as a purchase of `category` (uniforms `u`), at the store of
        the customer's purchase today; their spend and the category's last purchase day move,
        their purchase count and visits do not (one visit). Kept in `lines[today]`.

        Returns:
            The lines, one row each.
        """
        pop, d = self.pop, self.today
        amount = behaviour.basket_values(pop.spend_rate[rows], self.catalog.price_level[category],
                                         self.mods.spend[d], self.params, self._gamma, u)
        pop.monetary[rows] += amount.astype(np.float32)
        pop.category_days.reshape(-1)[rows * self.catalog.n_categories + category] = d
        n = rows.size
        tx = Transactions(rows, amount, amount * self.catalog.margin[category],
                          pop.last_store[rows].copy(), category.astype(np.uint8),
                          np.full(n, hour, dtype=np.uint8), np.zeros(n, dtype=bool))
        self.lines.setdefault(d, []).append(tx)
        return tx

    # ------------------------------------------------------------------------ response
    def basket(self, rows: np.ndarray, price: np.ndarray | None = None) -> np.ndarray:
        """Expected spend of a purchase by customers `rows` today (Gamma-Gamma mean x price).

        `price`: the price level, broadcasting with `rows` (default: each customer's
        affinity-weighted one).
        """
        return self._basket(rows, self._prices(rows)[0] if price is None else price)

    def _prices(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Price level of customers' baskets (n,), affinities and weighted prices (k, n).

        The weighted prices are affinity x the categories' price level (k categories); their
        sum runs in order (not BLAS: the same bits everywhere).
        """
        aff = arrays.columns(self.pop.category_affinity, rows).astype(np.float64)
        weighted = aff * self.catalog.price_level[:, None]
        return arrays.row_sums(weighted), aff, weighted

    def _basket(self, rows: np.ndarray, price: np.ndarray) -> np.ndarray:
        p = self.params
        return (p.gg_p / self.pop.spend_rate[rows].astype(np.float64) * p.spend_scale * price
                * self.mods.spend[self.today])

    def customers_for_response(self, rows: np.ndarray) -> response.Customers:
        """What the response model needs of customers `rows`, as of today (latent included)."""
        pop, p, d = self.pop, self.params, self.today
        window = p.response.attribution_days
        ahead = slice(min(d + 1, self.days - 1), d + 1 + window)  # the days a conversion can land
        demand = self.demand[ahead].mean() * self.mods.rate[ahead].mean()
        alive = pop.alive[rows]
        p_organic = alive * -np.expm1(-pop.purchase_rate[rows].astype(np.float64) * window
                                      * demand)
        price, aff, weighted = self._prices(rows)
        cat = self.catalog
        basket = self._basket(rows, price)
        cart_age = (d - pop.cart_day[rows].astype(np.int64)).astype(np.float64)
        cart_open = (pop.cart_value[rows] > 0) & (cart_age <= p.cart_ttl_days)
        shift = self.mods.channel_shift[d][:, None]
        # Per-channel and per-category columns are worked out channel by channel (k, n) and
        # handed over as (n, k) views.
        return response.Customers(
            p_organic=p_organic, basket=basket,
            margin_rate=arrays.row_sums(weighted * cat.margin[:, None]) / price,
            alive=alive, consent=pop.consent[rows],
            channel_affinity=np.clip(arrays.columns(pop.channel_affinity, rows) + shift, 0.0,
                                     1.0).T,
            send_hour=pop.send_hour[rows], wording=pop.wording[rows],
            responsiveness=pop.responsiveness[rows].astype(np.float64),
            price_sensitivity=pop.price_sensitivity[rows].astype(np.float64),
            online_share=pop.online_share[rows].astype(np.float64),
            next_category_affinity=cat.next_affinity(aff.T, pop.last_category[rows]),
            frequency=pop.frequency[rows].astype(np.float64),
            second_store_distance=self.city.second_store_distance[pop.home_zone[rows]],
            stage=pop.stage[rows], cart_open=cart_open, cart_age=np.maximum(cart_age, 0.0),
            cart_ratio=np.where(cart_open, pop.cart_value[rows] / basket, 0.0),
            fatigue=arrays.columns(pop.fatigue, rows).T,
            **self._targeted(rows, aff, weighted))

    def _targeted(self, rows: np.ndarray, aff: np.ndarray, weighted: np.ndarray) -> dict:
        """`response.Customers`' fields for the targeted offers (`sim.targets`), if any.

        Category fit (`Catalog.fit`) and the value of a purchase of each targeted category
        (its price x margin over the customer's affinity-weighted one); distance from the
        nearer of home and work to each targeted store (infinite at the primary store).
        """
        cats, stores = self.targets.of_kind(CATEGORY), self.targets.of_kind(STORE)
        out = {}
        pop, cat = self.pop, self.catalog
        if cats:
            recency = (self.today - pop.last_purchase_day[rows]).astype(np.float64)
            out["category_fit"] = cat.fit(aff.T, pop.last_category[rows], recency, cats)
            own = arrays.row_sums(weighted * cat.margin[:, None])
            out["category_value"] = ((cat.price_level * cat.margin)[cats][None, :]
                                     / own[:, None])
        if stores:
            dist = self.city.distance[:, stores]
            near = np.minimum(dist[pop.home_zone[rows]], dist[pop.work_zone[rows]])
            primary = pop.primary_store[rows][:, None] == np.asarray(stores)[None, :]
            out["store_distance"] = np.where(primary, np.inf, near)
        return out

    def truth(self, rows: np.ndarray, actions: np.ndarray,
              catalog: ActionCatalog) -> response.Truth:
        """True expected response of customers `rows` to `actions` sent today.

        Args and result are aligned (n,) arrays.
        """
        return response.truth(self.customers_for_response(rows), actions, catalog,
                              self.params.response, self.mods.channel_up[self.today])

    # ---------------------------------------------------------------------------- RFM
    def update_rfm(self, day: int) -> None:
        """Recompute R, F, M scores and segments of present customers as of `day`'s end."""
        pop, hi = self.pop, self.n_present
        r, f, m = rfm.rfm_scores(pop.recency(day, hi), pop.frequency[:hi], pop.monetary[:hi])
        pop.r_score[:hi], pop.f_score[:hi], pop.m_score[:hi] = r, f, m
        pop.segment[:hi] = rfm.segments(r, f)
