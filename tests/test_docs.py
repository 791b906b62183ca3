"""The docs' "real output" blocks (tools/dev/docs.py): each is known to a run, the quick runs
agree with the docs exactly, a drifted block is caught, and no file of the repository
points outside it. The slow runs (the simulator, the virtual board) are `make docs-check`.
"""

import re
import subprocess
import sys

import pytest

from tools.dev import docs

ROOT = docs.ROOT
FENCE = re.compile(r"^```")
# a paragraph that says the block after it is what a command printed
CLAIM = re.compile(r"\breal (output|session)\b", re.I)


def fenced_blocks(path):
    """(first line number, the paragraph before it, marked) of every opening fence."""
    lines = path.read_text().split("\n")
    out, inside = [], False
    for i, line in enumerate(lines):
        if not FENCE.match(line):
            continue
        inside = not inside
        if not inside:
            continue
        marked = i > 0 and docs.MARKER.fullmatch(lines[i - 1].strip()) is not None
        end = i - marked
        while end > 0 and not lines[end - 1].strip():
            end -= 1
        start = end
        while start > 0 and lines[start - 1].strip() and not FENCE.match(lines[start - 1]):
            start -= 1
        out.append((i + 1, " ".join(lines[start:end]), marked))
    return out


@pytest.mark.host
def test_every_marked_block_has_a_run_and_every_run_a_block():
    marked = {name for path in docs.doc_files() for name, *_ in docs.blocks(path)}
    assert marked == docs.block_names()


@pytest.mark.host
def test_every_block_the_docs_call_real_output_is_marked():
    unmarked = ["%s:%d" % (path.name, line) for path in docs.doc_files()
                for line, before, marked in fenced_blocks(path)
                if CLAIM.search(before) and not marked]
    assert unmarked == []


@pytest.mark.host
def test_real_output_shows_no_absolute_path():
    for path in docs.doc_files():
        for name, first, _, text in docs.blocks(path):
            assert not re.search(r"(^|[\s'\"=(])/(tmp|work|home|root|var|private)/", text, re.M), \
                "%s:%d %s" % (path.name, first, name)
            assert str(ROOT) not in text


def test_the_quick_blocks_agree_with_a_fresh_run():
    outputs = docs.generate([n for n, r in docs.RUNS.items() if r.cheap])
    assert docs.check(outputs) == []


def _doc(tmp_path, name, text):
    page = tmp_path / "page.md"
    page.write_text("Real output:\n\n<!-- output: %s -->\n```\n%s\n```\n" % (name, text))
    return page


@pytest.mark.host
def test_a_drifted_block_is_caught(tmp_path):
    """Exact blocks: any change. Shape blocks: words and lines, not numbers or times."""
    fresh = docs.Output("$ make x\nupload: sent 6 in 1 request, backlog 0\nsleep 3 s")
    assert docs.check({"x": fresh}, [_doc(tmp_path, "x", fresh.text)]) == []
    stale = _doc(tmp_path, "x", fresh.text.replace("sent 6 in 1 request", "sent 6, 1 requests"))
    assert "differs from a fresh run" in docs.check({"x": fresh}, [stale])[0]

    full = "[  1 2026-12-03T19:27:07Z] stored 3, backlog 3\n[  2 2026-12-03T19:28:07Z] " \
        "upload: sent 6 in 1 request, backlog 0\nThe node sampled 6 readings"
    shape = docs.Output("", full)
    ok = "[  1 2026-11-27T07:00:00Z] stored 4, backlog 4\n...\nThe node sampled 9 readings"
    assert docs.check({"s": shape}, [_doc(tmp_path, "s", ok)]) == []
    for drift in ("[  2 2026-11-27T07:01:00Z] upload: sent 6, 1 requests, backlog 0",
                  "The node sampled 9 readings\n[  1 2026-11-27T07:00:00Z] stored 4, backlog 4"):
        problems = docs.check({"s": shape}, [_doc(tmp_path, "s", drift)])
        assert len(problems) == 1 and "a fresh run prints no line like" in problems[0]


@pytest.mark.host
def test_no_file_refers_to_a_path_outside_the_repository():
    outside = re.compile(r"\.\./" + "shared|shared/" + "(research|sensocan)|/" + "work/")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    found = []
    for name in files:
        if name == ".ci/run":  # CI's own machine: the 32-bit MicroPython it was given
            continue
        try:
            text = (ROOT / name).read_text()
        except (UnicodeDecodeError, OSError):
            continue
        found += ["%s:%d" % (name, n) for n, line in enumerate(text.splitlines(), 1)
                  if outside.search(line)]
    assert found == []


@pytest.mark.host
@pytest.mark.parametrize("example", ["boards/unix/config.json", "boards/esp32/config.json"])
def test_the_shipped_examples_check_without_a_warning(example):
    res = subprocess.run([sys.executable, "-m", "tools.check_config", "--skip-files", example],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0 and "warning" not in res.stdout, res.stdout
