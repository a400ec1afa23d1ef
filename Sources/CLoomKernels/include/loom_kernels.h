#ifndef LOOM_KERNELS_H
#define LOOM_KERNELS_H

// Loom's hottest elementwise and row kernels, written once as plain loops and compiled for several
// instruction sets (AVX-512, AVX2 + FMA, the x86-64 baseline; one build elsewhere). The loader
// picks the widest the CPU has. Swift's own code is built for the baseline (SSE2, 4 lanes); these
// run 16 lanes at a time where AVX-512 exists.
//
// Every version computes the same bits: no fused multiply-add contraction, no reassociation, and
// reductions kept in 16 fixed partial sums added pairwise in a fixed order. A result therefore does
// not depend on the machine's vector width (tools/check_kernel_variants.sh compares the builds).
// The elementwise kernels give the bits of their Swift twins (Kernels.exp and friends); the
// reductions (sums, maxima, dot products, the norms' statistics) are checked against Double
// (Tests/LoomTensorTests/VectorKernelTests.swift). Build with clang: `fp contract(off)` is clang's.

#include <stddef.h>

/// out[i] = silu(gate[i]) · up[i], silu(x) = x · σ(x), σ(x) = 1 / (1 + e^(−x)).
void loom_silu_gate_forward(const float *gate, const float *up, float *out, long count);

/// The gradients of `loom_silu_gate_forward` for output gradient dy:
/// dGate = dy · up · σ(x)(1 + x(1 − σ(x))), dUp = dy · x · σ(x).
void loom_silu_gate_backward(const float *dy, const float *gate, const float *up, float *dgate, float *dup, long count);

/// x · σ(1.702 x) (CLIP's quick_gelu), elementwise.
void loom_quick_gelu_forward(const float *x, float *out, long count);

/// Largest of `count` floats (−inf for none); NaN is not propagated.
float loom_max(const float *x, long count);

/// Σ x over `count` floats in 16 partial sums.
float loom_sum(const float *x, long count);

/// Softmax of `count` scores in place, none masked to +inf and at least one finite; returns the
/// log-sum-exp, max + log Σ e^(x − max).
float loom_softmax_in_place(float *x, long count);

/// x[i] = e^(x[i] − shift) in place (masked −inf scores become 0).
void loom_exp_shifted_in_place(float *x, long count, float shift);

/// Softmax backward of one row: dp[i] = p[i] · (dp[i] − Σ_j p[j] dp[j]).
void loom_softmax_backward_row(const float *p, float *dp, long count);

/// RMSNorm forward of `rows` rows of `d`: normalized = x · r, out = weight ⊙ normalized, rstd[row] = r,
/// r = 1 / √(mean(x²) + eps).
void loom_rms_norm_forward(const float *x, const float *weight, float eps, long rows, long d,
                           float *out, float *normalized, float *rstd);

/// RMSNorm backward (input gradient) of `rows` rows: dx = r · (g ⊙ w − x̂ · mean(g ⊙ w ⊙ x̂)).
void loom_rms_norm_backward(const float *g, const float *weight, const float *normalized, const float *rstd,
                            long rows, long d, float *dx);

/// Rotary embedding of one token's `heads` heads of 2·half values (halves rotated, not interleaved):
/// dst[i] = src[i]·cos[i] − src[i+half]·sin[i], dst[i+half] = src[i+half]·cos[i] + src[i]·sin[i], with
/// −sin when `inverse` (the backward rotation).
void loom_rotary(const float *src, float *dst, const float *cos, const float *sin, long heads, long half, int inverse);

/// log Σ e^(x − max) of `count` floats, with the max written to *max_out (the log-sum-exp kept in two
/// parts, as log_softmax does); 0 when the max is not finite.
float loom_shifted_log_sum_exp(const float *x, long count, float *max_out);

/// out[i] = e^((z[i] − max) − log_total) · scale: a row's softmax from its saved statistics, scaled
/// (cross-entropy's gradient before the target's −scale).
void loom_scaled_softmax_from_stats(const float *z, float *out, long count, float max, float log_total, float scale);

/// LayerNorm forward of `rows` rows of `d` (biased variance, two passes): normalized = (x − mean)·r,
/// out = normalized ⊙ weight + bias (either may be NULL), rstd[row] = r = 1 / √(var + eps).
void loom_layer_norm_forward(const float *x, const float *weight, const float *bias, float eps, long rows, long d,
                             float *out, float *normalized, float *rstd);

/// The version the loader picked on this CPU, for `loom info`.
const char *loom_kernels_variant(void);

#endif
