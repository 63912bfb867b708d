"""An independent model of the kv annotation, written from the README's
rules, used to compute the expected output for the fake server's synthetic
answers."""

SCORE_PERIODS = ["overall", "last_day", "last_week", "last_month"]
SCORE_KINDS = ["aggressiveness", "threat", "trust", "anomaly", "total"]

DEFAULT_FIELDS = [
    "reputation", "confidence", "background_noise", "background_noise_score",
    "ip_range", "ip_range_score", "as_name", "as_num", "country", "behaviors",
    "classifications", "false_positives", "mitre_techniques", "cves",
    "target_countries", "references", "first_seen", "last_seen",
    "overall_aggressiveness", "overall_total", "last_day_aggressiveness",
    "last_day_total", "last_week_aggressiveness", "last_week_total",
    "last_month_aggressiveness", "last_month_total",
]


def _get(obj, *path):
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _names(lst):
    if not isinstance(lst, list):
        return None
    out = [x["name"] for x in lst if isinstance(x, dict) and isinstance(x.get("name"), str)]
    return ",".join(out) if out else None


def field_value(ans, name):
    simple = {"reputation", "confidence", "background_noise", "background_noise_score",
              "ip_range", "ip_range_score", "as_name", "as_num", "reverse_dns"}
    if name in simple:
        return ans.get(name)
    if name == "country":
        return _get(ans, "location", "country")
    if name in ("behaviors", "mitre_techniques", "references", "attack_details"):
        return _names(ans.get(name))
    if name == "classifications":
        return _names(_get(ans, "classifications", "classifications"))
    if name == "false_positives":
        return _names(_get(ans, "classifications", "false_positives"))
    if name == "cves":
        c = ans.get("cves")
        return ",".join(c) if isinstance(c, list) and c else None
    if name == "target_countries":
        t = ans.get("target_countries")
        return ",".join(t.keys()) if isinstance(t, dict) and t else None
    if name in ("first_seen", "last_seen"):
        return _get(ans, "history", name)
    for p in SCORE_PERIODS:
        if name.startswith(p + "_") and name[len(p) + 1:] in SCORE_KINDS:
            return _get(ans, "scores", p, name[len(p) + 1:])
    raise KeyError(name)


def quote(v):
    if isinstance(v, bool):
        v = "true" if v else "false"
    v = str(v)
    if v and not any(c in v for c in ' "=\\') and all(ord(c) >= 0x20 for c in v):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def annotation(ip, status, ans=None, index=1, fields=DEFAULT_FIELDS):
    sfx = "" if index == 1 else "_%d" % index
    parts = ["crowdsec_ip%s=%s" % (sfx, ip), "crowdsec_status%s=%s" % (sfx, status)]
    if status == "not_found":
        parts.append("crowdsec_reputation%s=unknown" % sfx)
    if status == "ok":
        for f in fields:
            v = field_value(ans, f)
            if v is not None:
                parts.append("crowdsec_%s%s=%s" % (f, sfx, quote(v)))
    return " " + " ".join(parts)
