# Device side (MicroPython): run one test function of one device test module.
# Usage: micropython runner.py <module> <test_name>
# Prints "@@PASS" on success; a failure prints its traceback and exits 1.
import sys

sys.path.pop(0)  # this script's directory: import the tests' .mpy (MICROPYPATH), not their source
mod_name, test_name = sys.argv[1], sys.argv[2]
mod = __import__(mod_name)
getattr(mod, test_name)()
print("@@PASS")
