"""scripts/bench_common.py, what the benchmark scripts share: timing, peak memory, workers, table, options."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_common  # noqa: E402


def test_time_repeats_warms_up_then_times_each_call():
    calls, seen = [], []
    times = bench_common.time_repeats(lambda: calls.append(1), repeats=3, warmup=2, on_call=lambda i, t: seen.append(i))
    assert len(calls) == 5 and len(times) == 3 and seen == [0, 1, 2]
    assert all(t >= 0 for t in times)


def test_time_interleaved_runs_every_case_once_per_round():
    order = []
    times, loads = bench_common.time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 2)
    assert order == ["a", "b"] * 3  # one warm-up round, two timed rounds
    assert {key: len(value) for key, value in times.items()} == {"a": 2, "b": 2} and len(loads) == 3


def test_time_interleaved_can_shuffle_each_round():
    order = []
    calls = {name: (lambda n=name: order.append(n)) for name in "abcd"}
    times, _ = bench_common.time_interleaved(calls, 6, warmup=0, shuffle=True)
    rounds = ["".join(order[i : i + 4]) for i in range(0, 24, 4)]
    assert all(sorted(r) == list("abcd") for r in rounds)  # every case once per round
    assert len(set(rounds)) > 1  # in more than one order
    assert {key: len(value) for key, value in times.items()} == dict.fromkeys("abcd", 6)


def test_time_interleaved_sleeps_before_each_call_without_timing_it(monkeypatch):
    slept = []
    monkeypatch.setattr(bench_common.time, "sleep", slept.append)
    times, _ = bench_common.time_interleaved({"a": lambda: None, "b": lambda: None}, 3, warmup=1, gap=0.25)
    assert slept == [0.25] * 6  # before each timed call, not the warm-up
    assert all(t < 0.25 for value in times.values() for t in value)


@pytest.mark.skipif(bench_common.read_status_kb("VmRSS") is None, reason="needs Linux procfs")
def test_peak_extra_memory_sees_a_temporary_allocation():
    """In a fresh process, as the benchmarks measure (in the long-lived, many-threaded test process the kernel's RSS
    counters lag and freed memory is reused, so the figure there is meaningless)."""
    code = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import bench_common\n"
        "def allocate():\n"
        "    block = np.ones(64 * 1024 * 1024 // 8)  # 64 MB, touched, then freed\n"
        "    block.sum()\n"
        "print(bench_common.measure_peak_extra_bytes(allocate))\n"
    )
    scripts = str(Path(__file__).resolve().parents[1] / "scripts")
    done = subprocess.run([sys.executable, "-c", code, scripts], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    extra = done.stdout.strip().splitlines()[-1]
    if extra == "None":
        pytest.skip("no /proc/self/clear_refs here")
    assert 60 * bench_common.MB < float(extra) < 200 * bench_common.MB


def test_spawn_worker_returns_the_json_result_and_reports_failures(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(
        "import argparse, os, signal, sys\n"
        f"sys.path.insert(0, {str(Path(bench_common.__file__).parent)!r})\n"
        "import bench_common\n"
        "def run(spec):\n"
        "    if spec['how'] == 'fail': sys.exit(3)\n"
        "    if spec['how'] == 'kill': os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return {'twice': 2 * spec['x']}\n"
        "parser = argparse.ArgumentParser()\n"
        "bench_common.add_worker_argument(parser)\n"
        "sys.exit(bench_common.serve_worker(parser.parse_args().worker, run))\n"
    )
    assert bench_common.spawn_worker(str(script), {"how": "ok", "x": 21}) == {"twice": 42}
    with pytest.raises(RuntimeError, match="exit code 3"):
        bench_common.spawn_worker(str(script), {"how": "fail"})
    with pytest.raises(bench_common.WorkerKilled) as killed:
        bench_common.spawn_worker(str(script), {"how": "kill"})
    assert killed.value.signal == 9


def test_table_cells_are_right_aligned_under_their_case(capsys):
    bench_common.print_table(["net a", "net b"], [("time", ["1.0 ms", "-"])], label_width=6, width=8)
    assert capsys.readouterr().out.splitlines() == ["           net a   net b", "  time    1.0 ms       -"]


def test_formatting_and_ratio():
    assert (bench_common.fmt_time(None), bench_common.fmt_time(2.5), bench_common.fmt_time(0.0123)) == (
        "-",
        "2.50 s",
        "12.3 ms",
    )
    assert bench_common.fmt_num(1.234, ".1f", " GB") == "1.2 GB" and bench_common.fmt_num(None, ".1f") == "-"
    assert bench_common.ratio(3.0, 2.0) == 1.5 and bench_common.ratio(None, 2.0) is None
    assert bench_common.ratio(1.0, 0.0) is None


def test_parse_list_keeps_order_and_refuses_unknown_names():
    parser = argparse.ArgumentParser()
    assert bench_common.parse_list(parser, "B, a,b", ("a", "b"), "--x") == ["b", "a"]
    with pytest.raises(SystemExit):
        bench_common.parse_list(parser, "a,c", ("a", "b"), "--x")


@pytest.mark.parametrize("native, expected", [(True, ["fp32", "bf16"]), (False, ["fp32"])])
def test_default_precisions_follow_the_cpu(monkeypatch, native, expected):
    monkeypatch.setattr("mamba_monai.utils.precision.cpu_bf16_native", lambda: native)
    parser = argparse.ArgumentParser()
    assert bench_common.device_and_precisions(parser, "cpu", None) == ("cpu", expected)
    assert bench_common.device_and_precisions(parser, "cpu", "bf16") == ("cpu", ["bf16"])
