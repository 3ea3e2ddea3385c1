#!/usr/bin/env python3
"""Render the Grafana dashboard's panels from a Prometheus server into one PNG, without Grafana.

Usage (normally called by render.sh, which starts the Prometheus and the workload):

    /usr/bin/python3 render.py --prom http://127.0.0.1:PORT --start UNIX --end UNIX \
        [--dashboard k8s/base/monitoring/mav-pipeline-dashboard.json] [--out docs/img/dashboard.png] \
        [--step 2] [--note TEXT]

For every panel of the dashboard (rows become section headings, positions and sizes follow gridPos), each
target's `expr` is run through /api/v1/query_range over [start, end] with template variables replaced by their
"All" value (`allValue`, else `.*`) and Grafana's interval variables by concrete durations. Time series are drawn
with the target's legendFormat, stat panels as their last non-null value over a sparkline. A panel without data
says why: metrics of the kafka exporter or DCGM are not scraped locally; any other metric name the expression
uses that Prometheus has never seen is reported as missing (that is a mismatch between the dashboard and the
services). Prints a short summary (last value per panel and series) and the list of missing metric names.
Only the standard library, plus matplotlib (Debian: python3-matplotlib).
"""
import argparse
import datetime as dt
import json
import math
import re
import sys
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

# Why a family of metrics has no data on a local run (./mav up): no exporter for it there.
ABSENT_LOCALLY = [
    (re.compile(r"^kafka_"), "no kafka-exporter locally"),
    (re.compile(r"^DCGM_"), "no GPU on this machine (no dcgm-exporter)"),
]
# One colour per stage in every panel (pipeline order); p50/p95 and phases differ by line style.
STAGES = ["prior", "decoder", "interpolation", "sr-low", "sr-high"]
STAGE_COLOURS = dict(zip(STAGES, ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]))
PHASE_STYLES = {"fetch": ":", "inference": "-", "store": "--"}
TARGET_STYLES = ["-", "--", "-.", ":"]
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "by", "without", "on", "ignoring",
    "group_left", "group_right", "histogram_quantile", "le", "and", "or", "unless", "offset", "bool",
    "topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "abs", "clamp_min", "clamp_max",
    "label_replace", "label_join", "vector", "scalar", "time", "delta", "idelta", "deriv", "avg_over_time",
    "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "last_over_time", "absent", "round",
    "ceil", "floor", "sort", "sort_desc", "group", "inf", "nan",
}


def prom_get(base, path, params):
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=60) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {body}")
    return body["data"]


def substitute(expr, variables, step):
    """Replace Grafana variables in a PromQL expression by concrete values."""
    fixed = {
        "__rate_interval": f"{max(4 * step, 15)}s",
        "__interval": f"{step}s",
        "__range": "5m",
    }
    fixed.update(variables)

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return fixed.get(name, ".*")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", repl, expr)


def metric_names(expr):
    """Metric names an expression reads: identifiers not inside {...}/by(...)/[...] and not PromQL words."""
    stripped = re.sub(r"\{[^}]*\}", "", expr)
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    stripped = re.sub(r'"[^"]*"', "", stripped)
    names = []
    for tok in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        if tok.lower() in PROMQL_WORDS or tok in names:
            continue
        if re.fullmatch(r"\d+[smhdwy]", tok):
            continue
        names.append(tok)
    return names


def legend(fmt, metric):
    if not fmt:
        return ",".join(f"{k}={v}" for k, v in sorted(metric.items())) or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt).strip()


