#!/usr/bin/env python3
"""One training step's kernels as Nsight Compute measured them, as a markdown table.

Reads what `ncu --import <report> --csv --page raw` prints (a header row of metric names, a row
of units, then one row per profiled kernel; lines before the header, such as ==PROF== notes,
are skipped) and, optionally, `--page details` (one row per metric, with ncu's rule
descriptions), as tools/device/profile_step.sh writes them. Launches of the same kernel with
the same grid and block are one row (for example the same op in every layer); rows are sorted
by their total time, so the first rows are where a step's time goes.

Per row: launches, total and per-launch time, share of the profiled time, grid × block,
registers per thread, achieved/theoretical occupancy, SM and memory throughput (% of peak),
DRAM throughput, L2 hit rate, issue slots busy, tensor pipe busy, and the three largest warp
stall reasons (warps stalled per issued instruction: how many cycles an instruction waited for
that reason, out of the cycles between two instructions of a warp). A metric ncu did not collect is shown as "–": the metric names below are matched
by pattern so that another ncu version still fills what it has.

usage: ncu_summary.py RAW_CSV [--details DETAILS_CSV] [--title TEXT] [--rows N]
"""
import argparse
import csv
import io
import re
import sys

TIME_UNITS_US = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3,
                 "second": 1e6, "s": 1e6}

# (column title, exact raw metric names tried in order)
PERCENT_COLUMNS = [
    ("SM %", ["sm__throughput.avg.pct_of_peak_sustained_elapsed"]),
    ("memory %", ["gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed"]),
    ("DRAM %", ["dram__throughput.avg.pct_of_peak_sustained_elapsed",
                "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed"]),
    ("L2 hit %", ["lts__t_sector_hit_rate.pct"]),
    ("issue %", ["smsp__issue_active.avg.pct_of_peak_sustained_active",
                 "sm__inst_issued.avg.pct_of_peak_sustained_active"]),
]
ACHIEVED_OCCUPANCY = ["sm__warps_active.avg.pct_of_peak_sustained_active"]
THEORETICAL_OCCUPANCY = ["sm__maximum_warps_per_active_cycle_pct"]
REGISTERS = ["launch__registers_per_thread"]
GRID = ["launch__grid_size"]
BLOCK = ["launch__block_size"]
DURATION = "gpu__time_duration.sum"
TENSOR_PIPE = re.compile(r"^sm__(pipe_tensor\w*|inst_executed_pipe_tensor\w*)\.avg\.pct_of_peak_sustained_active$")
# Warps stalled per issued instruction, by reason (WarpStateStats); the sampled counts as a
# fallback (the largest share of samples).
STALL_RATIO = re.compile(r"^smsp__average_warps_issue_stalled_(\w+)_per_issue_active\.ratio$")
CYCLES_PER_ISSUE = ["smsp__average_warp_latency_per_inst_issued.ratio"]
STALL_SAMPLES = re.compile(r"^smsp__pcsamp_warps_issue_stalled_(\w+)$")


def number(text):
    """A float from ncu's text ("1,234.5", "12", "n/a" -> None)."""
    text = (text or "").strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


