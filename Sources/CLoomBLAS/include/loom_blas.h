#ifndef LOOM_BLAS_H
#define LOOM_BLAS_H

// Loom's bridge to OpenBLAS.
//
// OpenBLAS picks its kernels in a library constructor that reads OPENBLAS_CORETYPE, so the variable
// must be set before the library is loaded. Linking libopenblas normally would load it before any
// code of ours runs; instead this bridge chooses the core type from CPUID (keeping one the user set),
// then dlopen()s the library and resolves the few symbols Loom needs. OPENBLAS_THREAD_TIMEOUT is
// lowered the same way (only when unset).

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads OpenBLAS once (thread-safe). Returns 0 on success, or -1 with loom_blas_error() describing why.
int loom_blas_load(void);

/// Why loading failed, or NULL.
const char *loom_blas_error(void);

/// The core type OpenBLAS runs (its own name, e.g. "SkylakeX"), or "" if unknown.
const char *loom_blas_corename(void);

/// The OpenBLAS configuration string ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY ..."), or "".
const char *loom_blas_config(void);

/// The value of OPENBLAS_CORETYPE that was in force when the library loaded, and whether Loom chose it.
const char *loom_blas_coretype_env(void);
int loom_blas_coretype_chosen_by_loom(void);

/// The path the library was loaded from.
const char *loom_blas_library_path(void);

/// What CPUID says this processor has: 512 = AVX-512F (+BW/VL/DQ/CD), 256 = AVX2+FMA, 0 = neither.
int loom_cpu_vector_bits(void);

/// Returns the free pages at the top and inside malloc's heap to the system (glibc malloc_trim).
void loom_release_free_heap(void);

void loom_blas_set_threads(int threads);
int loom_blas_get_threads(void);

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C.
/// transA/transB: 0 = as stored, 1 = transposed. Calls cblas_sgemm.
void loom_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc);

#ifdef __cplusplus
}
#endif

#endif
