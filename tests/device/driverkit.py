# Device test helpers (MicroPython) shared by the driver tests: expected exceptions,
# the heap locked, and what a call allocates.
import gc

import micropython


def raises(exc, fn, *args):
    """The exception fn(*args) raises, which must be an `exc`."""
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def oserror(code, fn, *args):
    e = raises(OSError, fn, *args)
    assert e.errno == code, e
    return e


def locked(fn):
    """fn() with the heap locked: anything it allocates raises MemoryError."""
    micropython.heap_lock()
    try:
        return fn()
    finally:
        micropython.heap_unlock()


def bytes_per_call(fn, n=5):
    """Heap bytes fn() allocates a call, after a first call (gc off: nothing is freed)."""
    fn()
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(n):
            fn()
        return (gc.mem_alloc() - before) // n
    finally:
        gc.enable()