def fmt_value(v, unit):
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "–"
    if unit == "percentunit":
        return f"{v * 100:.1f}%"
    if unit == "percent":
        return f"{v:.1f}%"
    if unit == "s":
        return f"{v:.2f} s" if v < 100 else f"{v / 60:.1f} min"
    if unit == "bytes":
        for u in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(v) < 1024:
                return f"{v:.1f} {u}"
            v /= 1024
        return f"{v:.1f} PiB"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def axis_formatter(unit):
    if unit == "percentunit":
        return FuncFormatter(lambda v, _: f"{v * 100:.0f}%")
    if unit == "percent":
        return FuncFormatter(lambda v, _: f"{v:.0f}%")
    if unit == "s":
        return FuncFormatter(lambda v, _: f"{v:g} s")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prom", required=True)
    ap.add_argument("--start", type=float, required=True)
    ap.add_argument("--end", type=float, required=True)
    ap.add_argument("--step", type=float, default=2)
    ap.add_argument("--dashboard", default="k8s/base/monitoring/mav-pipeline-dashboard.json")
    ap.add_argument("--out", default="docs/img/dashboard.png")
    ap.add_argument("--note", default="")
    a = ap.parse_args()

    dash = json.load(open(a.dashboard))
    variables = {}
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "datasource":
            continue
        variables[v["name"]] = v.get("allValue") or ".*"

    known = set(prom_get(a.prom, "/api/v1/label/__name__/values", {}))
    panels = sorted(dash["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    total_h = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)

    unit_in = 0.42  # inches per gridPos height unit
    width_in = 18.0
    top_in = 0.9
    fig = plt.figure(figsize=(width_in, total_h * unit_in + top_in + 0.2), dpi=80)
    H = total_h * unit_in + top_in + 0.2
    start_s = dt.datetime.fromtimestamp(a.start, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    end_s = dt.datetime.fromtimestamp(a.end, dt.timezone.utc).strftime("%H:%M:%S UTC")
    fig.text(0.01, 1 - 0.35 / H, f"{dash.get('title', 'dashboard')}", fontsize=17, weight="bold", va="center")
    sub = f"rendered from Prometheus, {start_s} – {end_s}, scrape/step {a.step:g} s, stage = All"
    if a.note:
        sub += f"  ·  {a.note}"
    fig.text(0.01, 1 - 0.7 / H, sub, fontsize=10, color="#555", va="center")

    missing = {}  # metric name -> [panel titles]
    summary = []
    for p in panels:
        g = p["gridPos"]
        title = p.get("title", "")
        x0, w = g["x"] / 24, g["w"] / 24
        y_top_in = top_in + g["y"] * unit_in
        h_in = g["h"] * unit_in
        if p["type"] == "row":
            fig.text(0.01, 1 - (y_top_in + h_in * 0.6) / H, title, fontsize=13, weight="bold", color="#1f4e79",
                     va="center")
            fig.add_artist(plt.Line2D([0.01, 0.99], [1 - (y_top_in + h_in) / H] * 2, color="#1f4e79", lw=0.8))
            continue
        pad_x, pad_top, pad_bottom = 0.045 / 1.0, 0.45, 0.55
        left = x0 + (0.04 if g["w"] >= 12 else 0.012)
        right = x0 + w - 0.012
        bottom = 1 - (y_top_in + h_in - pad_bottom) / H
        height = (h_in - pad_top - pad_bottom) / H
        ax = fig.add_axes([left, bottom, right - left, height])
        ax.set_title(title, fontsize=11, loc="left", weight="bold")
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")

        series = []
        reasons = []
        for ti, t in enumerate(p.get("targets", [])):
            expr = substitute(t.get("expr", ""), variables, a.step)
            data = prom_get(a.prom, "/api/v1/query_range",
                            {"query": expr, "start": a.start, "end": a.end, "step": a.step})
            for r in data["result"]:
                ts = [dt.datetime.fromtimestamp(float(x), dt.timezone.utc) for x, _ in r["values"]]
                vs = [float(y) for _, y in r["values"]]
                m = r["metric"]
                style = PHASE_STYLES.get(m.get("phase"), TARGET_STYLES[ti % len(TARGET_STYLES)])
                order = (STAGES.index(m["stage"]) if m.get("stage") in STAGES else len(STAGES), ti,
                         list(PHASE_STYLES).index(m["phase"]) if m.get("phase") in PHASE_STYLES else 0)
                series.append((legend(t.get("legendFormat"), m), ts, vs,
                               {"color": STAGE_COLOURS.get(m.get("stage")), "ls": style, "order": order}))
            if not data["result"]:
                for name in metric_names(expr):
                    if name in known:
                        continue
                    why = next((msg for rx, msg in ABSENT_LOCALLY if rx.search(name)), None)
                    if why:
                        reasons.append(why)
                    else:
                        missing.setdefault(name, []).append(title)
                        reasons.append(f"metric {name} not exported (yet)")
        series.sort(key=lambda s: (s[3]["order"], s[0]))

        def last(vs):
            good = [v for v in vs if not (math.isnan(v) or math.isinf(v))]
            return good[-1] if good else float("nan")

        if not series:
            msg = "no data" + (":\n" + "\n".join(dict.fromkeys(reasons)) if reasons else "")
            ax.text(0.5, 0.5, msg, ha="center", va="center", fontsize=11, color="#a33", transform=ax.transAxes)
            ax.set_xticks([]); ax.set_yticks([])
            for s in ax.spines.values():
                s.set_color("#ccc")
            summary.append((title, [("", msg.replace("\n", " "))]))
            continue

        if p["type"] == "stat":
            name, ts, vs, _ = series[0]
            ax.fill_between(ts, vs, color="#73bf69", alpha=0.25, step=None)
            ax.plot(ts, vs, color="#73bf69", lw=1)
            ax.text(0.5, 0.5, fmt_value(last(vs), unit), ha="center", va="center", fontsize=26, weight="bold",
                    color="#2f7d32", transform=ax.transAxes)
            ax.text(0.98, 0.05, name, ha="right", va="bottom", fontsize=8, color="#555", transform=ax.transAxes)
            ax.set_xticks([]); ax.set_yticks([])
            ax.set_ylim(bottom=min(0, min(v for v in vs if not math.isnan(v)) if any(
                not math.isnan(v) for v in vs) else 0))
            for s in ax.spines.values():
                s.set_color("#ccc")
            summary.append((title, [(nm, fmt_value(last(v), unit)) for nm, _, v, _ in series]))
            continue

        for name, ts, vs, st in series:
            ax.plot(ts, vs, lw=1.4, label=name, color=st["color"], ls=st["ls"],
                    marker="." if len(vs) < 4 else None)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=dt.timezone.utc))
        ax.tick_params(labelsize=8)
        f = axis_formatter(unit)
        if f:
            ax.yaxis.set_major_formatter(f)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7.5 if len(series) <= 10 else 6.5, loc="center left", bbox_to_anchor=(1.0, 0.5),
                  frameon=False, labelspacing=0.3 if len(series) > 10 else 0.5, handlelength=2.6)
        summary.append((title, [(nm, fmt_value(last(v), unit)) for nm, _, v, _ in series]))

    # legends sit right of each time-series axes: shrink those axes so the legends stay inside their cell
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        pos = ax.get_position()
        ax.set_position([pos.x0, pos.y0, pos.width * 0.76, pos.height])
    fig.savefig(a.out, dpi=80)

    print(f"dashboard: {a.out}  ({start_s} – {end_s}, last values)")
    for title, rows in summary:
        print(f"  {title}")
        for nm, val in rows:
            print(f"      {nm + ': ' if nm else ''}{val}")
    if missing:
        print("metrics the dashboard uses that Prometheus never saw from the services:")
        for name, titles in missing.items():
            print(f"  {name}  (panels: {', '.join(dict.fromkeys(titles))})")
    else:
        print("every mav_* metric the dashboard uses was exported (kafka_* and DCGM_* are not scraped locally)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
