// See include/loom_kernels.h. Each exported kernel is compiled once per instruction set with
// `target_clones`; the dynamic loader resolves it to the widest version the CPU runs (an ifunc).
// `fp contract(off)` keeps a·b + c as two rounded operations in every version, so all versions,
// and the Swift twins, give the same bits.

#include "loom_kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

// Runtime dispatch needs the loader's ifunc support (glibc) and the CPU feature bits that
// compiler-rt or libgcc 12+ provide; anything else builds the one baseline version.
#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#define LOOM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOOM_CLONES
#endif

#define LANES 16

static inline float bits_to_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
static inline int32_t float_to_bits(float f) { int32_t i; memcpy(&i, &f, 4); return i; }

// e^x as Kernels.exp (Sources/LoomTensor/Kernels/VectorMath.swift), operation for operation:
// Cody-Waite reduction by ln 2, a degree-5 polynomial, 2^n built from exponent bits in two halves.
static inline __attribute__((always_inline)) float loom_exp(float x) {
    const float magic = 12582912.0f;
    float clamped = x < -87.33654f ? -87.33654f : x;
    clamped = clamped > 88.72283f ? 88.72283f : clamped;
    float n = (clamped * 1.44269504088896341f + magic) - magic;
    float r = clamped - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1;
    // Integer steps in unsigned arithmetic (wrapping, as Swift's &- &+ &<<; a NaN's bits would
    // overflow signed ones), with the arithmetic shift of the signed value for n / 2.
    uint32_t ni = (uint32_t)float_to_bits(n + magic) - (uint32_t)float_to_bits(magic);
    uint32_t half = (uint32_t)((int32_t)ni >> 1);
    float result = y * bits_to_float((int32_t)((half + 127u) << 23)) * bits_to_float((int32_t)((ni - half + 127u) << 23));
    result = x < -87.33654f ? 0.0f : result;
    result = x > 88.72283f ? INFINITY : result;
    return x != x ? x : result;
}

static inline __attribute__((always_inline)) float loom_sigmoid(float x) { return 1 / (1 + loom_exp(-x)); }

// The 16 partial sums of a reduction, added pairwise in a fixed order.
static inline __attribute__((always_inline)) float lanes_sum(float *acc) {
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) acc[l] += acc[l + width];
    return acc[0];
}

