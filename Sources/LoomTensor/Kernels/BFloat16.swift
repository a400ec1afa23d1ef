import Foundation

/// bfloat16 ⇄ Float32 for weights kept in bfloat16 (`TensorStorage.keepInBFloat16()`). A bfloat16 is
/// the high 16 bits of a Float32, so widening is exact and rounding is nearest, ties to even.

extension Kernels {
    /// The bfloat16 nearest to `value` (ties to even; overflow rounds to ±inf; NaN stays a quiet NaN).
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// The Float32 a bfloat16 stands for (exact).
    @inlinable
    public static func float(bfloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// dst[i] = bfloat16 nearest to src[i], for `count` elements; split across the worker threads.
    static func roundToBFloat16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        Threads.parallelFor(count, grain: 1 << 16) { range in
            var i = range.lowerBound
            let raw = UnsafeRawPointer(src), out = UnsafeMutableRawPointer(dst)
            while i + 16 <= range.upperBound {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                let bits = unsafeBitCast(v, to: SIMD16<UInt32>.self)
                var rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
                rounded.replace(with: (bits &>> 16) | 0x0040, where: v .!= v)
                out.storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: rounded), toByteOffset: i * 2, as: SIMD16<UInt16>.self)
                i += 16
            }
            while i < range.upperBound {
                dst[i] = bfloat16Bits(src[i])
                i += 1
            }
        }
    }

    /// dst[i] = src[i] widened to Float32, for `count` elements; split across the worker threads.
    static func widenBFloat16(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        Threads.parallelFor(count, grain: 1 << 16) { range in
            widenBFloat16Serial(src + range.lowerBound, dst + range.lowerBound, count: range.count)
        }
    }

    @inline(__always)
    static func widenBFloat16Serial(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let raw = UnsafeRawPointer(src), out = UnsafeMutableRawPointer(dst)
        while i + 16 <= count {
            let h = raw.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt16>.self)
            let widened = SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16
            out.storeBytes(of: unsafeBitCast(widened, to: SIMD16<Float>.self), toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            dst[i] = float(bfloat16: src[i])
            i += 1
        }
    }

    /// A contiguous Float32 copy of a view whose storage is kept in bfloat16.
    static func widened(_ x: Tensor) -> Tensor {
        guard let halves = x.storage.bfloat16 else { preconditionFailure("widened needs a bfloat16 storage") }
        let out = Tensor(uninitialized: x.shape)
        let dst = out.pointer
        if x.isContiguous {
            widenBFloat16(halves + x.offset, dst, count: x.count)
            return out
        }
        let inner = x.rank > 0 ? x.strides[x.rank - 1] : 1
        var written = 0
        forEachRow(shape: x.shape, strides: [x.strides]) { offsets, length in
            let row = halves + x.offset + offsets[0]
            if inner == 1 {
                widenBFloat16Serial(row, dst + written, count: length)
            } else {
                for j in 0..<length { dst[written + j] = float(bfloat16: row[j * inner]) }
            }
            written += length
        }
        return out
    }

    /// Rows `indices` of a bfloat16 matrix view `table` [V, D] (last dim contiguous), widened into `dst`.
    static func gatherWidenedRows(_ table: Tensor, _ indices: [Int], into dst: UnsafeMutablePointer<Float>) {
        guard let halves = table.storage.bfloat16 else { preconditionFailure("gatherWidenedRows needs a bfloat16 storage") }
        let d = table.shape[1], rowStride = table.strides[0], colStride = table.strides[1]
        Threads.parallelFor(indices.count, grain: max(1, 16384 / max(d, 1))) { range in
            for i in range {
                let row = halves + table.offset + indices[i] * rowStride
                if colStride == 1 {
                    widenBFloat16Serial(row, dst + i * d, count: d)
                } else {
                    for j in 0..<d { dst[i * d + j] = float(bfloat16: row[j * colStride]) }
                }
            }
        }
    }
}

