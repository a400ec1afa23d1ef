/// Views share memory with their source: reshape (of contiguous data), permute, transpose, slice,
/// squeeze/unsqueeze cost no copy. Their backward maps the gradient's layout back.

extension Tensor {
    /// Same elements in a new shape; one dimension may be −1. A view when contiguous, else a copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var newShape = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(describe(shape)) to \(describe(newShape))")
            newShape[inferred] = count / known
        }
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(describe(shape)) (\(count) elements) to \(describe(newShape))")
        if newShape == shape { return self }
        let source = isContiguous ? self : contiguous()
        let out = Tensor(storage: source.storage, shape: newShape, strides: Tensor.contiguousStrides(newShape),
                         offset: source.offset)
        let inputShape = shape
        return Tensor.record("reshape", out, inputs: [source]) { g in [Kernels.reshapedData(g, inputShape)] }
    }

    /// Dense copy when this view is not contiguous; the tensor itself otherwise.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let out = Kernels.copyStrided(self)
        return Tensor.record("contiguous", out, inputs: [self]) { g in [g] }
    }

    /// Reorders dimensions: result axis i is source axis `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        let order = order.map { axis($0) }
        precondition(order.count == rank && Set(order).count == rank, "bad permutation \(order) for \(describe(shape))")
        let out = Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.record("permute", out, inputs: [self]) { g in [g.detached().permuted(inverse)] }
    }

    /// Swaps two dimensions (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(axis(a), axis(b))
        return permuted(order)
    }

    /// Elements `range` along `axis`, as a view.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = self.axis(axis)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice \(range) out of bounds for axis \(ax) of \(describe(shape))")
        var newShape = shape
        newShape[ax] = range.count
        let out = Tensor(storage: storage, shape: newShape, strides: strides, offset: offset + range.lowerBound * strides[ax])
        let inputShape = shape
        return Tensor.record("slice", out, inputs: [self]) { g in
            let grad = Tensor(zeros: inputShape)
            Kernels.copy(g, into: grad.sliceView(axis: ax, range))
            return [grad]
        }
    }

    /// Splits along `axis` into pieces of the given sizes (views).
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        let ax = self.axis(axis)
        precondition(sizes.reduce(0, +) == shape[ax], "split sizes \(sizes) do not add up to \(shape[ax]) on axis \(ax) of \(describe(shape))")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(axis: ax, start..<(start + size))
        }
    }

    /// Inserts a size-1 dimension at `axis`.
    public func unsqueezed(_ axis: Int) -> Tensor {
        let ax = axis < 0 ? axis + rank + 1 : axis
        var s = shape
        s.insert(1, at: ax)
        return reshaped(s)
    }

    /// Removes a size-1 dimension.
    public func squeezed(_ axis: Int) -> Tensor {
        let ax = self.axis(axis)
        precondition(shape[ax] == 1, "cannot squeeze axis \(ax) of size \(shape[ax]) in \(describe(shape))")
        var s = shape
        s.remove(at: ax)
        return reshaped(s)
    }

    /// Merges dims `from...to` into one (reshape).
    public func flattened(from start: Int = 0, to end: Int = -1) -> Tensor {
        let a = axis(start), b = axis(end)
        var s = Array(shape[..<a])
        s.append(shape[a...b].reduce(1, *))
        s.append(contentsOf: shape[(b + 1)...])
        return reshaped(s)
    }

    /// A view of a slice with no autograd record (for kernels that write into part of a buffer).
    func sliceView(axis: Int, _ range: Range<Int>) -> Tensor {
        var newShape = shape
        newShape[axis] = range.count
        return Tensor(storage: storage, shape: newShape, strides: strides, offset: offset + range.lowerBound * strides[axis])
    }
}

extension Kernels {
    /// Copies `source` into the view `target` (same shape, any layouts).
    public static func copy(_ source: Tensor, into target: Tensor) {
        precondition(source.shape == target.shape, "cannot copy \(describe(source.shape)) into \(describe(target.shape))")
        let src = source.pointer, dst = target.pointer
        let r = source.rank
        let si = r > 0 ? source.strides[r - 1] : 1, di = r > 0 ? target.strides[r - 1] : 1
        forEachRow(shape: source.shape, strides: [source.strides, target.strides]) { offsets, length in
            if si == 1 && di == 1 {
                (dst + offsets[1]).update(from: src + offsets[0], count: length)
            } else {
                for j in 0..<length { dst[offsets[1] + j * di] = src[offsets[0] + j * si] }
            }
        }
    }
}
