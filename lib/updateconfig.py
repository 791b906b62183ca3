"""config.json's optional "update" section (field updates, docs/updates.md), checked
with the validator's own checker (config.py calls check())."""

from configkit import INT, REQUIRED, STR


def check(c, raw, base_dir, cfg):
    """The normalised section into cfg["update"]; nothing when the config has none (a
    key less in the config every wake keeps)."""
    if raw.get("update") is None:
        return
    u = c.obj(raw, "update", "update")
    out = {}
    c.params(u, (("manifest_url", STR, REQUIRED), ("check_interval_s", INT, 86400, 60, 2592000),
                 ("ca_cert", STR, None), ("max_wakes_unconfirmed", INT, 6, 1, 100)),
             "update", out)
    url = out["manifest_url"]
    if type(url) is str:
        if not url.startswith(("https://", "http://")) or url.endswith("/"):
            c.err("update.manifest_url", "expected the http(s):// URL of a manifest.json")
        elif url.startswith("https://") and not (out["ca_cert"] or (raw.get("api") or {}).get(
                "ca_cert")):
            c.err("update.ca_cert", "required for https:// (or api.ca_cert)")
    if out["ca_cert"]:
        out["ca_cert"] = c.ca(out["ca_cert"], "update.ca_cert", base_dir)
    c.unknown(u, out, "update")
    cfg["update"] = out
