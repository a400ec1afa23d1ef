import Foundation
import LoomTensor

/// Element-wise sums of Float arrays that are exact, so they do not depend on the order or grouping of
/// the terms: summing samples one by one, in micro-batches, on one rank or over N ranks gives the
/// same bits.
///
/// Each element is a fixed-point number held as `limbs` signed 64-bit "digits" of 32 bits each, the
/// least significant bit worth 2⁻¹⁰⁰ (a superaccumulator, as in Kulisch's exact dot product). A Float
/// term m·2ᵉ (m a 24-bit integer) lands in at most two adjacent limbs; integer addition is
/// associative, so the limbs of a sum are the same whatever the order, and an MPI integer sum of the
/// limbs over the ranks is exact too. Carries are left pending until `value(at:)`: each limb absorbs
/// more than 2³¹ terms before it could overflow.
///
/// Range: terms of magnitude below 2⁻¹⁰⁰ (≈ 7.9e-31) are truncated toward zero (the same way on every
/// rank); terms of 2⁵¹ (≈ 2.3e15) or more, infinities and NaNs are not summed but counted in
/// `outOfRange`, and the sum is then not finite.
public struct ExactSum {
    static let limbs = 5
    /// 2^lowestBit is the weight of the least significant bit.
    static let lowestBit = -100

    /// Summed elements.
    public let count: Int
    /// `count × limbs` digits, element-major, then one counter of out-of-range terms: the buffer an
    /// integer all-reduce sums.
    public private(set) var storage: [Int64]

    public init(count: Int) {
        self.count = count
        storage = [Int64](repeating: 0, count: count * Self.limbs + 1)
    }

    /// Terms that were infinite, NaN or too large (summed over ranks after an all-reduce).
    public var outOfRange: Int64 { storage[storage.count - 1] }

    public var isFinite: Bool { outOfRange == 0 }

    /// Adds `values` (count elements) element by element.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        precondition(values.count == count, "ExactSum of \(count) elements cannot add \(values.count)")
        let rejected = storage.withUnsafeMutableBufferPointer { buffer -> Int64 in
            let base = buffer.baseAddress!, source = values.baseAddress!
            // Elements are independent: threads split them, and the result does not depend on how.
            let lock = NSLock()
            var total: Int64 = 0
            Threads.parallelFor(count, grain: 16384) { range in
                var bad: Int64 = 0
                for i in range where !Self.add(source[i], to: base + i * Self.limbs) { bad += 1 }
                if bad > 0 { lock.withLock { total += bad } }
            }
            return total
        }
        storage[storage.count - 1] += rejected
    }

    /// Adds a Float term to one element's limbs; false when it cannot be represented.
    @inline(__always)
    static func add(_ term: Float, to limb: UnsafeMutablePointer<Int64>) -> Bool {
        if term == 0 { return true }
        guard term.isFinite else { return false }
        let bits = term.bitPattern
        let biased = Int((bits >> 23) & 0xFF)
        var mantissa = Int64(bits & 0x7F_FFFF)
        // term = ±mantissa · 2^(position + lowestBit)
        var position: Int
        if biased == 0 {
            position = -149 - lowestBit
        } else {
            mantissa |= 1 << 23
            position = biased - 150 - lowestBit
        }
        if position < 0 {
            guard position > -24 else { return true }   // below the resolution
            mantissa >>= -position
            position = 0
        }
        let index = position >> 5
        guard index + 1 < limbs else { return false }
        let wide = mantissa << (position & 31)          // < 2⁵⁵
        let low = wide & 0xFFFF_FFFF, high = wide >> 32
        if bits >> 31 == 0 {
            limb[index] &+= low
            limb[index + 1] &+= high
        } else {
            limb[index] &-= low
            limb[index + 1] &-= high
        }
        return true
    }

    /// The sum of element `i`, rounded to Float (NaN when a term was out of range).
    public func value(at i: Int) -> Float {
        guard isFinite else { return .nan }
        return storage.withUnsafeBufferPointer { Self.rounded($0.baseAddress! + i * Self.limbs) }
    }

    /// All sums, rounded to Float (NaN everywhere when a term was out of range).
    public func values(into output: UnsafeMutableBufferPointer<Float>) {
        precondition(output.count == count, "ExactSum of \(count) elements cannot fill \(output.count)")
        guard isFinite else { output.update(repeating: .nan); return }
        storage.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!, out = output.baseAddress!
            Threads.parallelFor(count, grain: 16384) { range in
                for i in range { out[i] = Self.rounded(base + i * Self.limbs) }
            }
        }
    }

    /// One element's exact value rounded to Float. The digits are first made canonical (the lower ones
    /// in [0, 2³²), the carries in the top, signed one), in registers: the same value always gives the same
    /// digits, so the rounding is the same on every rank whatever the order of the terms.
    @inline(__always)
    static func rounded(_ limb: UnsafePointer<Int64>) -> Float {
        var d0 = limb[0], d1 = limb[1], d2 = limb[2], d3 = limb[3], d4 = limb[4]
        var carry = d0 >> 32; d0 -= carry << 32; d1 &+= carry
        carry = d1 >> 32; d1 -= carry << 32; d2 &+= carry
        carry = d2 >> 32; d2 -= carry << 32; d3 &+= carry
        carry = d3 >> 32; d3 -= carry << 32; d4 &+= carry
        let radix = 4_294_967_296.0
        let total = (((Double(d4) * radix + Double(d3)) * radix + Double(d2)) * radix + Double(d1)) * radix + Double(d0)
        return Float(total * Double(sign: .plus, exponent: lowestBit, significand: 1))
    }

    /// The limbs and the out-of-range counter, for an integer all-reduce.
    public mutating func withUnsafeMutableStorage<R>(_ body: (UnsafeMutableBufferPointer<Int64>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    public var storageByteCount: Int { storage.count * MemoryLayout<Int64>.size }

    /// Resets every sum to zero.
    public mutating func clear() {
        storage.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
