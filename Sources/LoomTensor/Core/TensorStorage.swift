import Foundation

/// A block of Float32 memory shared by a tensor and its views. 64-byte aligned for SIMD loads.
///
/// A storage can also be kept in bfloat16 (`keepInBFloat16()`): half the memory, for frozen weights
/// of large models. While it is, `base` must not be used; the ops that accept such a tensor
/// (`linear`'s weight, `embedding`'s table, and reads through `contiguousStorageView()`) widen its
/// values to Float32 where they need them. `restoreFloat32()` widens it back in place.
public final class TensorStorage: @unchecked Sendable {
    /// The Float32 elements; not valid while `bfloat16` is non-nil.
    public private(set) var base: UnsafeMutablePointer<Float>
    public let count: Int
    /// The elements as bfloat16 (the high half of each Float32) while the storage is kept that way.
    public private(set) var bfloat16: UnsafeMutablePointer<UInt16>?
    /// Memory that someone else owns (e.g. a memory-mapped file); kept alive while this storage lives.
    private var owner: AnyObject?
    /// False while `base` is borrowed from `owner` or released for bfloat16.
    private var ownsBase: Bool

    /// What `base` points at while the elements live in `bfloat16`: never read or written.
    nonisolated(unsafe) private static let released = UnsafeMutablePointer<Float>.allocate(capacity: 16)

    /// Fresh, zero-filled memory.
    public init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owner = nil
        ownsBase = true
    }

    /// Fresh memory whose contents the caller writes before reading.
    public init(uninitializedCount count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owner = nil
        ownsBase = true
    }

    /// Wraps memory owned by `owner` (not freed here).
    public init(borrowing base: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
        ownsBase = false
    }

    /// True while the elements are kept in bfloat16.
    @inlinable
    public var isBFloat16: Bool { bfloat16 != nil }

    /// Rounds every element to bfloat16 (nearest, ties to even; NaN stays NaN) and releases the
    /// Float32 memory. The values read afterwards are the rounded ones. No-op when already bfloat16.
    /// Not thread-safe: call it between steps, never while an op reads the storage.
    public func keepInBFloat16() {
        guard bfloat16 == nil else { return }
        let halves = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
            .bindMemory(to: UInt16.self, capacity: max(count, 1))
        Kernels.roundToBFloat16(UnsafePointer(base), halves, count: count)
        if ownsBase { UnsafeMutableRawPointer(base).deallocate() }
        owner = nil
        ownsBase = false
        base = TensorStorage.released
        bfloat16 = halves
    }

    /// Widens the bfloat16 elements back into fresh Float32 memory (the rounded values: what was lost
    /// to rounding does not come back). No-op for Float32 storage.
    public func restoreFloat32() {
        guard let halves = bfloat16 else { return }
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let floats = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        Kernels.widenBFloat16(UnsafePointer(halves), floats, count: count)
        UnsafeMutableRawPointer(halves).deallocate()
        bfloat16 = nil
        base = floats
        ownsBase = true
    }

    deinit {
        if let bfloat16 { UnsafeMutableRawPointer(bfloat16).deallocate() }
        if ownsBase { UnsafeMutableRawPointer(base).deallocate() }
    }
}
