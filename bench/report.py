#!/usr/bin/env python3
"""The benchmark report: merges what the workloads wrote into one file, one page and plots.

    bench/report.py --results bench/results --status STATUS.jsonl --machine MACHINE.json \\
        --date D --commit C [--dirty true] [--since EPOCH] [--mode full|smoke] [--readme README.md]

bench/run.sh calls it after the workloads. From RESULTS/<workload>.json it writes
RESULTS/latest.json ({date, commit, machine, runs, workloads: {name: that file}}),
RESULTS/latest.md (a table per workload with its headline figures and the ratios to the
references, then the issue's targets, met or missed) and RESULTS/<workload>.png (gnuplot).
A full run also replaces the README's text between <!-- bench:begin --> and
<!-- bench:end --> with the same page. A result file older than --since did not come from this
run: it is still shown, marked with its own date, so a partial run says what it is.
Only the standard library; gnuplot draws the plots (Debian's gnuplot-nox).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

WORKLOADS = [  # file name, letter, title
    ("listener_drain", "a", "listener drain"),
    ("durable_throughput", "b", "durable throughput"),
    ("latency", "c", "latency, commit to client"),
    ("fanout", "d", "fan-out"),
    ("write_cost", "e", "write cost"),
    ("micro", "micro", "micro-benchmarks"),
]
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


# --- formatting ------------------------------------------------------------------------------


def num(v, digits=0):
    """1234567 -> '1,234,567'; None -> '-'."""
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def rate(v):
    """Events per second, short: 1.23 M, 231 k, 950."""
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e4:
        return f"{v / 1e3:.0f} k"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"


def ratio(v):
    return "-" if v is None else f"{v:.2f}x"


def ms(us):
    """Microseconds shown as milliseconds."""
    if us is None:
        return "-"
    v = us / 1000
    return f"{v:.3f}" if v < 0.1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def table(header, rows, align=None):
    """A Markdown table; align: one of 'l'/'r' per column (default: first left, rest right)."""
    align = align or ["l"] + ["r"] * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |",
           "| " + " | ".join(":---" if a == "l" else "---:" for a in align) + " |"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def div(a, b):
    return a / b if a is not None and b else None


# --- one section per workload: (Markdown, plot data) ---------------------------------------


LISTENER_NAMES = {  # in the order of the table
    "libpq": "raw libpq loop (reference)",
    "node-pg": "Node `pg`, the tutorial (reference)",
    "library": "`pgpulse::Listener` alone (the library)",
    "pgpulse": "`pgpulse watch --channel`, to a file",
}


def section_listener_drain(d):
    rows, plot = [], []
    order = list(LISTENER_NAMES)
    for item in sorted(d.get("listeners", []), key=lambda x: order.index(x["listener"])
                       if x["listener"] in order else len(order)):
        name = LISTENER_NAMES.get(item["listener"], f"`{item['listener']}`")
        if item.get("skipped"):
            rows.append([name, f"skipped: {item['skipped']}", "", "", ""])
        elif not item.get("ok_runs"):
            rows.append([name, "failed: " + "; ".join(item.get("failures", []))[:80], "", "", ""])
        else:
            rows.append([name, rate(item["rate_per_s"]), f"{item['cpu_us_per_notification']:.3f}",
                         ratio(item.get("rate_vs_libpq")), ratio(item.get("rate_vs_node_pg"))])
            plot.append((item["listener"], item["rate_per_s"] / 1e6))
    md = (f"{num(d.get('n'))} queued notifications of ~{d.get('payload_bytes')} bytes, drained after "
          f"SIGCONT; {d.get('statistic', 'best of runs')} ({d.get('runs_per_listener')} per listener).\n\n"
          + table(["listener", "notifications/s", "CPU us each", "rate vs raw libpq", "rate vs Node `pg`"], rows))
    return md, plot


def section_durable_throughput(d):
    names = {"libpq": "raw libpq listener, drain only (yardstick)",
             "pgpulse": "`pgpulse watch --from beginning`",
             "pgpulse-one-tx": "the same, all in one transaction"}
    catchup = sorted(d.get("catchup", []), key=lambda c: list(names).index(c["reader"]) if c["reader"] in names else 9)
    rows = [[names.get(c["reader"], c["reader"]), rate(c.get("events_per_s")), f"{c.get('wall_s', 0):.2f}",
             num(c.get("client_cpu_us_per_event"), 2), ratio(c.get("rate_vs_libpq"))] for c in catchup]
    fill = d.get("fill", {})
    md = (f"(i) Catch-up: {num(d.get('n'))} changes written in {num(fill.get('transactions'))} transactions "
          f"while no reader ran, then read from the change log ({d.get('statistic', 'best of runs')}).\n\n"
          + table(["reader", "events/s", "wall s", "client CPU us/event", "rate vs libpq"], rows))
    live = d.get("live", [])
    readers = {"watch": "`pgpulse watch`", "gateway": "gateway, 1 WebSocket client"}
    rows = [[readers.get(l.get("reader", "watch"), l.get("reader")), l["mode"], l["clients"],
             num(l.get("writer_tps")), num(l.get("events_per_s")), num(l.get("lag_ms")),
             f"{l.get('backend_cpu_pct', '-')}%", "yes" if l.get("ok") else "NO: " + l.get("note", "")]
            for l in live]
    md += (f"\n\n(ii) Live: single-row INSERT writers (pgbench) for {d.get('live_seconds')} s while "
           "`pgpulse watch` prints every change, or `pgpulse serve` sends every change to one "
           "WebSocket client (`/ws?batch=1`). Reader's backend: the CPU of the reader's PostgreSQL "
           "backends as a share of one core.\n\n"
           + table(["reader", "wake-up", "writers", "writer tx/s", "events/s delivered",
                    "lag after writers stop, ms", "reader's backend", "all delivered"], rows,
                   ["l", "l", "r", "r", "r", "r", "r", "l"]))
    plot = [(f"{l.get('reader', 'watch')}, {l['mode']}", l["clients"], l.get("events_per_s")) for l in live]
    return md, plot


LATENCY_NAMES = {"libpq": "raw libpq (tutorial trigger)", "node-pg": "Node `pg` (tutorial trigger)",
                 "watch-channel": "`watch --channel` (tutorial trigger)"}


def latency_name(p):
    return LATENCY_NAMES.get(p["client"]) or f"{p['client']} ({p.get('wakeup') or '-'})"


def section_latency(d):
    rows, plot = [], []
    for p in d.get("points", []):
        lat = p.get("latency_us") or {}
        got = f"{num(p.get('delivered'))}/{num(p.get('expected'))}" + ("" if p.get("ok", True) else " (!)")
        rows.append([latency_name(p), num(p.get("rate")), got, ms(lat.get("p50")), ms(lat.get("p99")),
                     ms(lat.get("p999")), ms(lat.get("max")), ratio(p.get("ratio_p99_vs_libpq")),
                     ratio(p.get("ratio_p99_vs_node_pg"))])
        short = {"node-pg": "Node pg", "watch-channel": "watch --channel"}.get(p["client"], p["client"])
        plot.append((short + (" (poll)" if p.get("wakeup") == "poll" else ""), p.get("rate"),
                     lat.get("p50"), lat.get("p99")))
    md = (f"One client at a time; {d.get('writers', '?')} pgbench writers commit single-row INSERTs "
          f"at the rate for {d.get('seconds_per_point', '?')} s; latency from the row's INSERT (server "
          "clock, before its trigger and commit) to the client's receipt, in ms.\n\n"
          + table(["client (wake-up)", "changes/s", "delivered", "p50", "p99", "p99.9", "max",
                   "p99 vs libpq", "p99 vs Node `pg`"], rows))
    return md, plot


def section_fanout(d):
    per = d.get("gateway_bytes_per_idle_connection")
    md = (f"Idle WebSocket connections: {num(d.get('idle_clients'))}, gateway memory "
          f"{num(per)} bytes ({num(div(per, 1024), 1)} KiB) each.\n\n")
    rows, plot = [], []
    for f in d.get("fanout", []):
        lat = f.get("latency_ms") or {}
        demand = f.get("demand_per_s")
        share = f" ({f['delivered_share']:.0%})" if f.get("delivered_share") is not None else ""
        rows.append([num(f["clients"]), f.get("transport", "-"), num(f.get("write_rate")), num(demand),
                     num(f.get("deliveries_per_s")) + share, num(lat.get("p50"), 2), num(lat.get("p99"), 2),
                     f"{f.get('gateway_cpu_pct', '-')}%", num(f.get("clients_dropped"))])
        plot.append((f["clients"], f.get("transport", "ws"), f.get("deliveries_per_s"), lat.get("p99")))
    md += ("Fan-out: subscribed WebSocket clients (`batch`: many events per frame, as the browser client "
           "asks; `plain`: one per frame) while pgbench commits changes at a fixed rate; the demand is "
           "clients x changes/s.\n\n"
           + table(["clients", "transport", "changes/s", "demand/s", "deliveries/s (of demand)", "p50 ms",
                    "p99 ms", "gateway CPU", "clients dropped"], rows, ["r", "l"] + ["r"] * 7))
    return md, plot


VARIANTS = ["none", "tutorial", "pgpulse-notify", "pgpulse-poll"]


def section_write_cost(d):
    singles = d.get("single_row_inserts", [])
    clients = sorted({s["clients"] for s in singles})
    by = {(s["clients"], s["variant"]): s for s in singles}
    rows, plot = [], []
    for c in clients:
        row = [c]
        for v in VARIANTS:
            s = by.get((c, v))
            if not s:
                row.append("-")
            elif v.startswith("pgpulse"):
                row.append(f"{num(s['tps'])} ({ratio(s.get('vs_tutorial'))})")
            else:
                row.append(num(s["tps"]))
        rows.append(row)
        plot.append((c, [by[(c, v)]["tps"] if (c, v) in by else None for v in VARIANTS]))
    md = (f"Single-row INSERT transactions/s (pgbench, {d.get('seconds_per_point')} s per point, "
          f"{d.get('statistic', 'best of runs')}), each variant with its reader running; in brackets: "
          "vs the tutorial trigger.\n\n"
          + table(["writers", "no trigger", "tutorial trigger", "pgpulse, notify", "pgpulse, poll"], rows))
    bulk = {(b["op"], b["variant"]): b for b in d.get("bulk", [])}
    rows = []
    for op in [op for op in ["insert_select", "update", "delete"] if any(k[0] == op for k in bulk)]:
        row = [{"insert_select": "`INSERT ... SELECT`", "update": "`UPDATE` all",
                "delete": "`DELETE` all"}[op]]
        for v in VARIANTS:
            b = bulk.get((op, v))
            if not b:
                row.append("-")
            elif v == "none":
                row.append(num(b["ms"]))
            else:
                row.append(f"{num(b['ms'])} ({ratio(b.get('vs_none'))})")
        rows.append(row)
    md += (f"\n\nBulk statements on {num(d.get('bulk_rows'))} rows, ms (in brackets: vs no trigger).\n\n"
           + table(["statement", "no trigger", "tutorial trigger", "pgpulse, notify", "pgpulse, poll"], rows))
    return md, plot


def section_micro(d):
    benches = d.get("benchmarks", [])
    if any(b.get("run_type") == "aggregate" for b in benches):
        benches = [b for b in benches if b.get("aggregate_name") == "median"]
    rows = []
    for b in benches:
        unit = b.get("time_unit", "ns")
        items = b.get("items_per_second")
        nbytes = b.get("bytes_per_second")
        label = f" ({b['label']})" if b.get("label") else ""
        rows.append([f"`{b['name']}`{label}", f"{b.get('cpu_time', 0):,.1f} {unit}",
                     rate(items) if items else "-", f"{nbytes / 2**20:,.0f} MiB/s" if nbytes else "-"])
    md = ("Google Benchmark: CPU time per iteration, and the items and bytes per second it gives.\n\n"
          + table(["benchmark", "CPU time", "items/s", "bytes/s"], rows))
    return md, None


SECTIONS = {"listener_drain": section_listener_drain, "durable_throughput": section_durable_throughput,
            "latency": section_latency, "fanout": section_fanout, "write_cost": section_write_cost,
            "micro": section_micro}


# --- the targets ---------------------------------------------------------------------


def targets_a(a, add):
    lst = {x["listener"]: x for x in a.get("listeners", []) if x.get("ok_runs")}
    p = lst.get("pgpulse", {})
    v = p.get("rate_vs_libpq")
    add("`watch --channel` drain rate >= 0.8x raw libpq", v, v is not None and v >= 0.8, ratio(v))
    v = p.get("rate_vs_node_pg")
    add("`watch --channel` drain rate >= 3x Node `pg`", v, v is not None and v >= 3, ratio(v))
    lib = next((x for n, x in lst.items() if n in ("library", "pgpulse-library")), {})
    v = lib.get("rate_vs_libpq")
    add("the library alone (`pgpulse::Listener`) >= 0.9x raw libpq", v, v is not None and v >= 0.9, ratio(v))


def targets_c(c, add):
    if c.get("targets"):  # the script's own list, when it has one
        for t in c["targets"]:
            v = t.get("value_us")
            add(t["target"], v, t.get("met"), f"{ms(v)} ms" if v is not None else None)
        return
    pts = [x for x in c.get("points", []) if x.get("client") == "websocket"
           and x.get("wakeup") == "notify" and x.get("rate") == 5000 and x.get("latency_us")]
    v = pts[0]["latency_us"]["p99"] if pts else None
    shown = f"{ms(v)} ms" if v is not None else None
    add("p99 commit -> WebSocket <= 1 ms at 5000/s, NOTIFY wake-up", v, v is not None and v <= 1000, shown)
    add("p99 commit -> WebSocket <= 2 ms at 5000/s, through the durable log", v, v is not None and v <= 2000, shown)


def targets_d(d, add):
    big = [f for f in d.get("fanout", []) if f.get("clients", 0) >= 1000]
    v = max((f.get("deliveries_per_s") or 0 for f in big), default=None)
    add(">= 1,000,000 deliveries/s with >= 1000 clients", v, v is not None and v >= 1e6,
        f"{num(v)}/s" if v is not None else None)
    per = d.get("gateway_bytes_per_idle_connection")
    idle = d.get("idle_clients") or 0
    v = per if idle >= 10000 else None
    add("<= 16 KiB gateway memory per idle connection at 10,000", v, v is not None and v <= 16384,
        f"{num(div(v, 1024), 1)} KiB" if v is not None else
        (f"not at 10,000 ({num(div(per, 1024), 1)} KiB at {num(idle)})" if per is not None else None))


def targets_e(e, add):
    singles = e.get("single_row_inserts", [])
    for mode in ("pgpulse-notify", "pgpulse-poll"):
        pts = sorted((s for s in singles if s["variant"] == mode and s.get("vs_tutorial") is not None),
                     key=lambda s: s["clients"])
        v = min((s["vs_tutorial"] for s in pts), default=None)
        detail = ", ".join(f"{s['clients']}: {ratio(s['vs_tutorial'])}" for s in pts)
        add(f"{mode.replace('pgpulse-', 'pgpulse, ')}: single-row writers' tx/s >= the tutorial "
            "trigger's (worst of the writer counts)", v, v is not None and v >= 1,
            f"{ratio(v)} (writers {detail})" if pts else None)
    rows = num(e.get("bulk_rows") or 100000)
    for mode in ("pgpulse-notify", "pgpulse-poll"):
        b = next((b for b in e.get("bulk", []) if b["op"] == "insert_select" and b["variant"] == mode), None)
        v = b.get("vs_none") if b else None
        add(f"{mode.replace('pgpulse-', 'pgpulse, ')}: {rows}-row `INSERT ... SELECT` <= 2x its time "
            "without capture", v, v is not None and v <= 2, ratio(v))


def targets(w):
    """The issue's targets: [(workload, target, reached, verdict)], verdict met / missed / not measured."""
    out = []
    for letter, name, check in (("a", "listener_drain", targets_a), ("c", "latency", targets_c),
                                ("d", "fanout", targets_d), ("e", "write_cost", targets_e)):
        def add(target, value, met, shown=None):
            verdict = "not measured" if value is None else "met" if met else "missed"
            out.append((letter, target, shown if shown is not None else ("-" if value is None else value), verdict))
        try:
            check(w.get(name) or {}, add)
        except (KeyError, TypeError, ValueError) as err:
            print(f"report: cannot read the targets of {name}: {err!r}", file=sys.stderr)
    return out


