"""The spool's peak heap does not depend on how many readings wait on flash."""

from pathlib import Path

from tools.dev import unixport

BENCH = Path(__file__).resolve().parent.parent / "tools" / "dev" / "bench"


def backlog_image(path, n):
    res = unixport.run([str(BENCH / "spool_fill.py"), str(path), str(n)], heap="256K",
                       timeout=300)
    assert res.stdout.strip() == "FILLED %d" % n, res.stdout + res.stderr
    return path


def test_peak_heap_is_the_same_for_10_and_5000_stored_readings(tmp_path):
    peaks = []
    for n in (10, 5000):
        image = backlog_image(tmp_path / ("%d.img" % n), n)
        probe = [str(BENCH / "spool_heap.py"), str(image), str(tmp_path / "scratch.img")]
        peaks.append(unixport.min_heap(probe, lo=4, hi=64))
    assert peaks[0] is not None, "the spool does not even fit in 64 KiB"
    # 1 KiB of slack: the unix port's GC scans the C stack conservatively, so a stale
    # pointer there can keep a block alive now and then; anything that grew with the
    # backlog would cost at least a byte for each of the 5000 readings
    assert peaks[1] <= peaks[0] + 1, (
        "peak heap %d KiB with 10 readings, %d KiB with 5000" % tuple(peaks))
