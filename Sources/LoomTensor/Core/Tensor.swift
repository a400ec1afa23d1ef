/// A dense Float32 tensor: a view (shape, strides, offset) into shared storage, plus what reverse-mode
/// autograd needs. Up to rank 5 (rank 0 is a scalar).
///
/// Reference semantics are deliberate: a parameter is one object whose `grad` accumulates across
/// micro-batches, and an op's recorded inputs are the very tensors the user holds.
public final class Tensor {
    public static let maxRank = 5

    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int
    public let storage: TensorStorage

    /// Set on a leaf (a parameter) to have `backward()` accumulate into `grad`. A frozen parameter keeps
    /// this false: it gets no gradient buffer and no weight-gradient GEMM ever runs for it.
    public var requiresGradient: Bool {
        didSet {
            precondition(gradNode == nil || !requiresGradient,
                         "requiresGradient is set on leaves (parameters), not on results of recorded ops")
            if !requiresGradient { grad = nil }
            // Training needs Float32: a weight kept in bfloat16 is widened back (its rounded values).
            if requiresGradient { storage.restoreFloat32() }
        }
    }

    /// Accumulated gradient of a leaf, same shape, contiguous. Nil until the first backward that reaches it.
    public var grad: Tensor?

    /// Optional name, used in error messages and parameter listings.
    public var name: String?

    /// The op that produced this tensor, when it was recorded on the tape.
    var gradNode: GradNode?

    // MARK: Construction

    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        precondition(shape.count <= Tensor.maxRank, "rank \(shape.count) exceeds \(Tensor.maxRank): \(describe(shape))")
        precondition(shape.count == strides.count, "shape \(describe(shape)) and strides \(describe(strides)) differ in rank")
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(describe(shape))")
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.requiresGradient = false
    }

    /// A zero-filled contiguous tensor.
    public convenience init(zeros shape: [Int]) {
        let count = shape.reduce(1, *)
        self.init(storage: TensorStorage(count: count), shape: shape, strides: Tensor.contiguousStrides(shape))
    }

    /// A contiguous tensor whose every element the caller will write (used by kernels).
    public convenience init(uninitialized shape: [Int]) {
        let count = shape.reduce(1, *)
        self.init(storage: TensorStorage(uninitializedCount: count), shape: shape,
                  strides: Tensor.contiguousStrides(shape))
    }

    /// A contiguous tensor holding `scalars` in row-major order.
    public convenience init(shape: [Int], scalars: [Float]) {
        let count = shape.reduce(1, *)
        precondition(scalars.count == count, "\(scalars.count) values for shape \(describe(shape)) (needs \(count))")
        self.init(uninitialized: shape)
        scalars.withUnsafeBufferPointer { src in
            if count > 0 { storage.base.update(from: src.baseAddress!, count: count) }
        }
    }

    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        storage.base.update(repeating: value, count: count)
    }

    public convenience init(scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    // MARK: Geometry

    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// True when the elements lie in row-major order with no gaps (size-1 dimensions may have any stride).
    public var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// Resolves a possibly negative axis; traps on a programmer error.
    public func axis(_ axis: Int) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        precondition(resolved >= 0 && resolved < max(rank, 1), "axis \(axis) out of range for shape \(describe(shape))")
        return resolved
    }

    /// Pointer to the first element of this view. Traps while the storage is kept in bfloat16.
    @inlinable
    public var pointer: UnsafeMutablePointer<Float> {
        precondition(!storage.isBFloat16, "this tensor is kept in bfloat16 (a frozen weight); only linear, embedding and reads accept it")
        return storage.base + offset
    }

    /// True while the elements are kept in bfloat16 (`keepInBFloat16()`).
    public var isBFloat16: Bool { storage.isBFloat16 }

    /// Keeps the elements of this tensor's storage (and so of every view of it) in bfloat16: half the
    /// memory, values rounded to nearest even. For frozen weights: `linear` and `embedding` widen them
    /// on use; making the tensor trainable widens it back to Float32.
    public func keepInBFloat16() {
        precondition(!requiresGradient, "only frozen tensors are kept in bfloat16")
        storage.keepInBFloat16()
    }

    // MARK: Element access

    /// The elements in row-major order (copies).
    public var scalars: [Float] {
        let source = contiguousStorageView()
        return Array(UnsafeBufferPointer(start: source.pointer, count: count))
    }

    /// The single element of a tensor with one element.
    public var item: Float {
        precondition(count == 1, "item needs one element, shape is \(describe(shape))")
        return pointer.pointee
    }

    public subscript(indices: Int...) -> Float {
        get {
            if let halves = storage.bfloat16 { return Kernels.float(bfloat16: halves[offset + linearOffset(indices)]) }
            return pointer[linearOffset(indices)]
        }
        set { pointer[linearOffset(indices)] = newValue }
    }

    func linearOffset(_ indices: [Int]) -> Int {
        precondition(indices.count == rank, "\(indices.count) indices for shape \(describe(shape))")
        var offset = 0
        for (axis, index) in indices.enumerated() {
            precondition(index >= 0 && index < shape[axis], "index \(index) out of range for axis \(axis) of \(describe(shape))")
            offset += index * strides[axis]
        }
        return offset
    }

    /// Calls `body` with the contiguous elements; views that are not contiguous are copied first.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let source = contiguousStorageView()
        return try body(UnsafeBufferPointer(start: source.pointer, count: count))
    }

    /// Writes through to this tensor's memory. Only for contiguous tensors (parameters, optimizer state).
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(isContiguous, "mutable access needs a contiguous tensor, got strides \(describe(strides)) for \(describe(shape))")
        return try body(UnsafeMutableBufferPointer(start: pointer, count: count))
    }

    /// This tensor if contiguous (and Float32), else a contiguous Float32 copy (no autograd record).
    func contiguousStorageView() -> Tensor {
        isContiguous && !storage.isBFloat16 ? self : Kernels.copyStrided(self)
    }

    /// A tensor sharing this one's memory but outside the graph (no gradient flows through it).
    public func detached() -> Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset)
    }

    /// An independent contiguous copy outside the graph.
    public func copied() -> Tensor {
        Kernels.copyStrided(self)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = count <= 8 ? scalars.map { "\($0)" }.joined(separator: ", ") : "\(count) values"
        return "Tensor(\(describe(shape))\(name.map { ", \($0)" } ?? ""): \(preview))"
    }
}

/// Integer data (token ids, labels, positions, slots) with a shape. Loom computes in Float32 only;
/// integers stay on the host side of the ops that index with them.
public struct IntTensor: Equatable, Sendable {
    public var shape: [Int]
    public var scalars: [Int]

    public init(shape: [Int], scalars: [Int]) {
        precondition(shape.reduce(1, *) == scalars.count,
                     "\(scalars.count) values for shape \(describe(shape))")
        self.shape = shape
        self.scalars = scalars
    }

    public init(_ scalars: [Int]) { self.init(shape: [scalars.count], scalars: scalars) }

    public var count: Int { scalars.count }
}
