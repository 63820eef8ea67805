"""The latent market and how each venue quotes it.

Each asset has a latent USDT log price: a correlated geometric random walk on a 10 ms grid
plus Poisson jumps shared by the market (scaled by each asset's beta) and jumps of its own.
A venue sees the diffusion ``lag_ms`` late and each jump after its own random delay, adds a
small mean-reverting offset of its own, and quotes a touch of ``mid * (1 -+ half_spread)``
rounded outwards to its tick. Venues therefore disagree for short moments, mostly after jumps
and fast moves, and agree again once the laggard catches up.

Only ``random.Random`` instances seeded by the caller are used: same seed, same market.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Sequence

from arb.synth import specs
from arb.synth.specs import InstrumentSpec
from arb.synth.specs import VenueSpec

__all__ = ["GRID_NS", "LatentMarket", "Quoter", "assets_of"]

GRID_NS = 10_000_000  # diffusion grid: 10 ms
_YEAR_S = 365.0 * 24 * 3600
_NS = 1_000_000_000


def assets_of(symbol: str) -> tuple[str, str]:
    """Return ``(base, quote)`` of a canonical symbol (``BTC-USDT-PERP`` -> BTC, USDT)."""
    base, quote = symbol.split("-")[:2]
    return base, quote


class LatentMarket:
    """Latent log prices of every asset over ``[start_ns - margin, end_ns]``.

    ``log_price(asset, venue, t)`` is what ``venue`` believes at ``t``: the diffusion at
    ``t - lag`` plus every jump whose venue-specific arrival time is ``<= t``.
    """

    def __init__(
        self,
        venues: Sequence[VenueSpec],
        *,
        seed: int,
        start_ns: int,
        end_ns: int,
    ) -> None:
        self.t0 = start_ns - _NS  # margin for lags
        self.n = (end_ns - self.t0) // GRID_NS + 2
        rng = random.Random(f"{seed}/latent")
        # Every asset is simulated, whatever is quoted: a pair's path does not depend on
        # which other pairs were asked for.
        self.assets = list(specs.ASSETS)
        self.paths: dict[str, list[float]] = {}
        self._diffuse(rng)
        market = [
            (t, self._jump_size(rng))
            for t in self._poisson_times(rng, specs.JUMP_RATE, start_ns, end_ns)
        ]
        jumps: dict[str, list[tuple[int, float]]] = {}
        for a in self.assets:
            spec = specs.ASSETS[a]
            if spec.vol == 0.0:
                continue
            own = [(t, s * spec.jump_beta) for t, s in market]
            own += [
                (t, self._jump_size(rng))
                for t in self._poisson_times(rng, spec.idio_jump_rate, start_ns, end_ns)
            ]
            jumps[a] = sorted(own)
        self.jumps = jumps
        self._arrivals: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        for v in venues:
            vrng = random.Random(f"{seed}/{v.name}/jumps")
            lag_ns = int(v.lag_ms * 1e6)
            for a, js in jumps.items():
                arr = sorted(
                    (t + lag_ns + int(vrng.expovariate(1.0 / v.jump_delay_ms) * 1e6), s)
                    if v.jump_delay_ms > 0
                    else (t + lag_ns, s)
                    for t, s in js
                )
                cum = [0.0]
                for _, s in arr:
                    cum.append(cum[-1] + s)
                self._arrivals[(v.name, a)] = ([t for t, _ in arr], cum)

    def _diffuse(self, rng: random.Random) -> None:
        dt = GRID_NS / _NS / _YEAR_S
        sq = math.sqrt(dt)
        gauss = rng.gauss
        n = self.n
        common = [gauss(0.0, 1.0) for _ in range(n)]
        for a in self.assets:
            spec = specs.ASSETS[a]
            x = math.log(spec.start)
            if spec.vol == 0.0:
                self.paths[a] = [x] * n
                continue
            s = spec.vol * sq
            drift = -0.5 * spec.vol * spec.vol * dt
            rho, rho_c = spec.corr, math.sqrt(max(0.0, 1.0 - spec.corr * spec.corr))
            path = [0.0] * n
            for i in range(n):
                z = rho * common[i] + rho_c * gauss(0.0, 1.0) if rho_c else common[i]
                x += drift + s * z
                path[i] = x
            self.paths[a] = path

    @staticmethod
    def _poisson_times(rng: random.Random, rate: float, start_ns: int, end_ns: int) -> list[int]:
        out: list[int] = []
        if rate <= 0:
            return out
        t = float(start_ns)
        while True:
            t += rng.expovariate(rate) * _NS
            if t >= end_ns:
                return out
            out.append(int(t))

    @staticmethod
    def _jump_size(rng: random.Random) -> float:
        bps = min(
            specs.JUMP_MAX_BPS, specs.JUMP_MEDIAN_BPS * math.exp(rng.gauss(0, specs.JUMP_SIGMA))
        )
        return bps * 1e-4 * (1.0 if rng.random() < 0.5 else -1.0)

    def log_price(self, asset: str, venue: VenueSpec, t_ns: int) -> float:
        """Log USDT price of ``asset`` as ``venue`` sees it at ``t_ns``."""
        path = self.paths[asset]
        i = (t_ns - int(venue.lag_ms * 1e6) - self.t0) // GRID_NS
        x = path[min(max(i, 0), self.n - 1)]
        arr = self._arrivals.get((venue.name, asset))
        if arr is not None:
            x += arr[1][bisect_right(arr[0], t_ns)]
        return x


class Quoter:
    """Quotes one instrument on one venue: its touch (best bid, best ask) in ticks."""

    def __init__(
        self,
        market: LatentMarket,
        venue: VenueSpec,
        inst: InstrumentSpec,
        rng: random.Random,
    ) -> None:
        self.market = market
        self.venue = venue
        self.base, self.quote = assets_of(inst.symbol)
        self.tick = float(inst.tick_size)
        self.rng = rng
        self.noise = rng.gauss(0.0, venue.noise_bps * 1e-4)
        self.basis = venue.basis_bps * 1e-4
        self.last_ns = 0

    def mid(self, t_ns: int) -> float:
        """The venue's mid price at ``t_ns`` (advances its own noise; call in time order)."""
        v = self.venue
        if self.last_ns:
            a = math.exp(-(t_ns - self.last_ns) / _NS / v.noise_tau_s)
            sd = v.noise_bps * 1e-4 * math.sqrt(max(0.0, 1.0 - a * a))
            self.noise = self.noise * a + self.rng.gauss(0.0, sd)
        self.last_ns = t_ns
        m = self.market
        x = m.log_price(self.base, v, t_ns) - m.log_price(self.quote, v, t_ns)
        return math.exp(x + self.noise + self.basis)

    def touch(self, t_ns: int) -> tuple[int, int, float]:
        """Return ``(best_bid_tick, best_ask_tick, mid)`` at ``t_ns``."""
        mid = self.mid(t_ns)
        hs = self.venue.half_spread_bps * 1e-4 * math.exp(self.rng.gauss(0.0, 0.3))
        bid = math.floor(mid * (1.0 - hs) / self.tick)
        ask = math.ceil(mid * (1.0 + hs) / self.tick)
        if ask <= bid:
            ask = bid + 1
        return bid, ask, mid