# --- plots -----------------------------------------------------------------------------------

PALETTE = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"]
TERMINAL = 'set terminal pngcairo size 800,420 font "DejaVu Sans,10" noenhanced\n'
COMMON = ('set style fill solid 0.85 border -1\nset grid ytics lc rgb "#dddddd"\nset key top left\n'
          'set datafile separator "\\t"\nset datafile missing "-"\nset xtics nomirror\nset ytics nomirror\n')


def tsv(rows):
    return "\n".join("\t".join("-" if c is None else str(c) for c in r) for r in rows) + "\n"


def gnuplot(script, data, out_png, tmp):
    name = os.path.splitext(os.path.basename(out_png))[0]
    data_path = os.path.join(tmp, name + ".tsv")
    with open(data_path, "w") as f:
        f.write(data)
    body = TERMINAL + f"set output '{out_png}'\n" + COMMON + script.replace("@DATA@", f"'{data_path}'")
    res = subprocess.run(["gnuplot"], input=body, text=True, capture_output=True)
    if res.returncode != 0 or not os.path.exists(out_png):
        print(f"report: gnuplot failed for {name}: {res.stderr.strip()[-500:]}", file=sys.stderr)
        return False
    return True


def histogram(title, ylabel, columns, rows, log=False, key=True, labels=False, xrotate=False):
    """Clustered bars: rows of (label, v1, v2...), one colour per column; labels: values on top."""
    using = ", ".join(f"@DATA@ using {i + 2}:xtic(1) title '{c}' lc rgb '{PALETTE[i % len(PALETTE)]}'"
                      for i, c in enumerate(columns))
    if labels:
        using += ", @DATA@ using 0:2:2 with labels offset 0,0.7 notitle"
    script = (f"set title '{title}'\nset ylabel '{ylabel}'\nset style data histograms\n"
              "set style histogram clustered gap 1\nset boxwidth 0.9\n"
              + ("set logscale y\n" if log else "set yrange [0:*]\n")
              + ("" if key else "unset key\n") + ("set xtics rotate by -20\nset bmargin 6\n" if xrotate else "")
              + f"plot {using}\n")
    return script, tsv(rows)


