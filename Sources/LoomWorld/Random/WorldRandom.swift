/// The demo world's only source of randomness: xoshiro256** seeded through SplitMix64, so every
/// output depends on the seed alone (never on the system generator, the clock or the thread count).
///
/// Each file of the world draws from its own stream (`WorldRandom(seed:stream:)`), so one file's
/// samples do not change when another file's count changes or another split is left out.
public struct WorldRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose four words of state are four SplitMix64 outputs from `seed`.
    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next(); s1 = mixer.next(); s2 = mixer.next(); s3 = mixer.next()
    }

    /// An independent stream for `stream` (a name such as "stage2/image_qa") under `seed`.
    public init(seed: UInt64, stream: String) {
        self.init(seed: seed ^ (StableHash.fnv1a64(stream) &* 0x9E37_79B9_7F4A_7C15))
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    /// A uniform integer in `range` (Lemire's multiply-and-reject: no modulo bias).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }  // the full 64-bit range
        var product = next().multipliedFullWidth(by: span)
        if product.low < span {
            let threshold = (0 &- span) % span
            while product.low < threshold { product = next().multipliedFullWidth(by: span) }
        }
        return range.lowerBound + Int(product.high)
    }

    /// A uniform index in `0..<count`.
    public mutating func index(_ count: Int) -> Int {
        precondition(count > 0, "cannot pick from an empty collection")
        return int(in: 0...(count - 1))
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform double in [low, high].
    public mutating func double(in low: Double, _ high: Double) -> Double { low + (high - low) * unit() }

    /// True with probability one half.
    public mutating func coin() -> Bool { next() >> 63 == 1 }

    /// A uniformly chosen element.
    public mutating func element<C: RandomAccessCollection>(of items: C) -> C.Element where C.Index == Int {
        items[items.startIndex + index(items.count)]
    }

    /// `items` in a uniformly random order (Fisher–Yates from the back, with this generator).
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var items = items
        if items.count > 1 {
            for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, int(in: 0...i)) }
        }
        return items
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// SplitMix64: spreads one 64-bit seed over xoshiro's state (the seeding its authors recommend).
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// FNV-1a over UTF-8: a hash that is the same in every process and on every machine (Swift's
/// `Hasher` is seeded per process), used for stream names and speech file names.
public enum StableHash {
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// `fnv1a64` as 16 lowercase hex digits.
    public static func hex(_ text: String) -> String {
        let digits = String(fnv1a64(text), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
