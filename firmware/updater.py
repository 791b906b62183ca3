"""Field updates at an upload wake (docs/updates.md): fetch a release's manifest,
stage the release, then switch the pointer for the next boot.

Called by the upload phase once the link is up and the clock set, so a check costs no
wake and no Wi-Fi join of its own. Every refusal is one log line and leaves the flash
as it was (a half-staged slot is not run, and is resumed next time). The upload that
follows needs the heap back: the upload phase borrows this module and its helpers
(heap.Borrowed).
"""

import json
import sys
import time

from micropython import const

import log
import otaboot

# the update result, a health figure: what the last check or boot did
UP_TO_DATE = const(0)
CONFIRMED = const(1)
STAGED = const(2)
ROLLED_BACK = const(3)
REFUSED = const(4)
FAILED = const(5)


def check(phase, now, until):
    """With the link up and the clock set, before the upload's own TLS session (a second
    one would not fit beside it): when update.check_interval_s has passed and no set is
    on trial, look for a release. Staging takes at most half the time left to `until`."""
    board, st = phase.board, otaboot.state
    up = phase.update
    if not up or st.get("trial") or now < st.get("next_check", 0):
        return
    st["next_check"] = now + up["check_interval_s"]
    until = time.ticks_add(until, -time.ticks_diff(until, time.ticks_ms()) // 2)
    try:
        code, line = _look(phase, up, until)
    except Exception as e:  # noqa: BLE001 - an update must never cost the wake
        code, line = FAILED, "%s: %s" % (type(e).__name__, e)
    phase.res.figures["update"] = code
    record(board, code, line)


def record(board, code, line):
    """Keep the result in the pointer (with a staged set: the switch) and log it."""
    st = otaboot.state
    st["code"], st["last"] = code, line
    try:
        otaboot.save(board, st)
    except OSError as e:  # a full flash, say: the wake goes on, the pointer stays as it was
        code, line = FAILED, "%s; the result not kept: %s" % (line, e)
    (log.info if code <= STAGED else log.error)("update: " + line)


def _look(phase, up, until):
    import httpc

    api = phase.api
    base, name = up["manifest_url"].rsplit("/", 1)
    try:
        with open(up["ca_cert"] or api["ca_cert"] or "", "rb") as f:
            ca = f.read()
    except OSError:
        ca = None
    try:
        c = httpc.Client(base, ca=ca, allow_insecure_http=api["allow_insecure_http"],
                         timeout_ms=int(api["timeout_s"] * 1000),
                         deadline_ms=int(api["timeout_s"] * 3000))
    except ValueError as e:
        return REFUSED, "update.manifest_url: %s" % e
    try:
        return _fetch(phase, c, name, until)
    except httpc.HTTPError as e:
        return FAILED, "%s: %s" % (up["manifest_url"], e)
    finally:
        phase.res.figures["update_bytes"] = c.bytes_received
        c.close()


def _fetch(phase, c, name, until):
    """Stream the manifest to flash (no RAM buffer of its size: TLS has broken the heap
    up), check and parse it from there, and stage the release it names."""
    import otamanifest
    import otastage

    path = otaboot.root(phase.board, True) + "/manifest.json"
    sink = otastage.Sink(path, otamanifest.MAX_BYTES)
    try:
        r = c.request("GET", "/" + name, sink=sink)
    finally:
        sink.close()
    if r.status != 200:
        return FAILED, "manifest: HTTP %d from %s" % (r.status, name)
    if not r.complete:
        return FAILED, "manifest: the reply was cut short"
    if sink.n > sink.size:
        return REFUSED, "manifest: more than %d bytes" % sink.size
    doc = _strict(path, sink.n)
    if type(doc) is str:
        return REFUSED, "manifest: " + doc
    if type(doc) is dict and doc.get("version") == otaboot.version():
        return UP_TO_DATE, "up to date (%s)" % otaboot.version()
    why = otamanifest.check(doc, otaboot.version(), otaboot.state.get("refused") or ())
    if why:
        return REFUSED, why
    return install(phase, c, doc, until)


def install(phase, c, doc, until):
    """Stage the checked release `doc` from the client `c` into the slot not running;
    (code, line). With STAGED, otaboot.state is the switched pointer, for record()."""
    cur = otaboot.state.get("cur") or {}
    slot = "b" if cur.get("set") == "a" else "a"
    new = {"set": slot, "version": doc["version"]}
    return _stage(phase, c, doc, new, until)


def _strict(path, size):
    """The JSON value of the file, or why it is not strict JSON (a str)."""
    import strictjson

    with open(path, "rb") as f:
        why = strictjson.problem(f, size)
        if why:
            return why
        f.seek(0)
        try:
            return json.load(f)
        except ValueError:
            return "not valid JSON"


def _stage(phase, c, doc, new, until):
    import otastage

    board, st = phase.board, otaboot.state
    s = otastage.Stager(otaboot.root(board, True) + "/" + new["set"], _running())
    files = doc["files"]
    s.prepare(files)
    plan, need = s.plan(files)
    why = s.room(need)
    if why:
        return REFUSED, why
    for f, how in plan:
        phase.feed()
        if time.ticks_diff(until, time.ticks_ms()) <= 0:
            return FAILED, "out of time after %d files: staging goes on next check" % s.files
        if how == "copy":
            why = s.copy(f)
        elif how == "get":
            why = _get(c, s, f)
        if why:
            return FAILED, why
    phase.res.figures["update_files"] = s.files
    most = phase.update["max_wakes_unconfirmed"]
    st = otaboot.state = dict(st)
    if doc.get("settings"):  # the validator needs a heap TLS has not broken up: at boot
        new.update(settings=doc["settings"], most=most)
        st["staged"] = new
    else:
        st.update(prev=st.get("cur"), cur=new, trial=[0, 0, 0, most])
    return STAGED, "%s staged (%d file%s downloaded, %d bytes): it runs from the next boot%s" % (
        new["version"], s.files, "" if s.files == 1 else "s", s.fetched,
        " once its settings pass" if "settings" in new else "")


def _get(c, s, f):
    import otastage

    sink = otastage.Sink(s.slot + "/" + f["path"] + ".part", f["size"])
    try:
        r = c.request("GET", "/" + f["path"], sink=sink)
    finally:
        sink.close()
    s.fetched += sink.n
    s.files += 1
    if r.status != 200 or not r.complete:
        s.drop(f)
        return "%s: HTTP %d%s" % (f["path"], r.status, "" if r.complete else ", cut short")
    return s.finish(f, sink)


def _running():
    """The running set's root: the folder above the first lib/ on sys.path."""
    for p in sys.path:
        if p.endswith("/lib"):
            return p[:-4]
    return ""
