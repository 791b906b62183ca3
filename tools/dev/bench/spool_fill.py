# Backlog maker (MicroPython): a flash image whose spool holds N readings of SENSORS
# sensors (numbers 0..SENSORS-1, 5 by default), a minute apart up to node time T_END
# (clock.py; by default 2026-11-27).
#   micropython spool_fill.py IMAGE N [SENSORS] [T_END]
import os
import sys

import flashdev
import vfs

from spool import Spool

path, n = sys.argv[1], int(sys.argv[2])
sensors = int(sys.argv[3]) if len(sys.argv) > 3 else 5
t_end = int(sys.argv[4]) if len(sys.argv) > 4 else 60060400
try:
    os.remove(path)
except OSError:
    pass
dev = flashdev.FlashImage(path)
vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), "/flash")
os.mkdir("/flash/data")
sp = Spool("/flash/data/spool")
rounds = (n + sensors - 1) // sensors
for i in range(n):
    r, s = divmod(i, sensors)
    sp.append(s, t_end - 60 * (rounds - r), 18.0 + s + (r * 37 % 1000) / 100)  # varied, like data
    if s == sensors - 1 or i == n - 1 or sp._staged == 64:
        sp.commit()
print("FILLED", sp.pending())
