/// Gathers and scatters by integer index: embedding lookup, row selection, concatenation, and
/// splicing connector outputs into the placeholder slots of a token sequence.

/// Rows of `weight` [V, D] picked by `ids` → [..ids.shape, D] (nn.Embedding). The backward scatters
/// into the weight's gradient, skipping `paddingIndex` as nn.Embedding(padding_idx:) does.
public func embedding(_ ids: IntTensor, weight: Tensor, paddingIndex: Int? = nil) throws -> Tensor {
    precondition(weight.rank == 2, "embedding weight must be [vocab, dim], got \(describe(weight.shape))")
    let vocab = weight.shape[0], d = weight.shape[1]
    if let bad = ids.scalars.firstIndex(where: { $0 < 0 || $0 >= vocab }) {
        throw TensorError("token id \(ids.scalars[bad]) at position \(bad) is outside the vocabulary of \(vocab) (embedding \(describe(weight.shape)))")
    }
    let out = Tensor(uninitialized: ids.shape + [d])
    let scalars = ids.scalars
    if weight.isBFloat16 {  // only the rows looked up are widened
        Kernels.gatherWidenedRows(weight, scalars, into: out.pointer)
    } else {
        let wd = weight.contiguousStorageView()
        defer { keepAlive(wd) }
        let wp = wd.pointer, op = out.pointer
        Threads.parallelFor(scalars.count, grain: max(1, 16384 / max(d, 1))) { range in
            for i in range { (op + i * d).update(from: wp + scalars[i] * d, count: d) }
        }
    }
    return Tensor.record("embedding", out, inputs: [weight]) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        let grad = Tensor(zeros: [vocab, d])
        let gp = gd.pointer, dp = grad.pointer
        for (i, id) in scalars.enumerated() where id != paddingIndex {
            for j in 0..<d { dp[id * d + j] += gp[i * d + j] }
        }
        return [grad]
    }
}

/// Rows `indices` of x viewed as [N, rest…] → [indices.count, rest…]. Repeated indices are allowed;
/// their gradients add up.
public func gatherRows(_ x: Tensor, _ indices: [Int]) throws -> Tensor {
    precondition(x.rank >= 1, "gatherRows needs rank ≥ 1")
    let n = x.shape[0], rowSize = x.count / max(n, 1)
    if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
        throw TensorError("row index \(bad) out of range for \(n) rows (shape \(describe(x.shape)))")
    }
    let xd = x.contiguousStorageView()
    defer { keepAlive(xd) }
    let out = Tensor(uninitialized: [indices.count] + Array(x.shape.dropFirst()))
    let xp = xd.pointer, op = out.pointer
    for (i, row) in indices.enumerated() { (op + i * rowSize).update(from: xp + row * rowSize, count: rowSize) }
    let shape = x.shape
    return Tensor.record("gather_rows", out, inputs: [x]) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        let grad = Tensor(zeros: shape)
        let gp = gd.pointer, dp = grad.pointer
        for (i, row) in indices.enumerated() {
            for j in 0..<rowSize { dp[row * rowSize + j] += gp[i * rowSize + j] }
        }
        return [grad]
    }
}

/// `base` [N, D…] with rows `slots[i]` replaced by `rows[i]` ([M, D…]): how connector outputs enter
/// the placeholder positions of the token embeddings. Slots must be distinct.
/// Gradient: base gets g with the slot rows zeroed; rows get g at the slots.
public func scatteringRows(_ base: Tensor, _ rows: Tensor, at slots: [Int]) throws -> Tensor {
    precondition(base.rank >= 1 && rows.rank == base.rank && Array(rows.shape.dropFirst()) == Array(base.shape.dropFirst()),
                 "scatteringRows: rows \(describe(rows.shape)) do not fit base \(describe(base.shape))")
    let n = base.shape[0], rowSize = base.count / max(n, 1)
    guard slots.count == rows.shape[0] else {
        throw TensorError("\(rows.shape[0]) feature rows for \(slots.count) placeholder slots (base \(describe(base.shape)))")
    }
    if let bad = slots.first(where: { $0 < 0 || $0 >= n }) {
        throw TensorError("placeholder slot \(bad) out of range for a sequence of \(n) positions")
    }
    guard Set(slots).count == slots.count else { throw TensorError("placeholder slots repeat: \(slots)") }
    let out = Kernels.copyStrided(base)
    let rd = rows.contiguousStorageView()
    defer { keepAlive(rd) }
    let op = out.pointer, rp = rd.pointer
    for (i, slot) in slots.enumerated() { (op + slot * rowSize).update(from: rp + i * rowSize, count: rowSize) }
    return Tensor.record("scatter_rows", out, inputs: [base, rows]) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        var gBase: Tensor?, gRows: Tensor?
        if base.needsGradient {
            let grad = Kernels.copyStrided(gd)
            for slot in slots { (grad.pointer + slot * rowSize).update(repeating: 0, count: rowSize) }
            gBase = grad
        }
        if rows.needsGradient {
            let grad = Tensor(uninitialized: rows.shape)
            for (i, slot) in slots.enumerated() { (grad.pointer + i * rowSize).update(from: gd.pointer + slot * rowSize, count: rowSize) }
            gRows = grad
        }
        return [gBase, gRows]
    }
}

/// Joins tensors along `axis`; all other dims must match.
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of no tensors")
    let first = tensors[0]
    let ax = first.axis(axis)
    for t in tensors {
        precondition(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == ax || t.shape[$0] == first.shape[$0] },
                     "concat along axis \(ax): \(describe(t.shape)) does not match \(describe(first.shape))")
    }
    var shape = first.shape
    shape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
    let out = Tensor(uninitialized: shape)
    var start = 0
    var ranges: [Range<Int>] = []
    for t in tensors {
        let range = start..<(start + t.shape[ax])
        Kernels.copy(t, into: out.sliceView(axis: ax, range))
        ranges.append(range)
        start = range.upperBound
    }
    return Tensor.record("concat", out, inputs: tensors) { g in
        zip(tensors, ranges).map { t, range in t.needsGradient ? Kernels.copyStrided(g.sliceView(axis: ax, range)) : nil }
    }
}
