"""Development infrastructure, run by the test suite, `make docs` and `make bench`: the
Sensocan mock, the simulator, the virtual board and the unix-port runner. The commands a
user runs (make flash, deploy, config, monitor, logs, check-config, battery-life, sim)
are one level up, in tools/.
"""
