"""Any exchange ccxt supports, as an arb venue: instruments, books, orders and balances.

ccxt's dicts and floats stay inside this package: they are converted at once, exactly, into
arb's typed values (``Instrument``, ``BookSnapshot``, ``OrderEvent``s, raw integers).
"""
