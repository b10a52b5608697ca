"""Smoke test of the benchmark (bench/run.py): it runs, and its output has the documented
structure. Timings are not asserted: they depend on the machine and its load."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_writes_results(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
                           "--cases", "linear,relu", "--output", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())

    assert results["quick"] is True
    assert set(results["machine"]) >= {"cpu", "cores", "python", "numpy", "torch", "blas", "threads"}
    assert results["machine"]["threads"]["torch"] == 1
    assert all(results["machine"]["threads"][v] == "1"
               for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"))
    assert [c["key"] for c in results["cases"]] == ["linear", "relu"]
    for case in results["cases"]:
        assert case["ours_ms"] > 0 and case["torch_ms"] > 0
        assert case["ratio"] > 0 and case["met"] == (case["ratio"] <= case["target"])
        assert case["target"] == {"linear": 1.2, "relu": 2.0}[case["key"]]
        # the two sides computed the same thing (float32 rounding only)
        assert max(case["check"].values()) < 1e-4, case["check"]
    for case in results["cases"]:  # every case is a row of the printed table
        assert case["name"] in proc.stdout


def test_unknown_case_is_an_error():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--cases", "nope"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "unknown case" in proc.stderr
