# Runs first after every reset: pick the code set (otastart.py: field updates), then
# decide whether the node may run (safemode.py).
import board
import otastart
