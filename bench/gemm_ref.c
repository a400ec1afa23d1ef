// Reference sgemm timing: a plain C program calling OpenBLAS's cblas_sgemm.
// Build: cc -O2 bench/gemm_ref.c -o /tmp/gemm_ref -lopenblas
// Run:   OPENBLAS_CORETYPE=SkylakeX /tmp/gemm_ref 1024 1024 1024 [repeats]
// Prints one line of JSON with the best GFLOP/s over the repeats (same metric as `loom bench gemm`).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int m = argc > 1 ? atoi(argv[1]) : 1024;
    int n = argc > 2 ? atoi(argv[2]) : 1024;
    int k = argc > 3 ? atoi(argv[3]) : 1024;
    int repeats = argc > 4 ? atoi(argv[4]) : 10;
    float *a = malloc(sizeof(float) * (size_t)m * k);
    float *b = malloc(sizeof(float) * (size_t)k * n);
    float *c = malloc(sizeof(float) * (size_t)m * n);
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        double t = now_seconds() - t0;
        if (t < best) best = t;
    }
    double gflops = 2.0 * m * n * k / best / 1e9;
    const char *core = getenv("OPENBLAS_CORETYPE");
    printf("{\"m\": %d, \"n\": %d, \"k\": %d, \"best_s\": %.6f, \"gflops\": %.2f, \"coretype_env\": \"%s\"}\n",
           m, n, k, best, gflops, core ? core : "");
    free(a); free(b); free(c);
    return 0;
}
