"""The serving process's collector settings: the startup heap frozen, young collections rarer."""

from __future__ import annotations

import gc

from infra.gc_tuning import OLDER_THRESHOLDS, YOUNG_THRESHOLD, settle_heap_for_serving


def test_settle_heap_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        settle_heap_for_serving()
        assert gc.get_freeze_count() > 1000  # the modules and objects alive at startup
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
        assert gc.isenabled()  # cycles are still collected, only less often
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
