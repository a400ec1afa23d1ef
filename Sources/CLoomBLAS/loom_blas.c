#define _GNU_SOURCE
#include "loom_blas.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// CBLAS enum values (cblas.h): we do not include the header so that nothing links libopenblas.
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
/* cblas_sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy) */
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_string_fn)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[512];
static char coretype_env[64];
static int coretype_chosen = 0;
static char library_path[512];

static sgemm_fn p_sgemm;
static sgemv_fn p_sgemv;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static get_string_fn p_corename;
static get_string_fn p_config;

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

int loom_cpu_vector_bits(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx) return 0;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return 0;  // the OS saves XMM and YMM state
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    int avx2 = (ebx >> 5) & 1;
    int avx512f = (ebx >> 16) & 1, avx512dq = (ebx >> 17) & 1, avx512cd = (ebx >> 28) & 1;
    int avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
    int zmm_saved = (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
    if (avx512f && avx512dq && avx512cd && avx512bw && avx512vl && zmm_saved) return 512;
    if (avx2 && fma) return 256;
    return 0;
}

static void choose_coretype(void) {
    const char *current = getenv("OPENBLAS_CORETYPE");
    if (current && current[0]) {  // the user's choice wins
        snprintf(coretype_env, sizeof coretype_env, "%s", current);
        return;
    }
    const char *core = NULL;
    switch (loom_cpu_vector_bits()) {
    case 512: core = "SkylakeX"; break;
    case 256: core = "Haswell"; break;
    default: break;  // let OpenBLAS detect: older CPUs are identified correctly
    }
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 0);
        snprintf(coretype_env, sizeof coretype_env, "%s", core);
        coretype_chosen = 1;
    }
}

static void load(void) {
    choose_coretype();
    // Idle OpenBLAS workers spin with sched_yield for 2^28 cycles by default, competing with Loom's
    // own workers between GEMMs on a small machine; 2^12 cycles keeps them warm only briefly.
    // (measured: stage-1 train step about 10% faster on 2 cores; BENCHMARKS.md)
    setenv("OPENBLAS_THREAD_TIMEOUT", "12", 0);
    const char *candidates[4];
    int count = 0;
    const char *override = getenv("LOOM_OPENBLAS_LIBRARY");
    if (override && override[0]) candidates[count++] = override;
    candidates[count++] = "libopenblas.so.0";
    candidates[count++] = "libopenblas.so";
    void *handle = NULL;
    for (int i = 0; i < count && !handle; i++) {
        handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (handle) snprintf(library_path, sizeof library_path, "%s", candidates[i]);
    }
    if (!handle) {
        snprintf(load_error, sizeof load_error,
                 "could not load OpenBLAS (%s); install it with: apt-get install libopenblas-dev",
                 dlerror());
        return;
    }
    p_sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    p_sgemv = (sgemv_fn)dlsym(handle, "cblas_sgemv");
    p_set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
    p_get_threads = (get_threads_fn)dlsym(handle, "openblas_get_num_threads");
    p_corename = (get_string_fn)dlsym(handle, "openblas_get_corename");
    p_config = (get_string_fn)dlsym(handle, "openblas_get_config");
    if (!p_sgemm) {
        snprintf(load_error, sizeof load_error, "%s has no cblas_sgemm symbol", library_path);
        return;
    }
    load_status = 0;
}

int loom_blas_load(void) {
    pthread_once(&load_once, load);
    return load_status;
}

const char *loom_blas_error(void) { return load_status == 0 ? NULL : load_error; }
const char *loom_blas_corename(void) {
    return (loom_blas_load() == 0 && p_corename) ? p_corename() : "";
}
const char *loom_blas_config(void) { return (loom_blas_load() == 0 && p_config) ? p_config() : ""; }
const char *loom_blas_coretype_env(void) { loom_blas_load(); return coretype_env; }
int loom_blas_coretype_chosen_by_loom(void) { loom_blas_load(); return coretype_chosen; }
const char *loom_blas_library_path(void) { loom_blas_load(); return library_path; }

void loom_blas_set_threads(int threads) {
    if (loom_blas_load() == 0 && p_set_threads) p_set_threads(threads);
}
int loom_blas_get_threads(void) {
    return (loom_blas_load() == 0 && p_get_threads) ? p_get_threads() : 1;
}

void loom_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc) {
    // Callers check loom_blas_load() once up front (Swift: BLAS.ensureLoaded()); this is the hot path.
    // One row or one column (a decode step, a single query's attention): matrix-vector product.
    // OpenBLAS 0.3.21's sgemm would pack the whole matrix operand on every call; sgemv streams it once.
    // With beta = 0, C may hold garbage (NaN) that sgemv's scaling would keep: it is zeroed first.
    if (p_sgemv && (m == 1 || n == 1)) {
        if (beta == 0) {
            for (int i = 0; i < (m == 1 ? n : m); i++) c[(m == 1 ? i : i * ldc)] = 0;
        }
        if (m == 1) {
            // c[n] = alpha · op(B)ᵀ-contraction with the row a[k]; a's elements are lda apart when transposed.
            int incx = transA ? lda : 1;
            if (transB) p_sgemv(ROW_MAJOR, NO_TRANS, n, k, alpha, b, ldb, a, incx, beta, c, 1);   // B [n, k]
            else p_sgemv(ROW_MAJOR, TRANS, k, n, alpha, b, ldb, a, incx, beta, c, 1);             // B [k, n]
        } else {
            // c[m] (stride ldc) = alpha · op(A) · b[k]; b's elements are ldb apart unless transposed.
            int incx = transB ? 1 : ldb;
            if (transA) p_sgemv(ROW_MAJOR, TRANS, k, m, alpha, a, lda, b, incx, beta, c, ldc);    // A [k, m]
            else p_sgemv(ROW_MAJOR, NO_TRANS, m, k, alpha, a, lda, b, incx, beta, c, ldc);        // A [m, k]
        }
        return;
    }
    p_sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b,
            ldb, beta, c, ldc);
}

// One malloc arena for the whole process unless the user chose (MALLOC_ARENA_MAX). glibc gives each
// thread that allocates its own arena, and each arena keeps its own freed memory: with a batch's
// shards built on two threads (SampleParallel), a stage-2 step of the reference configuration peaked
// at 1.45 GB instead of 1.16 GB. Large tensors are allocated a few hundred times per step, so one
// arena's lock costs nothing measurable; small allocations go through glibc's per-thread cache.
__attribute__((constructor)) static void loom_one_malloc_arena(void) {
    const char *chosen = getenv("MALLOC_ARENA_MAX");
    if (!chosen || !chosen[0]) mallopt(M_ARENA_MAX, 1);
}

void loom_release_free_heap(void) {
    malloc_trim(0);
}
