"""A Ctrl-C whose KeyboardInterrupt Python swallows (raised inside a finaliser) still stops a loop
that calls :func:`probekit.interrupts.check`."""

from __future__ import annotations

import gc
import weakref

import pytest

from probekit import interrupts


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_swallowed_in_a_finaliser_still_stops_the_loop():
    class Resource:
        pass

    resource = Resource()
    weakref.finalize(resource, interrupts._on_sigint, 2, None)  # the signal lands in a finaliser
    try:
        del resource
        gc.collect()  # Python prints "Exception ignored" and goes on: the exception itself is lost
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    finally:
        interrupts._interrupted.clear()
    interrupts.check()  # nothing recorded: no interrupt
