// Runs every CLoomKernels kernel on fixed inputs and prints a hash of each result's bits (any NaN
// hashed as one NaN). tools/check_kernel_variants.sh builds it once per instruction set and
// compares: every build must print the same lines.
#include "loom_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void report(const char *name, const float *a, long count) {
    unsigned h = 2166136261u;
    for (long i = 0; i < count; i++) {
        unsigned u;
        float v = a[i] != a[i] ? NAN : a[i];
        memcpy(&u, &v, 4);
        h = (h ^ u) * 16777619u;
    }
    printf("%-22s %08x\n", name, h);
}

int main(void) {
    enum { N = 100003, ROWS = 300, D = 333, HEADS = 7 };
    float *x = malloc(4 * N), *y = malloc(4 * N), *o = malloc(4 * N), *o2 = malloc(4 * N), rstd[ROWS];
    srand(1);
    for (long i = 0; i < N; i++) {
        x[i] = (rand() / (float)RAND_MAX - 0.5f) * 200;
        y[i] = (rand() / (float)RAND_MAX - 0.5f) * 4;
    }
    x[5] = INFINITY; x[6] = -INFINITY; x[7] = NAN;
    loom_silu_gate_forward(x, y, o, N); report("silu_gate_forward", o, N);
    loom_silu_gate_backward(y, x, y, o, o2, N); report("silu_gate_backward dg", o, N); report("silu_gate_backward du", o2, N);
    loom_quick_gelu_forward(x, o, N); report("quick_gelu_forward", o, N);
    memcpy(o, x + 8, 4 * (N - 8)); loom_exp_shifted_in_place(o, N - 8, 2.5f); report("exp_shifted_in_place", o, N - 8);
    for (long i = 0; i < N; i++) o[i] = y[i] * 3;
    float lse = loom_softmax_in_place(o, N); report("softmax_in_place", o, N); report("softmax lse", &lse, 1);
    memcpy(o2, x, 4 * N); loom_softmax_backward_row(o, o2, N); report("softmax_backward_row", o2, N);
    loom_rms_norm_forward(y, x + 8, 1e-6f, ROWS, D, o, o2, rstd);
    report("rms_norm_forward", o, ROWS * D); report("rms_norm normalized", o2, ROWS * D); report("rms_norm rstd", rstd, ROWS);
    loom_rms_norm_backward(x + 8, y, o2, rstd, ROWS, D, o); report("rms_norm_backward", o, ROWS * D);
    loom_layer_norm_forward(y, x + 8, x + 500, 1e-5f, ROWS, D, o, o2, rstd);
    report("layer_norm_forward", o, ROWS * D); report("layer_norm normalized", o2, ROWS * D); report("layer_norm rstd", rstd, ROWS);
    loom_layer_norm_forward(y, NULL, NULL, 1e-5f, ROWS, D, o, o2, rstd); report("layer_norm bare", o, ROWS * D);
    float peak, lse2 = loom_shifted_log_sum_exp(y, N, &peak);
    report("shifted_log_sum_exp", &lse2, 1); report("shifted max", &peak, 1);
    loom_scaled_softmax_from_stats(y, o, N, peak, lse2, 0.25f); report("scaled_softmax_from_stats", o, N);
    float h[HEADS * 64], hout[HEADS * 64], cs[32], sn[32];
    for (int i = 0; i < HEADS * 64; i++) h[i] = x[100 + i] * 0.01f;
    for (int i = 0; i < 32; i++) { cs[i] = cosf(i * 0.3f); sn[i] = sinf(i * 0.3f); }
    loom_rotary(h, hout, cs, sn, HEADS, 32, 0); report("rotary", hout, HEADS * 64);
    loom_rotary(h, hout, cs, sn, HEADS, 32, 1); report("rotary inverse", hout, HEADS * 64);
    float s = loom_sum(x + 8, N - 8), m = loom_max(x + 8, N - 8);
    report("sum", &s, 1); report("max", &m, 1);
    return 0;
}
