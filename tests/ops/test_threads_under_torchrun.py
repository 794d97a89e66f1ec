"""Several processes per machine do not oversubscribe the cores: under torchrun (OMP_NUM_THREADS unset) each process's
scan kernel runs on 1 thread, because torchrun sets OMP_NUM_THREADS=1 per process and the kernel uses
``torch.get_num_threads()`` threads."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = (
    "from mamba_monai.ops.compiled import load_kernel; print('kernel threads', load_kernel().threads(), flush=True)"
)


def test_each_torchrun_process_uses_one_thread(tmp_path):
    script = tmp_path / "threads.py"
    script.write_text(SCRIPT + "\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", str(script)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("kernel threads 1") == 2, done.stdout
