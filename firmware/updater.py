"""Field updates at an upload wake (docs/updates.md): confirm a set on trial, or fetch
a release's manifest and stage it, then switch the pointer for the next boot.

Called once the upload's drain is done and while the link is still up, so a check
costs no wake and no Wi-Fi join of its own. Every refusal is one log line and leaves
the flash as it was (a half-staged slot is not run, and is resumed next time).
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
_UNLOAD = ("config", "strictjson", "certfile", "otamanifest", "otastage", "atomic")


def check(node, now, res, http, until):
    """After a drain with the link up: confirm a trial once readings were stored; else,
    when update.check_interval_s has passed, look for a release."""
    board, st = node.board, otaboot.state
    up = node.cfg.get("update")
    if res.acked and otaboot.confirm(board):
        record(board, CONFIRMED, "confirmed %s: an upload was stored with it" % otaboot.version())
    if not up or st.get("trial") or now < st.get("next_check", 0):
        return
    st["next_check"] = now + up["check_interval_s"]
    http.close()  # one TLS session at a time: the heap holds one
    try:
        code, line = _look(node, up, until)
    except Exception as e:  # noqa: BLE001 - an update must never cost the wake
        code, line = FAILED, "%s: %s" % (type(e).__name__, e)
    finally:
        for name in _UNLOAD:
            sys.modules.pop(name, None)
    record(board, code, line)


def record(board, code, line):
    """Keep the result in the pointer (with a staged set: the switch) and log it."""
    st = otaboot.state
    st["code"], st["last"] = code, line
    otaboot.save(board, st)
    (log.info if code <= STAGED else log.error)("update: " + line)


def _look(node, up, until):
    import httpc

    cfg = node.cfg
    base, name = up["manifest_url"].rsplit("/", 1)
    try:
        with open(up["ca_cert"] or cfg["api"]["ca_cert"] or "", "rb") as f:
            ca = f.read()
    except OSError:
        ca = None
    try:
        c = httpc.Client(base, ca=ca, allow_insecure_http=cfg["api"]["allow_insecure_http"],
                         timeout_ms=int(cfg["api"]["timeout_s"] * 1000),
                         deadline_ms=int(cfg["api"]["timeout_s"] * 3000))
    except ValueError as e:
        return REFUSED, "update.manifest_url: %s" % e
    try:
        return _fetch(node, c, name, until)
    except httpc.HTTPError as e:
        return FAILED, "%s: %s" % (up["manifest_url"], e)
    finally:
        node.figures["update_bytes"] = c.bytes_received
        c.close()


def _fetch(node, c, name, until):
    import otamanifest

    buf = bytearray(otamanifest.MAX_BYTES)
    got = [0]

    def sink(b, start, end):
        n = got[0]
        got[0] = n + end - start
        if got[0] <= len(buf):
            buf[n : got[0]] = b[start:end]

    r = c.request("GET", "/" + name, sink=sink)
    if r.status != 200:
        return FAILED, "manifest: HTTP %d from %s" % (r.status, name)
    if not r.complete:
        return FAILED, "manifest: the reply was cut short"
    n = got[0]
    if n > len(buf):
        return REFUSED, "manifest: more than %d bytes" % len(buf)
    doc = _strict(memoryview(buf)[:n])
    if type(doc) is str:
        return REFUSED, "manifest: " + doc
    buf = None
    if type(doc) is dict and doc.get("version") == otaboot.version():
        return UP_TO_DATE, "up to date (%s)" % otaboot.version()
    why = otamanifest.check(doc, otaboot.version(), otaboot.state.get("refused") or ())
    if why:
        return REFUSED, why
    return install(node, c, doc, until)


def install(node, c, doc, until):
    """Stage the checked release `doc` from the client `c` into the slot not running;
    (code, line). With STAGED, otaboot.state is the switched pointer, for record()."""
    cur = otaboot.state.get("cur") or {}
    slot = "b" if cur.get("set") == "a" else "a"
    new = {"set": slot, "version": doc["version"]}
    if doc.get("settings"):
        why = _patch(node.board, doc["settings"], slot, new)
        if why:
            return REFUSED, "settings patch refused: " + why
    return _stage(node, c, doc, new, until)


def _strict(data):
    """The JSON value of `data`, or why it is not strict JSON (a str)."""
    from io import BytesIO

    import strictjson

    why = strictjson.problem(BytesIO(data), len(data))
    if why:
        return why
    try:
        return json.loads(bytes(data))
    except ValueError:
        return "not valid JSON"


def _patch(board, settings, slot, new):
    """Merge the patch into config.json's content, check it with the node's validator,
    and keep it as config.<slot>.json; None when done, else the first problem."""
    import atomic
    import config as validator

    path = otaboot.config0 or board.CONFIG_PATH
    with open(path, "rb") as f:
        raw = _strict(f.read())
    if type(raw) is str:
        return "config.json: " + raw
    for k, v in settings.items():
        if type(v) is dict and type(raw.get(k)) is dict:
            raw[k].update(v)
        else:
            raw[k] = v
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    try:
        validator.validate(raw, base, True)
    except validator.ConfigError as e:
        return e.errors[0]
    new["config"] = validator.join(base, "config.%s.json" % slot)
    atomic.dump(new["config"], raw)
    new["base"] = otaboot.fingerprint(path)
    return None


def _stage(node, c, doc, new, until):
    import otastage

    board, st = node.board, otaboot.state
    root = otaboot.root(board)
    try:
        import os

        os.mkdir(root)
    except OSError:
        pass
    s = otastage.Stager(root + "/" + new["set"], _running())
    files = doc["files"]
    s.prepare(files)
    plan, need = s.plan(files)
    why = s.room(need)
    if why:
        return REFUSED, why
    for f, how in plan:
        node.wdt.feed()
        if time.ticks_diff(until, time.ticks_ms()) <= 0:
            return FAILED, "out of time after %d files: staging goes on next check" % s.files
        if how == "copy":
            why = s.copy(f)
        elif how == "get":
            why = _get(c, s, f)
        if why:
            return FAILED, why
    node.figures["update_files"] = s.files
    new_st = dict(st)
    new_st.update(prev=st.get("cur"), cur=new, trial=[0, 0, node.cfg["update"]["max_wakes_unconfirmed"]])
    otaboot.state = new_st
    return STAGED, "%s staged (%d files downloaded, %d bytes): it runs from the next boot" % (
        new["version"], s.files, s.fetched)


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