extension Kernels {
    /// Elements of a weight widened at once by the bfloat16 GEMMs: 16M (64 MB of Float32), so a large
    /// matrix (the 131M-value head of a 7B model) never exists in Float32 as a whole. Each block is one
    /// GEMM, which packs its other operand again, so blocks must be large: with 1M-element blocks a
    /// stage-1 step of bench/llava_large_lm_config.json took 1.75–1.87 s, with 16M 1.31–1.44 s. Tests
    /// lower it to cover the blocking.
    nonisolated(unsafe) static var widenedBlockElements = 1 << 24

    /// c[rows, out] = x · Wᵀ + beta · c for a contiguous weight W [out, in] kept in bfloat16, widened a
    /// block of output rows at a time. Each block is its own GEMM over the full k = in, so every element
    /// of c is summed as in one GEMM over the widened matrix.
    static func gemmBFloat16WeightTransposed(_ x: GemmOperand, _ weight: Tensor, rows: Int, beta: Float,
                                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        let halves = weight.storage.bfloat16! + weight.offset
        let blockRows = max(16, widenedBlockElements / max(inFeatures, 1))
        WideningScratch.shared.with(count: min(blockRows, outFeatures) * inFeatures) { scratch in
            var start = 0
            while start < outFeatures {
                let count = min(blockRows, outFeatures - start)
                widenBFloat16(halves + start * inFeatures, scratch, count: count * inFeatures)
                gemm(x, GemmOperand(pointer: UnsafePointer(scratch), transposed: false, ld: max(inFeatures, 1)), flipB: true,
                     m: rows, n: count, k: inFeatures, beta: beta, c: c + start, ldc: ldc)
                start += count
            }
        }
    }

    /// c[rows, in] = alpha · g · W for g [rows, out] and a contiguous weight W [out, in] kept in bfloat16,
    /// widened a block of columns at a time (each block a GEMM over the full k = out).
    static func gemmBFloat16Weight(_ g: GemmOperand, _ weight: Tensor, rows: Int, alpha: Float = 1,
                                   c: UnsafeMutablePointer<Float>, ldc: Int) {
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        let halves = weight.storage.bfloat16! + weight.offset
        let blockColumns = min(inFeatures, max(16, widenedBlockElements / max(outFeatures, 1)))
        WideningScratch.shared.with(count: outFeatures * blockColumns) { sp in
            var start = 0
            while start < inFeatures {
                let count = min(blockColumns, inFeatures - start)
                Threads.parallelFor(outFeatures, grain: max(1, 65536 / max(count, 1))) { range in
                    for r in range { widenBFloat16Serial(halves + r * inFeatures + start, sp + r * count, count: count) }
                }
                gemm(g, GemmOperand(pointer: UnsafePointer(sp), transposed: false, ld: max(count, 1)),
                     m: rows, n: count, k: outFeatures, alpha: alpha, beta: 0, c: c + start, ldc: ldc)
                start += count
            }
        }
    }
}

/// The buffers the bfloat16 GEMMs widen into, kept between calls: a fresh 64 MB buffer per call
/// would page-fault on every touch, and freed buffers of tens of MB fragment malloc's heap between
/// a step's activations (measured: the step's peak RSS grew by 1 GB). One buffer per caller at a
/// time: the shards of a `SampleParallel` step widen at once, each into a buffer of its own, and the
/// buffers are kept for the next step.
final class WideningScratch: @unchecked Sendable {
    static let shared = WideningScratch()
    private let lock = NSLock()
    private var idle: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    func with(count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        lock.lock()
        var buffer = idle.popLast()
        lock.unlock()
        if let held = buffer, held.capacity < count {
            held.pointer.deallocate()
            buffer = nil
        }
        let taken = buffer ?? (UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
                                   .bindMemory(to: Float.self, capacity: max(count, 1)), max(count, 1))
        defer { lock.lock(); idle.append(taken); lock.unlock() }
        body(taken.pointer)
    }
}