def plot_scripts(w, plot_data, mode):
    """{workload: (gnuplot script, data)} for each workload with figures to draw."""
    made = {}
    size = " (smoke sizes)" if mode == "smoke" else ""
    pd = plot_data.get("listener_drain")
    if pd:
        a = w["listener_drain"]
        made["listener_drain"] = histogram(f"a: listener drain, {num(a.get('n'))} notifications{size}",
                                           "million notifications/s", ["drain rate"],
                                           [(n, f"{v:.3f}") for n, v in pd], key=False, labels=True)
    pd = plot_data.get("durable_throughput")
    if pd:
        order = ["watch, notify", "watch, poll", "gateway, notify", "gateway, poll"]
        modes = sorted({m for m, _, _ in pd}, key=lambda m: order.index(m) if m in order else 9)
        clients = sorted({c for _, c, _ in pd})
        val = {(m, c): v for m, c, v in pd}
        rows = [(f"{c} writer{'s' if c != 1 else ''}", *[val.get((m, c)) for m in modes]) for c in clients]
        made["durable_throughput"] = histogram(f"b: live delivery by pgpulse watch and the gateway{size}", "events/s delivered",
                                               [f"{m} wake-up" for m in modes], rows)
    pd = plot_data.get("latency")
    if pd:
        rates = sorted({r for _, r, _, _ in pd if r})
        names = list(dict.fromkeys(n for n, _, _, _ in pd))
        val = {(n, r): (p50, p99) for n, r, p50, p99 in pd}
        cols, rows = [], []
        for r in rates:
            cols += [f"p50 at {r}/s", f"p99 at {r}/s"]
        for n in names:
            row = [n]
            for r in rates:
                p50, p99 = val.get((n, r), (None, None))
                row += [None if p50 is None else p50 / 1000, None if p99 is None else p99 / 1000]
            rows.append(row)
        made["latency"] = histogram(f"c: latency, commit to client (NOTIFY wake-up unless poll){size}",
                                    "ms (log scale)", cols, rows, log=True, xrotate=len(rows) > 6)
    pd = plot_data.get("fanout")
    if pd:
        transports = list(dict.fromkeys(t for _, t, _, _ in pd))
        clients = sorted({c for c, _, _, _ in pd})
        val = {(c, t): (dl, p99) for c, t, dl, p99 in pd}
        rows = [(c, *[x for t in transports for x in val.get((c, t), (None, None))]) for c in clients]
        series = []
        for i, t in enumerate(transports):
            series.append(f"@DATA@ using 1:{2 * i + 2} with linespoints lw 2 pt 7 lc rgb '{PALETTE[i]}' "
                          f"title 'deliveries/s, {t}'")
            series.append(f"@DATA@ using 1:{2 * i + 3} axes x1y2 with linespoints lw 1 dt 3 pt 5 "
                          f"lc rgb '{PALETTE[i]}' title 'p99 ms, {t} (right)'")
        series.append("1e6 with lines dt 2 lc rgb '#888888' title 'target: 1 M/s at >= 1000 clients'")
        script = (f"set title 'd: fan-out through pgpulse serve{size}'\nset logscale x\nset logscale y\n"
                  "set logscale y2\nset xlabel 'subscribed WebSocket clients'\nset ylabel 'deliveries/s'\n"
                  "set y2label 'p99 latency, ms'\nset y2tics\nset key bottom right\nset xrange [0.7:*]\n"
                  "set yrange [*:5e6]\nset format y '%.0s%c'\nplot " + ", ".join(series) + "\n")
        made["fanout"] = (script, tsv(rows))
    pd = plot_data.get("write_cost")
    if pd:
        rows = [(f"{c} writer{'s' if c != 1 else ''}", *vals) for c, vals in pd]
        made["write_cost"] = histogram(f"e: single-row INSERT writers, by capture{size}", "transactions/s",
                                       ["no trigger", "tutorial trigger", "pgpulse, notify", "pgpulse, poll"], rows)
    return made


