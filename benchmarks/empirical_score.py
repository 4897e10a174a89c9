"""Benchmark: streamed empirical score vs the plain torch ``cdist`` + ``softmax`` version.

Both run in the same process on the same device; the report gives ratios (plain / streamed),
the size of the largest temporary buffer each needs, and the accuracy of each against a float64
reference. Usage::

    python benchmarks/empirical_score.py                 # CPU sizes
    python benchmarks/empirical_score.py --device cuda --N 784 3072 --P 100000 --B 1024
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import torch

from simulate.scores import EmpiricalScore


def plain_score(a: torch.Tensor, x: torch.Tensor, t: float) -> torch.Tensor:
    """What users write: the full B x P logits matrix."""
    c, var = math.exp(-t), -math.expm1(-2 * t)
    logits = -torch.cdist(x, c * a).square_() / (2 * var)
    w = torch.softmax(logits, dim=1)
    return (c * (w @ a) - x) / var


def timeit(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_extra_bytes(fn, device: torch.device, analytic: int) -> int:
    if device.type != "cuda":
        return analytic
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--N", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--P", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--B", type=int, default=256)
    ap.add_argument("--t", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget-mb", type=float, default=64.0)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"device: {device} ({name}); torch {torch.__version__}; threads {torch.get_num_threads()}; dtype {args.dtype}; "
          f"B = {args.B}; t = {args.t}")
    print("| N | P | plain / streamed time | plain extra MB | streamed extra MB | streamed rel. err | plain rel. err |")
    print("|---|---|---|---|---|---|---|")
    g = torch.Generator(device=device).manual_seed(0)
    for N in args.N:
        for P in args.P:
            a = torch.randn(P, N, generator=g, device=device, dtype=dtype)
            x = math.exp(-args.t) * a[: args.B] + math.sqrt(-math.expm1(-2 * args.t)) * torch.randn(
                args.B, N, generator=g, device=device, dtype=dtype)
            engine = EmpiricalScore(a, memory_budget_bytes=int(args.budget_mb * 2**20))
            ref = EmpiricalScore(a.double(), memory_budget_bytes=int(args.budget_mb * 2**20))(x.double(), args.t)
            t_plain = timeit(lambda: plain_score(a, x, args.t), args.repeats, device)
            t_stream = timeit(lambda: engine(x, args.t), args.repeats, device)
            isz = a.element_size()
            plain_mem = peak_extra_bytes(lambda: plain_score(a, x, args.t), device, 3 * args.B * P * isz)
            stream_mem = peak_extra_bytes(lambda: engine(x, args.t), device, 2 * args.B * engine.chunk_size(args.B) * isz)
            err = lambda s: ((s.double() - ref).norm(dim=1) / ref.norm(dim=1)).max().item()
            print(f"| {N} | {P} | {t_plain / t_stream:.2f}x | {plain_mem / 2**20:.0f} | {stream_mem / 2**20:.0f} | "
                  f"{err(engine(x, args.t)):.1e} | {err(plain_score(a, x, args.t)):.1e} |")


if __name__ == "__main__":
    main()
