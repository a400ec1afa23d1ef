import Foundation

/// A block of Float32 memory shared by a tensor and its views. 64-byte aligned for SIMD loads.
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    /// Memory that someone else owns (e.g. a memory-mapped file); kept alive while this storage lives.
    private let owner: AnyObject?

    /// Fresh, zero-filled memory.
    public init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owner = nil
    }

    /// Fresh memory whose contents the caller writes before reading.
    public init(uninitializedCount count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owner = nil
    }

    /// Wraps memory owned by `owner` (not freed here).
    public init(borrowing base: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
    }

    deinit {
        if owner == nil { UnsafeMutableRawPointer(base).deallocate() }
    }
}