def plots(w, plot_data, results, tmp, mode):
    try:
        made = plot_scripts(w, plot_data, mode)
    except (KeyError, TypeError, ValueError) as err:
        print(f"report: no plots: {err!r}", file=sys.stderr)
        return {}
    done = {}
    for name, (script, data) in made.items():
        png = os.path.join(results, name + ".png")
        if gnuplot(script, data, png, tmp):
            done[name] = name + ".png"
    return done


# --- the page --------------------------------------------------------------------------------


def machine_line(args, m, mode):
    changes = " with uncommitted changes" if args.dirty == "true" else ""
    how = "`make bench`" if mode == "full" else "`make bench-smoke` (tiny sizes: not figures to quote)"
    return (f"Taken by {how} on {args.date[:10]}, commit {args.commit}{changes}, in {args.seconds:.0f} s, on: "
            f"{m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, {m.get('memory', '?')}, "
            f"{m.get('kernel', '?')}, PostgreSQL {m.get('postgresql', '?')}; load average (1, 5, 15 min) "
            f"{m.get('load_average_before', '?')} before, {m.get('load_average_after', '?')} after. The machine "
            "is shared: read the ratios, which come from the same run, rather than absolute rates.")


def page(args, machine, workloads, runs, pngs, image_prefix, heading, skip=()):
    h = heading
    parts = [machine_line(args, machine, args.mode)]
    status = {r["name"]: r for r in runs}

    def note(n):
        run, x, said = status.get(n, {}), workloads.get(n), []
        if not x:
            said.append("no result")
        elif not x["fresh"]:
            said.append(f"result from an earlier run ({x['date']})")
        if run.get("note") and run.get("status") != "ok":
            said.append(run["note"])
        return "; ".join(said)

    rows = [[f"{letter}: {title}", status.get(n, {}).get("status", "not run"),
             num(status[n]["seconds"], 0) if n in status else "-", note(n)] for n, letter, title in WORKLOADS]
    parts.append(table(["workload", "this run", "seconds", "note"], rows, ["l", "l", "r", "l"]))
    tg = targets({n: x["data"] for n, x in workloads.items()})
    parts.append(f"{h} Targets\n\n" + table(["", "target", "reached", ""],
                                            [[t[0], t[1], t[2], f"**{t[3]}**" if t[3] == "missed" else t[3]]
                                             for t in tg], ["l", "l", "l", "l"]))
    for n, letter, title in WORKLOADS:
        if n not in workloads or n in skip:
            continue
        x = workloads[n]
        stale = "" if x["fresh"] else f" (from an earlier run, {x['date']})"
        md = x["markdown"]
        text = f"{h} {letter}: {title} (`bench/{n}.sh`){stale}\n\n{md}"
        if n in pngs:
            text += f"\n\n![{letter}: {title}]({image_prefix}{pngs[n]})"
        parts.append(text)
    return "\n\n".join(parts) + "\n", tg


