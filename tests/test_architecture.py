"""The rules of the house (docs/architecture.md), checked on the sources with `ast`: who
may import what, how long a device module may grow, and the page's module list against
the files. CPython only: nothing here runs device code."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEVICE_DIRS = ("firmware", "lib", "boards")
HARDWARE = {"machine", "network", "esp32"}
MAX_LINES = 400
# Scripts in tools/ that run under MicroPython (tools/dev/bench runs them): device code
MICROPYTHON_SCRIPTS = {"tools/dev/bench/spool_fill.py", "tools/dev/bench/spool_flash.py",
                       "tools/dev/bench/spool_heap.py", "tools/dev/bench/drain_node.py"}
SHIM = "tools.devicelib"
pytestmark = pytest.mark.host  # make test-32bit leaves it out


def rel(path):
    return path.relative_to(ROOT).as_posix()


def sources(*dirs):
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py"))


def device_files():
    return sources(*DEVICE_DIRS) + [ROOT / s for s in sorted(MICROPYTHON_SCRIPTS)]


def imports(path):
    """[(line, top-level module)] of every absolute import in `path`, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.append((node.lineno, node.module))
    return found


def top(name):
    return name.split(".")[0]


def strings(path):
    return {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


def module_names(folder):
    """The names a folder's modules and packages import by."""
    return {p.stem for p in folder.glob("*.py")} | {
        p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


FIRMWARE = module_names(ROOT / "firmware")
# What only the emulated board has: its folder's modules but the one both boards have
UNIX_ONLY = module_names(ROOT / "boards/unix") - module_names(ROOT / "boards/esp32")
DEVICE = (FIRMWARE | module_names(ROOT / "lib") | module_names(ROOT / "boards/unix")
          | module_names(ROOT / "boards/esp32") | {"_boot"})


def test_the_module_name_sets_are_what_the_rules_mean():
    """A rule over an empty or wrong set would pass whatever the code did."""
    assert {"node", "sampler", "boot", "main"} <= FIRMWARE
    assert {"i2csim", "simsensors", "flashdev", "reset", "chips"} <= UNIX_ONLY
    assert "board" not in UNIX_ONLY and "board" in DEVICE
    assert {"config", "spool", "httpc", "drivers", "board"} <= DEVICE


def test_hardware_modules_are_imported_only_in_boards():
    found = [(rel(p), line, name) for p in sources("firmware", "lib") + [
        ROOT / s for s in sorted(MICROPYTHON_SCRIPTS)]
        for line, name in imports(p) if top(name) in HARDWARE]
    assert found == []
    # and boards/ does use them: the rule looks where they are
    assert "machine" in {top(n) for _, n in imports(ROOT / "boards/esp32/board.py")}


def test_firmware_and_lib_neither_import_nor_name_a_unix_board_module():
    found = set()
    for p in sources("firmware", "lib"):
        found |= {(rel(p), top(n)) for _, n in imports(p) if top(n) in UNIX_ONLY}
        found |= {(rel(p), s) for s in strings(p) if s in UNIX_ONLY}
    assert not found, sorted(found)


def test_lib_does_not_import_firmware():
    found = [(rel(p), line, n) for p in sources("lib") for line, n in imports(p)
             if top(n) in FIRMWARE]
    assert found == []


def test_device_code_imports_nothing_from_tools_or_tests():
    found = [(rel(p), line, n) for p in device_files() for line, n in imports(p)
             if top(n) in ("tools", "tests")]
    assert found == []


def test_tools_reach_device_modules_only_through_the_shim():
    """A host tool runs device code after `from tools import devicelib` (lib/ on sys.path),
    and no other host module edits sys.path to find it."""
    found = []
    for p in sources("tools"):
        if rel(p) in MICROPYTHON_SCRIPTS or rel(p) == "tools/devicelib.py":
            continue
        lines = imports(p)
        shim = [line for line, n in lines if n == SHIM] + [
            node.lineno for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module == "tools"
            and "devicelib" in [a.name for a in node.names]]
        found += [(rel(p), line, n) for line, n in lines
                  if top(n) in DEVICE and not (shim and min(shim) < line)]
        found += [(rel(p), node.lineno, "sys.path") for node in ast.walk(ast.parse(p.read_text()))
                  if isinstance(node, ast.Attribute) and node.attr == "path"
                  and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert found == []
    # the rule has something to check: the tools that do run device code
    users = {rel(p) for p in sources("tools") if "config" in {top(n) for _, n in imports(p)}}
    assert {"tools/check_config.py", "tools/battery_life.py"} <= users


def test_no_device_module_is_over_400_lines():
    found = {(rel(p), MAX_LINES) for p in sources(*DEVICE_DIRS)
             if len(p.read_text().splitlines()) > MAX_LINES}
    assert not found, sorted(found)


def doc_modules():
    """The paths docs/architecture.md's module list names: {path: has entries below}."""
    text = (ROOT / "docs/architecture.md").read_text()
    block = re.search(r"## Where things live\n.*?```\n(.*?)```", text, re.S).group(1)
    named, stack = {}, []
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        entry = line.split()[0]
        del stack[depth:]
        if stack:
            named[stack[-1]] = True  # a folder with entries below
        path = (stack[-1] if stack else "") + entry
        named[path] = False
        if entry.endswith("/"):
            stack.append(path)
    return {p.rstrip("/"): below for p, below in named.items()}


def test_the_architecture_page_names_every_device_module_and_only_those():
    named = doc_modules()
    missing_files = [p for p in named if not (ROOT / p).exists()]
    assert missing_files == []
    # a folder named with nothing below it stands for every module in it
    whole = [p for p, below in named.items() if not below and (ROOT / p).is_dir()]
    unnamed = [rel(p) for p in sources(*DEVICE_DIRS) if rel(p) not in named
               and not any(rel(p).startswith(w + "/") for w in whole)
               and not (p.name == "__init__.py" and rel(p.parent) in named)]
    assert unnamed == []