def csv_rows(text):
    """The CSV from its header row ("ID", ...) on."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"') or line.startswith("ID,")), None)
    if start is None:
        raise ValueError("no CSV header (a row starting with \"ID\") in ncu's output")
    return list(csv.reader(io.StringIO("\n".join(lines[start:]))))


def read_raw(text):
    """[(metrics: name -> text, units: name -> unit)] per profiled kernel."""
    rows = csv_rows(text)
    header = rows[0]
    units = {}
    body = rows[1:]
    if body and not body[0][0].strip():  # the units row: its ID cell is empty
        units = dict(zip(header, body[0]))
        body = body[1:]
    return [dict(zip(header, row)) for row in body if row and row[0].strip()], units


def short_name(name):
    """'void ns::(anonymous namespace)::kernel<64, false>(float*, ...)' -> 'kernel<64, false>'."""
    name = name.replace("(anonymous namespace)::", "")
    name = re.sub(r"^void ", "", name.strip())
    depth, cut = 0, len(name)
    for i, c in enumerate(name):  # the parameter list: the first '(' outside template brackets
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth == 0:
            cut = i
            break
    name = name[:cut]
    depth, last = 0, 0
    for i, c in enumerate(name):  # drop the namespaces outside template brackets
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == ":" and depth == 0 and name[i:i + 2] == "::":
            last = i + 2
    name = name[last:]
    return name if len(name) <= 72 else name[:69] + "..."


def first_value(metrics, names):
    for name in names:
        value = number(metrics.get(name))
        if value is not None:
            return value
    return None


def duration_us(metrics, units):
    value = number(metrics.get(DURATION))
    if value is None:
        return None
    return value * TIME_UNITS_US.get(units.get(DURATION, "nsecond").strip(), 1e-3)


def stalls(metrics):
    """{reason: value}: the per-issue stall ratios, else the sampled counts."""
    ratios, samples = {}, {}
    for name, text in metrics.items():
        value = number(text)
        if value is None:
            continue
        match = STALL_RATIO.match(name)
        if match and not match.group(1).endswith("not_issued"):
            ratios[match.group(1)] = value
        match = STALL_SAMPLES.match(name)
        if match and not match.group(1).endswith("not_issued"):
            samples[match.group(1)] = value
    if ratios:
        return ratios, ""
    total = sum(samples.values())
    return ({k: 100.0 * v / total for k, v in samples.items()} if total else {}), "% of samples"


def tensor_pipe(metrics):
    values = [number(text) for name, text in metrics.items() if TENSOR_PIPE.match(name)]
    values = [v for v in values if v is not None]
    return max(values) if values else None


class Group:
    def __init__(self, name, grid, block):
        self.name, self.grid, self.block = name, grid, block
        self.launches = []  # metrics per launch

    def mean(self, pick):
        values = [v for v in (pick(m) for m in self.launches) if v is not None]
        return sum(values) / len(values) if values else None


def fmt(value, digits=0):
    return "–" if value is None else f"{value:,.{digits}f}"


def summarize(raw_text, details_text=None, title="", max_rows=60):
    kernels, units = read_raw(raw_text)
    if not kernels:
        raise ValueError("ncu's raw page lists no kernel")
    groups = {}
    for metrics in kernels:
        name = short_name(metrics.get("Kernel Name", metrics.get("Function Name", "?")))
        grid = first_value(metrics, GRID)
        block = first_value(metrics, BLOCK)
        grid_text = metrics.get("Grid Size") or fmt(grid)
        block_text = metrics.get("Block Size") or fmt(block)
        key = (name, grid_text, block_text)
        groups.setdefault(key, Group(name, grid_text, block_text)).launches.append(metrics)

    def total(group):
        return sum(duration_us(m, units) or 0.0 for m in group.launches)

    ordered = sorted(groups.values(), key=total, reverse=True)
    all_us = sum(total(g) for g in ordered)
    out = []
    if title:
        out += [f"## {title}", ""]
    out.append(f"{len(kernels)} kernel launches profiled, {all_us:,.0f} µs in all (each launch alone, "
               "caches flushed before each, as ncu replays them); one row per kernel and launch shape.")
    out.append("")
    head = ["kernel", "launches", "total µs", "share", "µs each", "grid × block", "regs",
            "occupancy achieved / theoretical %"] + [c for c, _ in PERCENT_COLUMNS] + ["tensor %", "top stalls"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + " --- |" * len(head))
    for group in ordered[:max_rows]:
        t = total(group)
        stall_sum = {}
        stall_unit = ""
        for metrics in group.launches:
            values, stall_unit = stalls(metrics)
            for reason, value in values.items():
                stall_sum[reason] = stall_sum.get(reason, 0.0) + value / len(group.launches)
        top = sorted(stall_sum.items(), key=lambda kv: kv[1], reverse=True)[:3]
        stall_text = ", ".join(f"{reason} {value:.1f}" for reason, value in top) or "–"
        cycles = group.mean(lambda m: first_value(m, CYCLES_PER_ISSUE))
        if stall_unit and top:
            stall_text += f" ({stall_unit})"
        elif cycles is not None and top:
            stall_text += f" (of {cycles:.1f} cycles per instruction)"
        row = [f"`{group.name}`", str(len(group.launches)), fmt(t, 1), f"{100.0 * t / all_us:.1f}%" if all_us else "–",
               fmt(t / len(group.launches), 1), f"{group.grid} × {group.block}",
               fmt(group.mean(lambda m: first_value(m, REGISTERS))),
               f"{fmt(group.mean(lambda m: first_value(m, ACHIEVED_OCCUPANCY)))} / "
               f"{fmt(group.mean(lambda m: first_value(m, THEORETICAL_OCCUPANCY)))}"]
        for _, names in PERCENT_COLUMNS:
            row.append(fmt(group.mean(lambda m, names=names: first_value(m, names))))
        row.append(fmt(group.mean(tensor_pipe)))
        row.append(stall_text)
        out.append("| " + " | ".join(row) + " |")
    if len(ordered) > max_rows:
        out.append(f"(+{len(ordered) - max_rows} more rows, {sum(total(g) for g in ordered[max_rows:]):,.0f} µs)")
    if details_text:
        out += ["", *rule_lines(details_text, [g.name for g in ordered[:10]])]
    return "\n".join(out) + "\n"


def rule_lines(details_text, names):
    """ncu's own advice for the costliest kernels (details page rules), one line each, deduplicated."""
    try:
        rows = csv_rows(details_text)
    except ValueError:
        return []
    header = rows[0]
    if "Rule Description" not in header:
        return []
    at = {name: i for i, name in enumerate(header)}
    seen, lines = set(), []
    for row in rows[1:]:
        if len(row) < len(header):
            continue
        name = short_name(row[at["Kernel Name"]]) if "Kernel Name" in at else "?"
        text = row[at["Rule Description"]].strip()
        if name not in names or not text or (name, text) in seen:
            continue
        seen.add((name, text))
        speedup = row[at["Estimated Speedup"]].strip() if "Estimated Speedup" in at else ""
        text = re.sub(r"\s+", " ", text)
        lines.append(f"- `{name}`: {text[:300]}" + (f" (estimated speedup {speedup}%)" if speedup else ""))
    if lines:
        lines.insert(0, "ncu's rules for the ten costliest rows:")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_csv")
    parser.add_argument("--details", help="ncu --csv --page details output")
    parser.add_argument("--title", default="")
    parser.add_argument("--rows", type=int, default=60)
    args = parser.parse_args()
    raw = open(args.raw_csv, encoding="utf-8", errors="replace").read()
    details = open(args.details, encoding="utf-8", errors="replace").read() if args.details else None
    try:
        sys.stdout.write(summarize(raw, details, args.title, args.rows))
    except ValueError as error:
        sys.exit(f"ncu_summary.py: {args.raw_csv}: {error}")


if __name__ == "__main__":
    main()
