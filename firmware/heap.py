"""The heap at the wake's phase boundaries: collecting, measuring, unloading.

Every trick the node plays with RAM is here, and each one stayed because the 32-bit port
measured it (docs/internals.md, "Memory"): a phase that imports big modules (the
validator, the sampler and its drivers) gives them back before the next phase needs the
room, TLS above all.
"""

import gc
import sys


def free():
    """Free bytes after a collection: the figure a phase boundary reports."""
    gc.collect()
    return gc.mem_free()


class Borrowed:
    """`with heap.Borrowed():` forgets, on leaving, every module first imported inside,
    so their code and globals go back to the heap. Names none of them: what a phase
    imports depends on the board and the config (the emulated board's chip models too)."""

    def __init__(self):
        self.before = None

    def __enter__(self):
        self.before = set(sys.modules)

    def __exit__(self, *exc):
        for name in [n for n in sys.modules if n not in self.before]:
            del sys.modules[name]
        self.before = None
        gc.collect()
