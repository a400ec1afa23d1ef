#ifndef LOOM_VECTOR_H
#define LOOM_VECTOR_H

// Vector operations Swift's SIMD types compile lane by lane. Swift's `squareRoot()` on SIMD4<Float>
// becomes four scalar sqrtss, each followed by a libm sqrtf call for the errno of a negative input;
// these are IEEE square roots of all lanes at once (sqrtps / fsqrt), the same bits. `static inline`,
// so they inline into Swift callers. Swift imports the vector type as SIMD4<Float>.

typedef float loom_float4 __attribute__((ext_vector_type(4)));

/// The correctly rounded square root of each lane (IEEE 754), with no errno.
static inline __attribute__((always_inline)) loom_float4 loom_sqrt4(loom_float4 x) {
    return __builtin_elementwise_sqrt(x);
}

#endif