def replace_readme(path, content):
    with open(path) as f:
        text = f.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        print(f"report: {path} has no {BEGIN} ... {END}: left as it was", file=sys.stderr)
        return False
    text = text[:start + len(BEGIN)] + "\n" + content + text[end:]
    with open(path, "w") as f:
        f.write(text)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--status", help="JSON lines from run.sh: name, script, status, seconds, note")
    ap.add_argument("--machine", help="JSON: cpu_model, cores, memory, kernel, load averages")
    ap.add_argument("--date", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--dirty", default="false")
    ap.add_argument("--since", type=float, default=0, help="results older than this are not from this run")
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--mode", choices=["full", "smoke"], default="full")
    ap.add_argument("--readme", default="none")
    args = ap.parse_args()

    runs = []
    if args.status and os.path.exists(args.status):
        with open(args.status) as f:
            runs = [json.loads(line) for line in f if line.strip()]
    machine = {}
    if args.machine:
        with open(args.machine) as f:
            machine = json.load(f)

    workloads, plot_data = {}, {}
    for name, _, _ in WORKLOADS:
        path = os.path.join(args.results, name + ".json")
        if not os.path.exists(path):
            continue
        try:
            with open(path) as f:
                data = json.load(f)
            md, pd = SECTIONS[name](data)
        except (ValueError, KeyError, TypeError) as err:
            print(f"report: cannot read {path}: {err!r}", file=sys.stderr)
            continue
        date = data.get("date") or (data.get("context") or {}).get("date", "?")
        workloads[name] = {"data": data, "markdown": md, "fresh": os.path.getmtime(path) >= args.since,
                           "date": date}
        if pd:
            plot_data[name] = pd

    if not shutil.which("gnuplot"):
        print("report: gnuplot not found (Debian: gnuplot-nox): no plots", file=sys.stderr)
        pngs = {}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            pngs = plots({n: x["data"] for n, x in workloads.items()}, plot_data, args.results, tmp, args.mode)

    md, tg = page(args, machine, workloads, runs, pngs, "", "##")
    latest = {"date": args.date, "commit": args.commit, "uncommitted_changes": args.dirty == "true",
              "mode": args.mode, "seconds": round(args.seconds, 1), "machine": machine, "runs": runs,
              "targets": [{"workload": t[0], "target": t[1], "reached": t[2], "verdict": t[3]} for t in tg],
              "workloads": {n: dict(x["data"], from_this_run=x["fresh"]) if isinstance(x["data"], dict)
                            else x["data"] for n, x in workloads.items()}}
    with open(os.path.join(args.results, "latest.json"), "w") as f:
        json.dump(latest, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.results, "latest.md"), "w") as f:
        f.write(f"# pgpulse benchmarks ({args.mode} run)\n\n" + md)
    missed = sum(t[3] == "missed" for t in tg)
    met = sum(t[3] == "met" for t in tg)
    print(f"report: targets: {met} met, {missed} missed, {len(tg) - met - missed} not measured; "
          f"{len(pngs)} plots", file=sys.stderr)

    if args.mode == "full" and args.readme != "none":
        rel = os.path.relpath(args.results, os.path.dirname(os.path.abspath(args.readme)))
        readme_md, _ = page(args, machine, workloads, runs, pngs, rel + "/", "###", skip=("micro",))
        readme_md += ("\nEvery table of this run, with the micro-benchmarks: "
                      f"[`{rel}/latest.md`]({rel}/latest.md); the method of each workload: "
                      "[`bench/README.md`](bench/README.md).\n")
        if replace_readme(args.readme, readme_md):
            print(f"report: {args.readme}: benchmark section rewritten", file=sys.stderr)


if __name__ == "__main__":
    main()
