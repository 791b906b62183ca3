# Heap probe (MicroPython): one upload window and one sampling round on a spool that
# already holds a backlog. Run at shrinking -X heapsize until it fails: the smallest
# heap that works is the spool's peak, whatever the backlog.
#   micropython spool_heap.py IMAGE SCRATCH    (works on SCRATCH, a copy of IMAGE)
import sys

import flashdev
import vfs

from spool import RECORD, Spool

buf = bytearray(1024)
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    while src.readinto(buf):
        dst.write(buf)
vfs.mount(vfs.VfsLfs2(flashdev.FlashImage(sys.argv[2])), "/flash")
sp = Spool("/flash/data/spool")
buf = bytearray(50 * RECORD)
n = sp.read(0, buf)
sp.ack(n)
for s in range(5):
    sp.append(s, 60060400, 21.5)
sp.commit()
print("OK", sp.pending())
