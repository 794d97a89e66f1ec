"""Compile the Triton scan kernels for an NVIDIA GPU without one: Triton's compiler down to a cubin (ptxas).

Run as a script (``python triton_gpu_compile.py [compute capability, default 80]``), in a process where ``TRITON_INTERPRET`` is unset (interpreted kernels cannot be compiled). Prints one
line per kernel variant: ``<kernel> <variant> ok <registers> <spill bytes>``; exits non-zero on a compilation error.
"""

from __future__ import annotations

import inspect
import sys

import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from mamba_monai.ops import triton_kernels

STATE_BUFFERS = ("A_ptr", "last_ptr", "saved_ptr", "dA_ptr", "dB_ptr", "dC_ptr", "dD_ptr", "dbias_ptr")


def compile_kernel(kernel, data: str, state: str, acc, block_n: int, flags: bool, arch: int = 80):
    """Compile ``kernel`` with ``data``-typed inputs/outputs, ``state``-typed state buffers, all options on or off."""
    names = list(inspect.signature(kernel.fn).parameters)
    signature = {}
    for name in names:
        if name.endswith("_ptr"):
            signature[name] = "*" + (state if name in STATE_BUFFERS else data)
        else:
            signature[name] = "constexpr" if name.isupper() or name.startswith("BLOCK") else "i32"
    constants = dict(HAS_D=flags, HAS_Z=flags, HAS_BIAS=flags, SOFTPLUS=flags, ACC=acc, BLOCK_N=block_n, BLOCK_L=64)
    source = ASTSource(fn=kernel, signature=signature, constexprs={(names.index(k),): v for k, v in constants.items()})
    return triton.compile(source, target=GPUTarget("cuda", arch, 32))


def main() -> int:
    arch = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    variants = {
        "fp32": ("fp32", "fp32", tl.float32, 16, True),
        "bf16": ("bf16", "fp32", tl.float32, 16, True),
        "fp64": ("fp64", "fp64", tl.float64, 16, True),
        "fp16-n1-plain": ("fp16", "fp32", tl.float32, 1, False),
    }
    for kernel in (triton_kernels.selective_scan_fwd_kernel, triton_kernels.selective_scan_bwd_kernel):
        for name, variant in variants.items():
            compiled = compile_kernel(kernel, *variant, arch=arch)
            assert "cubin" in compiled.asm and len(compiled.asm["cubin"]) > 0
            print(kernel.fn.__name__, name, "ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
