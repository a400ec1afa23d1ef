/// Walking non-contiguous views. Every op that accepts views funnels them through here (or through
/// `contiguous`), so the fast kernels only ever see dense memory.
public enum Kernels {}

extension Kernels {
    /// Calls `body(offsets, length)` once per innermost row of `shape`, where `offsets[i]` is the
    /// element offset of operand i at the row's start; the row then advances by `innerStrides[i]`.
    static func forEachRow(shape: [Int], strides: [[Int]], _ body: (_ offsets: [Int], _ length: Int) -> Void) {
        let rank = shape.count
        let operands = strides.count
        if rank == 0 {
            body([Int](repeating: 0, count: operands), 1)
            return
        }
        let length = shape[rank - 1]
        let rows = shape.dropLast().reduce(1, *)
        if length == 0 || rows == 0 { return }
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        var offsets = [Int](repeating: 0, count: operands)
        for _ in 0..<rows {
            body(offsets, length)
            // Advance the multi-index over the outer dims, updating offsets incrementally.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                for o in 0..<operands { offsets[o] += strides[o][axis] }
                if index[axis] < shape[axis] { break }
                for o in 0..<operands { offsets[o] -= strides[o][axis] * shape[axis] }
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// A contiguous copy of any view.
    public static func copyStrided(_ x: Tensor) -> Tensor {
        if x.storage.isBFloat16 { return widened(x) }
        let out = Tensor(uninitialized: x.shape)
        let dst = out.pointer
        if x.isContiguous {
            if x.count > 0 { dst.update(from: x.pointer, count: x.count) }
            return out
        }
        let src = x.pointer
        let innerStride = x.rank > 0 ? x.strides[x.rank - 1] : 1
        var written = 0
        forEachRow(shape: x.shape, strides: [x.strides]) { offsets, length in
            let row = src + offsets[0]
            if innerStride == 1 {
                (dst + written).update(from: row, count: length)
            } else {
                for j in 0..<length { dst[written + j] = row[j * innerStride] }
            }
            written += length
        }
        return out
    }

    /// Strides that read `shape` (of rank ≤ `target.count`) as broadcast to `target`: 0 on expanded dims.
    static func broadcastStrides(_ x: Tensor, to target: [Int]) -> [Int] {
        let pad = target.count - x.rank
        precondition(pad >= 0, "cannot broadcast \(describe(x.shape)) to \(describe(target))")
        var strides = [Int](repeating: 0, count: target.count)
        for axis in 0..<x.rank {
            let size = x.shape[axis]
            precondition(size == target[pad + axis] || size == 1,
                         "cannot broadcast \(describe(x.shape)) to \(describe(target))")
            strides[pad + axis] = size == 1 ? 0 : x.strides[axis]
        }
        return strides
    }

    /// The broadcast shape of two shapes (NumPy rules); traps with both shapes named when incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            precondition(da == db || da == 1 || db == 1,
                         "shapes \(describe(a)) and \(describe(b)) do not broadcast")
            out[i] = da == 1 ? db : da
        }
        return out
    }

    /// Sums `grad` (of a broadcast result) back down to `shape`, undoing broadcasting.
    public static func reduceBroadcast(_ grad: Tensor, to shape: [Int]) -> Tensor {
        if grad.shape == shape { return grad }
        let pad = grad.rank - shape.count
        var axes: [Int] = Array(0..<pad)
        for axis in 0..<shape.count where shape[axis] == 1 && grad.shape[pad + axis] != 1 {
            axes.append(pad + axis)
        }
        var reduced = grad
        for axis in axes.sorted(by: >) { reduced = sumAxis(reduced, axis: axis, keepDim: true) }
        return reshapedData(reduced, shape)
    }

    /// Same elements, new shape (copies only if not contiguous). No autograd record.
    static func reshapedData(_ x: Tensor, _ shape: [Int]) -> Tensor {
        let dense = x.contiguousStorageView()
        return Tensor(storage: dense.storage, shape: shape, strides: Tensor.contiguousStrides(shape),
                      offset: dense.offset)
    }
}
