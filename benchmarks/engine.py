"""Benchmark: the score engine (``exact`` and ``fast`` modes) against the plain torch versions.

Same process, same device, same data. For each (N, P): the plain ``cdist + softmax + matmul``
version and the plain dot-product-logits version (both float32, full ``B x P`` buffers), the
streamed ``EmpiricalScore`` and ``ScoreEngine`` in both modes. Reported: time ratios against the
plain dot-product version, effective TFLOP/s (``4 B P N`` flops), fraction of the card's GEMM
peak measured in the same run, peak extra memory, and the largest relative error against a
float64 reference at ``t`` in {2, 0.5, 0.05} (half the queries near training points, half drawn
from the generating distribution at ``t``: the hard case). Usage::

    python benchmarks/engine.py                                             # CPU sizes
    python benchmarks/engine.py --device cuda --N 784 3072 --P 100000 1000000 --B 1024
    python benchmarks/engine.py --device cuda --huge                        # P = 10^7, N = 1024
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import torch

from simulate.engine import ScoreEngine
from simulate.scores import EmpiricalScore


def plain_cdist(a, x, t):
    c, var = math.exp(-t), -math.expm1(-2 * t)
    w = torch.softmax(-torch.cdist(x, c * a).square_() / (2 * var), dim=1)
    return (c * (w @ a) - x) / var


def plain_dot(a, x, t, norms2):
    c, var = math.exp(-t), -math.expm1(-2 * t)
    w = torch.softmax((2 * c * (x @ a.T) - c * c * norms2) / (2 * var), dim=1)
    return (c * (w @ a) - x) / var


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn, device, repeats):
    fn()
    sync(device)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def peak_extra(fn, device, analytic):
    if device.type != "cuda":
        return analytic
    sync(device)
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    sync(device)
    return torch.cuda.max_memory_allocated() - base


def gemm_peak(device, tf32: bool, n=4096) -> float:
    """TFLOP/s of an n x n x n float32 matmul on this device (TF32 on or off)."""
    from simulate.engine import _tf32

    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    ctx = _tf32(tf32) if device.type == "cuda" else _null()
    with ctx:
        s = timeit(lambda: a @ b, device, 3)
    return 2 * n ** 3 / s / 1e12


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def queries(data, t, B, gen):
    """Half near training points, half from the generating distribution (standard Gaussian data)."""
    c, var = math.exp(-t), -math.expm1(-2 * t)
    h = B // 2
    idx = torch.randint(0, data.shape[0], (h,), generator=gen, device=data.device)
    near = c * data[idx] + math.sqrt(var) * 0.3 * torch.randn(h, data.shape[1], generator=gen, device=data.device)
    fresh = c * torch.randn(B - h, data.shape[1], generator=gen, device=data.device) \
        + math.sqrt(var) * torch.randn(B - h, data.shape[1], generator=gen, device=data.device)
    return torch.cat([near, fresh])


def max_rel_error(s, ref):
    return ((s.double() - ref).norm(dim=1) / ref.norm(dim=1)).max().item()


def run(device, N, P, B, repeats, seed, check_points):
    gen = torch.Generator(device=device).manual_seed(seed)
    data = torch.randn(P, N, generator=gen, device=device)
    norms2 = (data * data).sum(1)
    flops = 4.0 * B * P * N
    rows = []
    engines = {"exact": ScoreEngine(data, mode="exact"), "fast": ScoreEngine(data, mode="fast")}
    streamed = EmpiricalScore(data, memory_budget_bytes=256 * 2 ** 20)
    reference = EmpiricalScore(data.double())
    for t in (2.0, 0.5, 0.05):
        x = queries(data, t, B, gen)
        xs = x[:check_points]
        ref = reference(xs.double(), t)
        impls = {
            "plain cdist": (lambda x=x: plain_cdist(data, x, t), 3 * B * P * 4),
            "plain dot": (lambda x=x: plain_dot(data, x, t, norms2), 2 * B * P * 4),
            "streamed": (lambda x=x: streamed(x, t), streamed.chunk_size(B) * B * 8),
            **{f"engine {k}": ((lambda x=x, e=e: e(x, t)), e.chunk_size(B) * B * 8) for k, e in engines.items()},
        }
        times, errs, mems = {}, {}, {}
        for name, (fn, analytic) in impls.items():
            try:
                times[name] = timeit(fn, device, repeats)
                mems[name] = peak_extra(fn, device, analytic)
                out = fn()
                errs[name] = max_rel_error(out[:check_points], ref)
            except torch.OutOfMemoryError:  # the plain versions need B x P buffers
                times[name], mems[name], errs[name] = math.nan, math.nan, math.nan
                torch.cuda.empty_cache()
        base = times["plain dot"]
        for name in impls:
            rows.append((N, P, t, name, times[name] * 1e3, base / times[name], flops / times[name] / 1e12,
                         mems[name] / 2 ** 20, errs[name]))
    return rows


def run_huge(device, B, seed):
    """P = 10^7 at N = 1024 (40 GB of float32 data): the engine alone (plain needs a 41 GB B x P buffer)."""
    P, N = 10 ** 7, 1024
    gen = torch.Generator(device=device).manual_seed(seed)
    data = torch.empty(P, N, device=device)
    for s in range(0, P, 10 ** 6):
        data[s:s + 10 ** 6].normal_(generator=gen)
    rows = []
    for mode in ("exact", "fast"):
        eng = ScoreEngine(data, mode=mode)
        x = queries(data, 0.5, B, gen)
        secs = timeit(lambda: eng(x, 0.5), device, 2)
        extra = peak_extra(lambda: eng(x, 0.5), device, eng.chunk_size(B) * B * 8)
        rows.append((N, P, 0.5, f"engine {mode}", secs * 1e3, math.nan, 4.0 * B * P * N / secs / 1e12, extra / 2 ** 20,
                     math.nan))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--N", type=int, nargs="+", default=[256, 784])
    ap.add_argument("--P", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--B", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check-points", type=int, default=64, help="rows compared with the float64 reference")
    ap.add_argument("--huge", action="store_true", help="also P = 10^7, N = 1024 (GPU with >= 48 GB)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    fp32_peak = gemm_peak(device, False)
    tf32_peak = gemm_peak(device, True) if device.type == "cuda" else fp32_peak
    print(f"device: {device.type} ({name}); torch {torch.__version__}; threads {torch.get_num_threads()}; B = {args.B}")
    print(f"measured GEMM peak: float32 {fp32_peak:.1f} TFLOP/s, TF32 {tf32_peak:.1f} TFLOP/s")
    print("| N | P | t | implementation | ms | speed-up vs plain dot | eff. TFLOP/s | % of fp32 peak | % of TF32 peak "
          "| extra MB | max rel. error |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for N in args.N:
        for P in args.P:
            rows += run(device, N, P, args.B, args.repeats, args.seed, args.check_points)
    if args.huge:
        rows += run_huge(device, args.B, args.seed)
    for N, P, t, impl, ms, ratio, tflops, mb, err in rows:
        print(f"| {N} | {P} | {t:g} | {impl} | {ms:.2f} | {ratio:.2f}x | {tflops:.2f} | {100 * tflops / fp32_peak:.0f}% "
              f"| {100 * tflops / tf32_peak:.0f}% | {mb:.0f} | {err:.1e} |")


if __name__ == "__main__":
    main()
