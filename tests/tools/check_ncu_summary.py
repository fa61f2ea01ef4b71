#!/usr/bin/env python3
"""tools/device/ncu_summary.py on synthetic ncu CSV (the format, not measured numbers): the
profile stage runs only on the GPU machine, so its parser is checked here, where a mistake
costs nothing. Exit 1 on the first failed check."""
import importlib.util
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
spec = importlib.util.spec_from_file_location("ncu_summary", root / "tools/device/ncu_summary.py")
ncu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ncu)

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


ATTN = "void bert::attention::mma::(anonymous namespace)::attention_forward_mma_kernel<64, false>(bert::bf16*, float*)"
LN = "void bert::(anonymous namespace)::layernorm_forward_kernel<__nv_bfloat16, 4>(__nv_bfloat16*, int)"
GEMM = "nvjet_sm90_tst_128x256_64x4_2x1_v_bz_coopB_TNT"
HEADER = ['ID', 'Process ID', 'Process Name', 'Host Name', 'Kernel Name', 'Context', 'Stream',
          'gpu__time_duration.sum', 'launch__grid_size', 'launch__block_size', 'launch__registers_per_thread',
          'sm__warps_active.avg.pct_of_peak_sustained_active', 'sm__maximum_warps_per_active_cycle_pct',
          'sm__throughput.avg.pct_of_peak_sustained_elapsed', 'dram__throughput.avg.pct_of_peak_sustained_elapsed',
          'sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active',
          'smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio',
          'smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio',
          'smsp__average_warps_issue_stalled_math_pipe_throttle_per_issue_active.ratio',
          'smsp__average_warps_issue_stalled_wait_per_issue_active.ratio',
          'smsp__average_warps_issue_stalled_wait_per_warp_active.pct',
          'smsp__average_warp_latency_per_inst_issued.ratio']
UNITS = ['', '', '', '', '', '', '', 'usecond', '', '', 'register/thread', '%', '%', '%', '%', '%',
         'inst', 'inst', 'inst', 'inst', '%', 'cycle']


def row(i, name, us, grid, regs, stalls, tensor="0"):
    return [str(i), "77", "train_squad", "h", name, "1", "13", us, grid, "128", regs, "40.5", "50", "61.25",
            "12.5", tensor] + stalls


def as_csv(rows):
    return "\n".join(",".join(f'"{cell}"' for cell in r) for r in rows)


kernels = [
    row(0, ATTN, "50.0", "1,152", "149", ["9.0", "2.0", "1.0", "0.5", "99", "14"], tensor="35.5"),
    row(1, LN, "1,000.5", "348", "80", ["1.0", "0.5", "0.1", "3.0", "99", "5"]),  # 1 ms: the costliest
    row(2, ATTN, "30.0", "1,152", "149", ["7.0", "4.0", "1.0", "0.5", "99", "16"], tensor="25.5"),
    row(3, GEMM, "200", "132", "168", ["0.5", "0.1", "2.5", "0.2", "99", "4"], tensor="80"),
]
text = "==PROF== Connected to process 77\n==PROF== Disconnected\n" + as_csv([HEADER, UNITS] + kernels) + "\n"
table = ncu.summarize(text, title="step")
lines = [line for line in table.splitlines() if line.startswith("| `")]
check(len(lines) == 3, f"3 rows (two attention launches merged), got {len(lines)}:\n{table}")
check(lines[0].startswith("| `layernorm_forward_kernel<__nv_bfloat16, 4>` | 1 | 1,000.5 |"),
      f"the costliest first, in µs: {lines[0]}")
check(lines[1].startswith("| `nvjet_sm90_tst_128x256_64x4_2x1_v_bz_coopB_TNT` | 1 | 200.0 |"), lines[1])
attention = lines[2].split(" | ")
check(attention[0] == "| `attention_forward_mma_kernel<64, false>`", attention[0])
check(attention[1:5] == ["2", "80.0", "6.2%", "40.0"], f"launches, total, share, each: {attention[1:5]}")
check(attention[5] == "1,152 × 128" and attention[6] == "149", attention[5:7])
check(attention[7] == "40 / 50", f"occupancy: {attention[7]}")
check(attention[8] == "61" and attention[10] == "12", f"SM %, DRAM %: {attention[8:11]}")
check(attention[9] == "–" and attention[11] == "–", "metrics ncu did not give are shown as –")
check(attention[13] == "30", f"tensor pipe mean: {attention[13]}")
check(attention[14] == "long_scoreboard 8.0, barrier 3.0, math_pipe_throttle 1.0 (of 15.0 cycles per instruction) |",
      f"top stalls, per issue only (not the per-warp %): {attention[14]}")
check("4 kernel launches profiled, 1,280 µs in all" in table, table.splitlines()[2])

# Without a units row, time is nanoseconds; the pc-sampling stall counts as shares.
header = HEADER[:11] + ["smsp__pcsamp_warps_issue_stalled_barrier", "smsp__pcsamp_warps_issue_stalled_barrier_not_issued",
                        "smsp__pcsamp_warps_issue_stalled_short_scoreboard"]
text = as_csv([header, [str(0), "1", "a", "h", "k(int)", "1", "7", "2,500", "10", "32", "16", "30", "10", "70"]])
table = ncu.summarize(text)
line = [x for x in table.splitlines() if x.startswith("| `k`")]
check(len(line) == 1 and "| 1 | 2.5 | 100.0% | 2.5 | 10 × 32 | 16 |" in line[0], f"nanoseconds, no units row: {table}")
check(line and "short_scoreboard 70.0, barrier 30.0 (% of samples)" in line[0], f"sampled stalls: {line}")

check(ncu.short_name("void ns::f<a::b<1>, 2>(int, a::c*)") == "f<a::b<1>, 2>", ncu.short_name("void ns::f<a::b<1>, 2>(int, a::c*)"))
check(ncu.number("1,234.5") == 1234.5 and ncu.number("n/a") is None, "numbers")
try:
    ncu.summarize("==ERROR== the profiler could not start\n")
    check(False, "output without a CSV header is an error")
except ValueError as error:
    check("no CSV header" in str(error), str(error))

details = as_csv([["ID", "Kernel Name", "Section Name", "Metric Name", "Metric Unit", "Metric Value", "Rule Name",
                   "Rule Type", "Rule Description", "Estimated Speedup Type", "Estimated Speedup"],
                  ["0", ATTN, "Occupancy", "", "", "", "AchievedOccupancy", "OPT",
                   "The difference between calculated theoretical (50.0%) and measured achieved occupancy.", "local", "20.1"],
                  ["2", ATTN, "Occupancy", "", "", "", "AchievedOccupancy", "OPT",
                   "The difference between calculated theoretical (50.0%) and measured achieved occupancy.", "local", "20.1"]])
table = ncu.summarize(as_csv([HEADER, UNITS] + kernels), details)
rules = [x for x in table.splitlines() if x.startswith("- `attention_forward_mma_kernel<64, false>`")]
check(len(rules) == 1 and rules[0].endswith("(estimated speedup 20.1%)"), f"one rule line per kernel and text: {rules}")

if failures:
    print("check_ncu_summary: FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("check_ncu_summary: OK")
