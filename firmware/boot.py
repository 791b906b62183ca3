# Runs first after every reset: pick the code set (otaboot.py: field updates), then
# decide whether the node may run (safemode.py).
import board
import otaboot

otaboot.start(board)
