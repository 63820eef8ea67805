"""OKX instrument metadata: ``GET /api/v5/public/instruments`` -> ``Instrument``.

Sample (SWAP, trimmed)::

    {"code":"0","msg":"","data":[{"instType":"SWAP","instId":"UNI-USD-SWAP","uly":"UNI-USD",
     "settleCcy":"UNI","ctVal":"10","ctMult":"1","ctValCcy":"USD","ctType":"inverse",
     "tickSz":"0.001","lotSz":"1","minSz":"1","expTime":"","state":"live", ...}]}
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from arb.core.errors import DecodeError
from arb.core.errors import VenueError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from venues.okx.schemas import OkxInstrumentMsg
from venues.okx.schemas import OkxInstrumentsMsg
from venues.okx.symbols import from_venue_symbol

__all__ = ["INST_KINDS", "VENUE", "parse_instruments", "to_instrument"]

VENUE = "okx"

INST_KINDS: dict[str, InstrumentKind] = {
    "SPOT": InstrumentKind.SPOT,
    "SWAP": InstrumentKind.PERP,
    "FUTURES": InstrumentKind.FUTURE,
    "OPTION": InstrumentKind.OPTION,
}
"""OKX ``instType`` -> arb kind. MARGIN shares SPOT's books and ids; it is not listed."""

_decoder = msgspec.json.Decoder(OkxInstrumentsMsg)


def _contract_value(m: OkxInstrumentMsg) -> str:
    # Contract value = ctVal x ctMult; ctMult is "1" for swaps and futures (kept verbatim then)
    # and e.g. "0.1" for 2022 BTC options (1 contract = 0.1 BTC).
    if not m.ctVal:
        return "1"
    if m.ctMult in ("", "1"):
        return m.ctVal
    return format(Decimal(m.ctVal) * Decimal(m.ctMult), "f")


def to_instrument(m: OkxInstrumentMsg) -> Instrument:
    """Convert one OKX instrument entry to an ``Instrument``.

    Parameters
    ----------
    m
        A decoded entry of ``data``; ``instType`` must be one of ``INST_KINDS``.

    Returns
    -------
    Instrument
        ``venue="okx"``, canonical ``symbol``, ``venue_symbol=instId``. Spot takes base and
        quote from ``baseCcy``/``quoteCcy``; derivatives from ``instFamily`` (or ``uly``
        before 2023), e.g. ``"BTC-USD"``. ``inverse`` is ``ctType == "inverse"``;
        ``expiry_ns`` comes from ``expTime`` (ms), 0 when empty.

    Raises
    ------
    DecodeError
        For an unknown ``instType``, an ``instId`` of unknown shape or a non-numeric field.
    """
    kind = INST_KINDS.get(m.instType)
    if kind is None:
        raise DecodeError(f"okx instrument {m.instId!r}: instType {m.instType!r} not supported")
    try:
        symbol = from_venue_symbol(m.instId)
        if kind is InstrumentKind.SPOT:
            base, quote = m.baseCcy, m.quoteCcy
        else:
            base, _, quote = (m.instFamily or m.uly).partition("-")
        if not base or not quote:
            base, quote = m.instId.split("-")[:2]
        expiry_ns = int(m.expTime) * 1_000_000 if m.expTime else 0
        return Instrument.create(
            venue=VENUE,
            symbol=symbol,
            venue_symbol=m.instId,
            kind=kind,
            base=base,
            quote=quote,
            settle=m.settleCcy,
            tick_size=m.tickSz,
            lot_size=m.lotSz,
            min_size=m.minSz or "0",
            contract_value=_contract_value(m),
            contract_value_ccy=m.ctValCcy,
            inverse=m.ctType == "inverse",
            expiry_ns=expiry_ns,
        )
    except (ValueError, ArithmeticError) as e:
        raise DecodeError(f"okx instrument {m.instId!r}: {e}") from e


def parse_instruments(body: bytes) -> list[Instrument]:
    """Parse the body of ``GET /api/v5/public/instruments`` into instruments.

    Parameters
    ----------
    body
        The response body: the envelope ``{"code":"0","msg":"","data":[...]}``.

    Returns
    -------
    list[Instrument]
        One instrument per SPOT, SWAP, FUTURES or OPTION entry, in the venue's order
        (entries of other instTypes, such as MARGIN, are skipped).

    Raises
    ------
    VenueError
        When ``code`` is not ``"0"`` (``venue="okx"``, ``code`` as sent).
    DecodeError
        When the body is not the documented envelope or an entry cannot be converted.
    """
    try:
        msg = _decoder.decode(body)
    except msgspec.DecodeError as e:
        raise DecodeError(f"okx /api/v5/public/instruments: malformed response: {e}") from e
    if msg.code != "0":
        raise VenueError(
            f"okx /api/v5/public/instruments: error code {msg.code}: {msg.msg}",
            venue=VENUE,
            code=msg.code,
        )
    return [to_instrument(m) for m in msg.data if m.instType in INST_KINDS]