// Σ a[i]·b[i] in 16 partial sums added pairwise, then the tail in order.
static inline __attribute__((always_inline)) float lanes_dot(const float *a, const float *b, long count) {
    float acc[LANES] = {0};
    long i = 0;
    for (; i + LANES <= count; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += a[i + l] * b[i + l];
    float total = lanes_sum(acc);
    for (; i < count; i++) total += a[i] * b[i];
    return total;
}

LOOM_CLONES
void loom_silu_gate_forward(const float *gate, const float *up, float *out, long count) {
    for (long i = 0; i < count; i++) {
        float x = gate[i];
        out[i] = x * loom_sigmoid(x) * up[i];
    }
}

LOOM_CLONES
void loom_silu_gate_backward(const float *dy, const float *gate, const float *up, float *dgate, float *dup, long count) {
    for (long i = 0; i < count; i++) {
        float x = gate[i], y = up[i], g = dy[i];
        float s = loom_sigmoid(x);
        dgate[i] = g * y * (s * (1 + x * (1 - s)));
        dup[i] = g * (x * s);
    }
}

LOOM_CLONES
void loom_quick_gelu_forward(const float *x, float *out, long count) {
    for (long i = 0; i < count; i++) {
        float v = x[i];
        out[i] = v * loom_sigmoid(1.702f * v);
    }
}

LOOM_CLONES
float loom_max(const float *x, long count) {
    float acc[LANES];
    for (int l = 0; l < LANES; l++) acc[l] = -INFINITY;
    long i = 0;
    for (; i + LANES <= count; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) acc[l] = acc[l + width] > acc[l] ? acc[l + width] : acc[l];
    float best = acc[0];
    for (; i < count; i++) best = x[i] > best ? x[i] : best;
    return best;
}

LOOM_CLONES
float loom_sum(const float *x, long count) {
    float acc[LANES] = {0};
    long i = 0;
    for (; i + LANES <= count; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += x[i + l];
    float total = lanes_sum(acc);
    for (; i < count; i++) total += x[i];
    return total;
}

LOOM_CLONES
float loom_softmax_in_place(float *x, long count) {
    float m = loom_max(x, count);
    float acc[LANES] = {0};
    long i = 0;
    for (; i + LANES <= count; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = loom_exp(x[i + l] - m);
            x[i + l] = e;
            acc[l] += e;
        }
    float total = lanes_sum(acc);
    for (; i < count; i++) {
        float e = loom_exp(x[i] - m);
        x[i] = e;
        total += e;
    }
    float inv = 1 / total;
    for (long j = 0; j < count; j++) x[j] = x[j] * inv;
    return m + logf(total);
}

LOOM_CLONES
void loom_exp_shifted_in_place(float *x, long count, float shift) {
    for (long i = 0; i < count; i++) x[i] = loom_exp(x[i] - shift);
}

LOOM_CLONES
void loom_softmax_backward_row(const float *p, float *dp, long count) {
    float dot = lanes_dot(p, dp, count);
    for (long j = 0; j < count; j++) dp[j] = p[j] * (dp[j] - dot);
}

LOOM_CLONES
void loom_rms_norm_forward(const float *x, const float *weight, float eps, long rows, long d,
                           float *out, float *normalized, float *rstd) {
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * d;
        float inv = 1 / sqrtf(lanes_dot(row, row, d) / (float)d + eps);
        rstd[r] = inv;
        for (long k = 0; k < d; k++) {
            float n = row[k] * inv;
            normalized[r * d + k] = n;
            out[r * d + k] = weight[k] * n;
        }
    }
}

LOOM_CLONES
void loom_rms_norm_backward(const float *g, const float *weight, const float *normalized, const float *rstd,
                            long rows, long d, float *dx) {
    for (long r = 0; r < rows; r++) {
        const float *gr = g + r * d, *nr = normalized + r * d;
        float acc[LANES] = {0};
        long j = 0;
        for (; j + LANES <= d; j += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += gr[j + l] * weight[j + l] * nr[j + l];
        float dot = lanes_sum(acc);
        for (; j < d; j++) dot += gr[j] * weight[j] * nr[j];
        dot /= (float)d;
        for (long k = 0; k < d; k++) dx[r * d + k] = rstd[r] * (gr[k] * weight[k] - nr[k] * dot);
    }
}

LOOM_CLONES
void loom_rotary(const float *src, float *dst, const float *cos, const float *sin, long heads, long half, int inverse) {
    for (long h = 0; h < heads; h++) {
        const float *x = src + h * 2 * half;
        float *y = dst + h * 2 * half;
        for (long i = 0; i < half; i++) {
            float c = cos[i], s = inverse ? -sin[i] : sin[i];
            float lo = x[i], hi = x[half + i];
            y[i] = lo * c - hi * s;
            y[half + i] = hi * c + lo * s;
        }
    }
}

LOOM_CLONES
float loom_shifted_log_sum_exp(const float *x, long count, float *max_out) {
    float m = loom_max(x, count);
    *max_out = m;
    if (!isfinite(m)) return 0;
    float acc[LANES] = {0};
    long i = 0;
    for (; i + LANES <= count; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += loom_exp(x[i + l] - m);
    float total = lanes_sum(acc);
    for (; i < count; i++) total += loom_exp(x[i] - m);
    return logf(total);
}

LOOM_CLONES
void loom_scaled_softmax_from_stats(const float *z, float *out, long count, float max, float log_total, float scale) {
    for (long i = 0; i < count; i++) out[i] = loom_exp((z[i] - max) - log_total) * scale;
}

LOOM_CLONES
void loom_layer_norm_forward(const float *x, const float *weight, const float *bias, float eps, long rows, long d,
                             float *out, float *normalized, float *rstd) {
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * d;
        float mean = loom_sum(row, d) / (float)d;
        float acc[LANES] = {0};
        long j = 0;
        for (; j + LANES <= d; j += LANES)
            for (int l = 0; l < LANES; l++) {
                float c = row[j + l] - mean;
                acc[l] += c * c;
            }
        float squares = lanes_sum(acc);
        for (; j < d; j++) {
            float c = row[j] - mean;
            squares += c * c;
        }
        float inv = 1 / sqrtf(squares / (float)d + eps);
        rstd[r] = inv;
        float *nr = normalized + r * d, *orow = out + r * d;
        for (long k = 0; k < d; k++) nr[k] = (row[k] - mean) * inv;
        if (weight && bias) for (long k = 0; k < d; k++) orow[k] = nr[k] * weight[k] + bias[k];
        else if (weight) for (long k = 0; k < d; k++) orow[k] = nr[k] * weight[k];
        else if (bias) for (long k = 0; k < d; k++) orow[k] = nr[k] + bias[k];
        else for (long k = 0; k < d; k++) orow[k] = nr[k];
    }
}

const char *loom_kernels_variant(void) {
#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2)";
    return "x86-64 baseline (SSE2)";
#else
    return "portable (one build, no dispatch)";
#endif
}
