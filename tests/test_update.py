"""Field updates on the emulated board (docs/updates.md): the real firmware, its flash
image, the mock API and a release served over HTTPS with the test CA.

A release here is built for the unix board (tools/release.py --board unix), so the
emulated node can run it; B's node.mpy is compiled from firmware/node.py with one line
changed, which makes it mark its wakes, crash at import or never reach the radio.
"""

import json

import pytest

from tests.nodekit import ROOT, Kit, backlog, sampled
from tools import certs, release, release_server

# firmware/updater.py's result codes (the "update" health figure)
UP_TO_DATE, CONFIRMED, STAGED, ROLLED_BACK, REFUSED, FAILED = range(6)
B = "1.0.1"
B_NUMBER = 1000001  # the "version" figure of 1.0.1
REPORT = "        self.board.report(fig)\n"


def make_release(folder, version=B, node=None, settings=None, module="node"):
    """A unix-board release in `folder`; `node` (old, new) edits the source of firmware/
    `module`.py."""
    _, doc = release.release(version, board="unix", settings=settings, out=folder)
    if node:
        src = (ROOT / "firmware" / (module + ".py")).read_text()
        assert node[0] in src
        release.recompile(folder, doc, module + ".mpy", src.replace(node[0], node[1]))
    return doc


class Field:
    """A Kit whose node checks a release server for updates at every upload wake."""

    def __init__(self, tmp, **update):
        self.kit = Kit(tmp)
        self.rel = tmp / "rel"
        self.srv = release_server.ReleaseServer(self.rel, self.kit.paths["cert"],
                                                self.kit.paths["key"]).start()
        self.configure(**update)
        self.runs = []

    def configure(self, **update):
        update.setdefault("manifest_url", self.srv.url())
        update.setdefault("check_interval_s", 60)
        self.kit.write_config(upload_interval_s=60, update=update)

    def wake(self):
        run = self.kit.sim.run_cycle()
        assert run.sleep_s is not None, run.output
        self.runs.append(run)
        return run

    def until(self, pred, most=12):
        """Wake until pred(run) holds (at most `most` wakes); returns that run."""
        for _ in range(most):
            run = self.wake()
            if pred(run):
                return run
        raise AssertionError("not within %d wakes:\n%s" % (most, "".join(
            r.output for r in self.runs[-most:])))

    def check(self):
        """Wake until the node has looked for a release; returns that run."""
        return self.until(lambda r: "update" in r.figures and "update: " in r.output)

    def all_arrive(self):
        """Every reading the wakes stored reached the server."""
        self.until(lambda r: "upload:" in r.output and backlog(r) == 0)
        assert len(self.kit.readings()) == sampled(self.runs)

    def stop(self):
        self.srv.stop()
        self.kit.stop()


@pytest.fixture
def field(tmp_path):
    f = Field(tmp_path)
    yield f
    f.stop()


def test_an_update_arrives_runs_and_is_confirmed_by_an_upload(field):
    make_release(field.rel, node=(REPORT, '        fig["release"] = 2\n' + REPORT))
    staged = field.check()
    assert staged.figures["update"] == STAGED and "release" not in staged.figures
    assert "update: 1.0.1 staged" in staged.output
    first = field.wake()  # the next boot runs B, on trial
    assert first.figures["release"] == 2 and first.figures["version"] == B_NUMBER
    assert "version 1.0.1 on trial" in first.output
    confirmed = field.until(lambda r: "upload:" in r.output and r.figures.get("sent"))
    assert confirmed.figures["update"] == CONFIRMED
    assert "update: confirmed 1.0.1: an upload was stored with it" in confirmed.output
    later = field.wake()
    assert later.figures["release"] == 2 and "on trial" not in later.output
    assert later.figures["rollbacks"] == 0
    field.all_arrive()


def test_a_release_that_raises_at_import_is_rolled_back_and_never_tried_again(field):
    make_release(field.rel, node=('"""The node', 'raise ImportError("B is broken")\n"""The node'))
    assert field.check().figures["update"] == STAGED
    crashed = [field.wake(), field.wake()]
    assert all("B is broken" in r.output and r.figures["crashes"] and "cycle" not in r.figures
               for r in crashed)
    back = field.wake()
    assert ("update: rolled back 1.0.1 to 0.0.0: crash loop: 2 boots did not finish a wake "
            "(ImportError: B is broken)") in back.output
    assert back.figures["version"] == 0 and back.figures["rollbacks"] == 1
    again = field.check()
    assert again.figures["update"] == REFUSED
    assert "update: 1.0.1 was refused or rolled back before: not tried again" in again.output
    field.all_arrive()


