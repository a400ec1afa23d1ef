/// Reductions along axes. Sums accumulate in Float (pairwise per row of 16 lanes), like PyTorch's
/// vectorised CPU sum.

extension Kernels {
    /// Sums one axis of any view; the result is contiguous, with the axis kept as size 1 or dropped.
    public static func sumAxis(_ x: Tensor, axis: Int, keepDim: Bool) -> Tensor {
        let axis = x.axis(axis)
        let dense = x.contiguousStorageView()
        defer { keepAlive(dense) }
        let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        var outShape = x.shape
        if keepDim { outShape[axis] = 1 } else { outShape.remove(at: axis) }
        let out = Tensor(zeros: outShape)
        let src = UnsafePointer(dense.pointer), dst = out.pointer
        if inner == 1 {
            Threads.parallelFor(outer, grain: max(1, 8192 / max(n, 1))) { rows in
                for o in rows { dst[o] = sumContiguous(src + o * n, n) }
            }
        } else {
            Threads.parallelFor(outer, grain: max(1, 8192 / max(n * inner, 1))) { rows in
                for o in rows {
                    let row = dst + o * inner
                    for k in 0..<n {
                        let s = src + (o * n + k) * inner
                        for i in 0..<inner { row[i] += s[i] }
                    }
                }
            }
        }
        return out
    }

    /// Sum of `n` contiguous floats, 16 partial sums then combined.
    @inline(__always)
    static func sumContiguous(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = FloatVector(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
            i += 16
        }
        var total = acc.sum()
        while i < n { total += p[i]; i += 1 }
        return total
    }

    /// Largest of `n` contiguous floats (−inf when n = 0), 16 lanes at a time. NaN is not
    /// propagated (callers handle non-finite rows themselves).
    @inline(__always)
    static func maxContiguous(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = FloatVector(repeating: -.infinity)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
            acc.replace(with: v, where: v .> acc)
            i += 16
        }
        var best = acc.max()
        while i < n { if p[i] > best { best = p[i] }; i += 1 }
        return best
    }

    /// Repeats `g` (shaped like a reduction with kept dims) back to `shape`.
    static func expand(_ g: Tensor, to shape: [Int]) -> Tensor {
        binary(Tensor(zeros: shape), g, .add)
    }
}

/// Sum over `axes` (all axes when empty), keeping them as size 1 when `keepDims`.
public func sum(_ x: Tensor, axes: [Int] = [], keepDims: Bool = false) -> Tensor {
    let resolved = axes.isEmpty ? Array(0..<x.rank) : axes.map { x.axis($0) }
    var out = resolved.isEmpty ? Kernels.copyStrided(x) : x.detached()
    for axis in Set(resolved).sorted(by: >) { out = Kernels.sumAxis(out, axis: axis, keepDim: true) }
    let keptShape = out.shape
    if !keepDims { out = Kernels.reshapedData(out, x.shape.enumerated().filter { !resolved.contains($0.offset) }.map(\.element)) }
    let inputShape = x.shape
    return Tensor.record("sum", out, inputs: [x]) { g in
        [Kernels.expand(Kernels.reshapedData(g, keptShape), to: inputShape)]
    }
}

public func sum(_ x: Tensor, axis: Int, keepDims: Bool = false) -> Tensor { sum(x, axes: [axis], keepDims: keepDims) }

/// Mean over `axes` (all when empty).
public func mean(_ x: Tensor, axes: [Int] = [], keepDims: Bool = false) -> Tensor {
    let resolved = axes.isEmpty ? Array(0..<x.rank) : axes.map { x.axis($0) }
    let n = Set(resolved).map { x.shape[$0] }.reduce(1, *)
    return sum(x, axes: axes, keepDims: keepDims) * (1 / Float(n))
}

public func mean(_ x: Tensor, axis: Int, keepDims: Bool = false) -> Tensor { mean(x, axes: [axis], keepDims: keepDims) }

/// Maximum along `axis`; the gradient goes to the first maximal element, as torch.max(dim).
public func max(_ x: Tensor, axis: Int, keepDims: Bool = false) -> Tensor {
    let axis = x.axis(axis)
    let dense = x.contiguousStorageView()
    defer { keepAlive(dense) }
    let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
    precondition(n > 0, "max over an empty axis of \(describe(x.shape))")
    var keptShape = x.shape
    keptShape[axis] = 1
    let out = Tensor(uninitialized: keptShape)
    var argmax = [Int](repeating: 0, count: outer * inner)
    let src = dense.pointer, dst = out.pointer
    for o in 0..<outer {
        for i in 0..<inner {
            var best = src[o * n * inner + i], bestIndex = 0
            for k in 1..<n where src[(o * n + k) * inner + i] > best || best.isNaN == false && src[(o * n + k) * inner + i].isNaN {
                best = src[(o * n + k) * inner + i]
                bestIndex = k
                if best.isNaN { break }
            }
            dst[o * inner + i] = best
            argmax[o * inner + i] = bestIndex
        }
    }
    var outShape = keptShape
    if !keepDims { outShape.remove(at: axis) }
    let result = Kernels.reshapedData(out, outShape)
    let inputShape = x.shape
    return Tensor.record("max", result, inputs: [x]) { g in
        let grad = Tensor(zeros: inputShape)
        let dense = g.contiguousStorageView()
        defer { keepAlive(dense) }
        let gd = dense.pointer, gp = grad.pointer
        for o in 0..<outer {
            for i in 0..<inner { gp[(o * n + argmax[o * inner + i]) * inner + i] = gd[o * inner + i] }
        }
        return [grad]
    }
}
