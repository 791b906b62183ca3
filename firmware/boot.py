# Runs first after every reset: decide whether the node may run (see safemode.py).
import board
import safemode

safemode.check(board)
