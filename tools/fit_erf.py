#!/usr/bin/env python3
"""Fits the polynomials of Loom's vector erf (Kernels.erf in Sources/LoomTensor/Kernels/VectorMath.swift).

    erf(x) = x + x * (P(x^2) - 1)          for |x| <= 1   (P: degree 6 in x^2)
    erf(x) = 1 - exp(-x^2) * R(1 / |x|)    for 1 < |x| < 4 (R: degree 10, fits erfc(x) * exp(x^2))

Weighted least squares on Chebyshev nodes against mpmath at 40 digits, relative error as the weight.
Prints the coefficients (rounded to Float32, as Swift uses them) and the largest error of the fit.
Needs numpy and mpmath (the reference venv of BENCHMARKS.md has both): /tmp/ref/bin/python tools/fit_erf.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def chebyshev_nodes(a, b, n):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos((2 * k + 1) * np.pi / (2 * n))


def weighted_fit(xs, ys, basis, degree):
    design = np.stack([basis(xs) ** i for i in range(degree + 1)], 1) / ys[:, None]
    coefficients, *_ = np.linalg.lstsq(design, np.ones_like(ys), rcond=None)
    return coefficients


def main():
    xa = chebyshev_nodes(0, 1, 4000)
    ya = np.array([float(mp.erf(x) / x) for x in xa])
    p = weighted_fit(xa, ya, lambda x: x * x, 6)
    xb = chebyshev_nodes(1, 4, 4000)
    yb = np.array([float(mp.erfc(x) * mp.exp(x * x)) for x in xb])
    r = weighted_fit(xb, yb, lambda x: 1 / x, 10)

    test_a = np.linspace(1e-6, 1, 20001)
    fit_a = test_a * np.polyval(p[::-1], test_a * test_a)
    err_a = np.max(np.abs(fit_a / np.array([float(mp.erf(x)) for x in test_a]) - 1))
    test_b = np.linspace(1, 4, 20001)
    ref_b = np.array([float(mp.erfc(x) * mp.exp(x * x)) for x in test_b])
    err_b = np.max(np.abs(np.polyval(r[::-1], 1 / test_b) / ref_b - 1))
    print(f"P (x^0 .. x^12, the x^0 term less 1 in Swift): relative error of the fit {err_a:.2e}")
    for i, c in enumerate(p):
        print(f"  p{i} = {float(np.float32(c - 1 if i == 0 else c)):.15e}")
    print(f"R (t^0 .. t^10, t = 1/|x|): relative error of the fit {err_b:.2e}")
    for i, c in enumerate(r):
        print(f"  r{i} = {float(np.float32(c)):.15e}")


if __name__ == "__main__":
    main()
