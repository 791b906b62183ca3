# Backlog maker (MicroPython): a flash image whose spool holds N readings.
#   micropython spool_fill.py IMAGE N
import os
import sys

import flashdev
import vfs

from spool import Spool

path, n = sys.argv[1], int(sys.argv[2])
try:
    os.remove(path)
except OSError:
    pass
dev = flashdev.FlashImage(path)
vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), "/flash")
os.mkdir("/flash/data")
sp = Spool("/flash/data/spool")
for i in range(n // 5):
    for s in range(5):
        sp.append(s, 1795750000 + 60 * i, 18.0 + s + (i * 37 % 1000) / 100)  # varied, like data
    sp.commit()
print("FILLED", sp.pending())
