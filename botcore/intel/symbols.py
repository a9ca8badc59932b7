"""Map ccxt unified symbols (``BTC/USDT:USDT``) to each provider's naming.

CoinGlass pair endpoints take an exchange name (``Binance``) and that
exchange's own pair id (``BTCUSDT``); Binance and Bybit list a few low-priced
coins per 1000 units (``1000PEPEUSDT``). Every CoinGlass value this package
reads is in USD, so that multiplier never changes a number. CryptoCompare
and CoinGlass coin endpoints take the base coin (``BTC``).
"""

from __future__ import annotations

from collections.abc import Mapping

#: coins Binance and Bybit list per 1000 units in their USDT perpetuals
THOUSAND_UNIT_COINS = frozenset({"PEPE", "SHIB", "BONK", "FLOKI", "LUNC", "XEC", "SATS", "RATS", "CAT"})


def base_coin(symbol: str) -> str:
    """Return the base coin of a ccxt USDT perpetual: ``BTC/USDT:USDT`` -> ``BTC``.

    Raises
    ------
    ValueError
        If ``symbol`` is not ``BASE/USDT:USDT``.
    """
    base, _, rest = symbol.partition("/")
    if not base or rest != "USDT:USDT":
        raise ValueError(f"symbol: {symbol!r} is not a USDT perpetual in ccxt's unified form BASE/USDT:USDT")
    return base


def coinglass_pair(symbol: str, exchange: str = "Binance", overrides: Mapping[str, str] | None = None) -> str:
    """Return CoinGlass's pair id of ``symbol`` on ``exchange``.

    ``overrides`` (ccxt symbol -> pair id) wins over the rules: ``Binance`` and
    ``Bybit`` use ``BASEUSDT`` (``1000BASEUSDT`` for :data:`THOUSAND_UNIT_COINS`),
    ``OKX`` uses ``BASE-USDT-SWAP``.

    Raises
    ------
    ValueError
        For an exchange without a rule and no override.
    """
    if overrides and symbol in overrides:
        return overrides[symbol]
    base = base_coin(symbol)
    if exchange in ("Binance", "Bybit"):
        return f"1000{base}USDT" if base in THOUSAND_UNIT_COINS else f"{base}USDT"
    if exchange == "OKX":
        return f"{base}-USDT-SWAP"
    raise ValueError(f"exchange: no CoinGlass pair rule for {exchange!r}; pass pair_overrides for {symbol}")
