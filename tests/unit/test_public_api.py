"""arb's top-level API re-exports what users build on, and nothing is missing."""

import arb
from arb import config
from arb import recording
from arb.core import book
from arb.core import detector
from arb.core import errors
from arb.core import events
from arb.core import instruments
from arb.core import ledger
from arb.core import messages
from arb.core import opportunity
from arb.core import orders
from arb.core import risk
from arb.core import sync
from arb.core import types
from arb.core import unwind

MODULES = [
    book,
    errors,
    events,
    instruments,
    sync,
    types,
    recording,
    messages,
    opportunity,
    orders,
    ledger,
    detector,
    risk,
    unwind,
]


def test_all_names_exist():
    missing = [n for n in arb.__all__ if not hasattr(arb, n)]
    assert not missing


def test_all_is_unique():
    assert len(set(arb.__all__)) == len(arb.__all__)


def test_public_names_of_core_modules_are_reexported():
    wanted = {n for m in MODULES for n in m.__all__} - {"FORMAT", "MANIFEST", "VERSION"}
    wanted |= {"Config", "load_config"}
    assert wanted - set(arb.__all__) == set()
    assert {"Config", "load_config"} <= set(config.__all__)