def test_a_release_that_cannot_upload_is_rolled_back_after_n_wakes(field):
    field.configure(max_wakes_unconfirmed=3)
    make_release(field.rel, module="upload",
                 node=('            self.board.link_up(self.wifi)\n',
                       '            raise OSError("B has no radio")\n'))
    assert field.check().figures["update"] == STAGED
    start = len(field.runs)
    back = field.until(lambda r: "rolled back" in r.output)
    on_trial = field.runs[start:-1]
    assert all(r.figures["version"] == B_NUMBER for r in on_trial)
    assert sum("B has no radio" in r.output for r in on_trial) == 3  # sampling wakes not counted
    assert ("update: rolled back 1.0.1 to 0.0.0: not confirmed: no upload stored in 3 upload "
            "wakes" in back.output), back.output
    assert back.figures["version"] == 0 and back.figures["rollbacks"] == 1
    field.all_arrive()


def test_a_settings_patch_the_validator_refuses_changes_nothing(field):
    make_release(field.rel, settings={"sample_interval_s": 0, "upload": {"chunk_max": 50}})
    assert field.check().figures["update"] == STAGED
    run = field.wake()  # the patch is validated at the boot that would switch
    assert run.figures["update"] == REFUSED and run.figures["version"] == 0
    assert ("update: settings patch of 1.0.1 refused: sample_interval_s: must be between 1 and "
            "86400 seconds, got 0") in run.output
    assert not list(field.kit.tmp.glob("config.*.json"))
    assert "update: 1.0.1 was refused or rolled back before: not tried again" in (
        field.check().output)
    # a patch that passes: the node samples every 120 s from the switch on
    make_release(field.rel, version="1.0.2", settings={"sample_interval_s": 120})
    assert field.check().figures["update"] == STAGED
    first = field.wake()
    assert first.figures["version"] == 1000002, first.output
    patched = json.loads((field.kit.tmp / "config.a.json").read_text())
    assert patched["sample_interval_s"] == 120
    assert patched["api"] == json.loads(field.kit.config_path.read_text())["api"]
    start = len(field.runs)
    for _ in range(6):
        field.wake()
    times = sorted({r.started for r in field.runs[start:] if r.figures.get("stored")})
    assert len(times) >= 2 and all(b - a >= 119 for a, b in zip(times, times[1:])), times
    field.all_arrive()


def test_bad_releases_are_refused_with_one_line_and_no_change(field, tmp_path):
    doc = make_release(field.rel, node=(REPORT, '        fig["release"] = 2\n' + REPORT))
    manifest = field.rel / "manifest.json"
    good = manifest.read_text()
    node = field.rel / "node.mpy"
    node_bytes = node.read_bytes()
    other = certs.make_ca(tmp_path / "other", ca_name="another CA")
    cases = [
        (lambda: manifest.write_text(good + " " * 9000), REFUSED, "manifest: more than 8192 bytes"),
        (lambda: manifest.write_text(good[:-1]), REFUSED, "manifest: not valid JSON"),
        (lambda: manifest.write_text(good.replace('"1.0.1"', '"1.0"')), REFUSED,
         'manifest: version must be "x.y.z", got \'1.0\''),
        (lambda: manifest.unlink(), FAILED, "manifest: HTTP 404"),
        (lambda: field.configure(ca_cert=str(other["ca_der"])), FAILED,
         "TLS: certificate not trusted"),
        (lambda: node.write_bytes(node_bytes[:-1] + b"\0"), FAILED, "node.mpy: wrong SHA-256"),
        (lambda: node.write_bytes(node_bytes + b"\0"), FAILED,
         "node.mpy: %d bytes, the manifest says %d" % (len(node_bytes) + 1, len(node_bytes))),
    ]
    assert doc["files"]
    for spoil, code, line in cases:
        manifest.write_text(good)
        node.write_bytes(node_bytes)
        field.configure()
        spoil()
        run = field.check()
        assert run.figures["update"] == code, (line, run.output)
        assert [ln for ln in run.output.splitlines() if "update: " in ln and line in ln], (
            line, run.output)
        assert field.wake().figures.get("version", 0) == 0  # still the deploy's own set
    field.all_arrive()
