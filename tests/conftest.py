"""pytest wiring shared by every test.

Files in tests/device/ named test_*.py are device code: they are collected here but
each test function runs in its own `micropython -X heapsize=64K` process (never under
CPython), compiled to .mpy like the firmware. A module may set another heap: `HEAP =
"node"` when what it tests runs in a phase of the node's wake, which has the node's heap
(tools/dev/unixport.node_heap(): an ESP32's, scaled on a 64-bit port), e.g. the whole upload
stack (uplink, sensocan, httpc, spool) in RAM at once. A device test passes when it
returns; a plain `assert` or any exception fails it.
Device tests find a scratch directory in the TEST_TMP environment variable.
"""

import ast
from pathlib import Path

import pytest

from tests.nodekit import Kit
from tools import build
from tools.dev import unixport as mpy

DEVICE_DIR = Path(__file__).parent / "device"


class DeviceModule(pytest.File):
    def collect(self):
        tree = ast.parse(self.path.read_text())
        heap = mpy.HEAP
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and getattr(node.targets[0], "id", None) == "HEAP"):
                heap = ast.literal_eval(node.value)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                item = DeviceTest.from_parent(self, name=node.name)
                item.heap = heap
                yield item


class DeviceTest(pytest.Item):
    def runtest(self):
        tmp = self.config._tmp_path_factory.mktemp(self.name[:40])
        res = mpy.run(
            [str(DEVICE_DIR / "runner.py"), self.path.stem, self.name],
            cwd=str(tmp),
            extra_path=[build.build_tests(DEVICE_DIR)],
            heap=mpy.node_heap() if self.heap == "node" else self.heap,
            env={"TEST_TMP": tmp},
        )
        if res.returncode != 0 or "@@PASS" not in res.stdout:
            raise DeviceTestFailure(res)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, DeviceTestFailure):
            r = excinfo.value.result
            return "MicroPython test failed (exit %d)\n--- stdout\n%s--- stderr\n%s" % (
                r.returncode, r.stdout, r.stderr)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "micropython: %s" % self.name


class DeviceTestFailure(Exception):
    def __init__(self, result):
        super().__init__("device test failed")
        self.result = result


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.parent == DEVICE_DIR and module_path.name.startswith("test_"):
        return DeviceModule.from_parent(parent, path=module_path)
    return None


@pytest.fixture
def kit(tmp_path):
    """An emulated node and its own mock server (tests/nodekit.py)."""
    k = Kit(tmp_path)
    yield k
    k.stop()
