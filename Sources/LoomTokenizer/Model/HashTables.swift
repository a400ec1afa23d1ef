/// Open-addressing hash tables for the hot path. Keys are byte strings, never Swift Strings: String
/// equality is canonical equivalence, which would merge distinct vocabulary entries such as a
/// composed "é" and "e" + U+0301, and hashing it costs a normalization check.

@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: count)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= count {
        let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 32
        i += 8
    }
    if i < count {
        var word: UInt64 = 0
        var shift: UInt64 = 0
        while i < count {
            word |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ word) &* 0xC4CE_B9FE_1A85_EC53
    }
    h ^= h >> 33
    h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 33
    return h | 1  // 0 marks an empty slot
}

/// Byte strings to a pair of Int32s (an id and 0 for a vocabulary; an offset and a count into a side
/// array for the word cache). Inserting an existing key overwrites its value.
struct ByteKeyedTable {
    private struct Slot {
        var hash: UInt64 = 0
        var keyStart: Int32 = 0
        var keyCount: Int32 = 0
        var first: Int32 = 0
        var second: Int32 = 0
    }

    private var slots: [Slot]
    private var keys: [UInt8] = []
    private var mask: Int
    private(set) var count = 0

    init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        slots = [Slot](repeating: Slot(), count: capacity)
        mask = capacity - 1
    }

    /// The bytes stored for keys so far (to bound a cache's memory).
    var keyBytes: Int { keys.count }

    mutating func removeAll() {
        for i in slots.indices { slots[i].hash = 0 }
        keys.removeAll(keepingCapacity: true)
        count = 0
    }

    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> (Int32, Int32)? {
        let hash = hashBytes(p, n)
        return slots.withUnsafeBufferPointer { slots in
            keys.withUnsafeBufferPointer { keys in
                var i = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let slot = slots[i]
                    if slot.hash == 0 { return nil }
                    if slot.hash == hash, Int(slot.keyCount) == n {
                        let start = Int(slot.keyStart)
                        var k = 0
                        while k < n, keys[start + k] == p[k] { k += 1 }
                        if k == n { return (slot.first, slot.second) }
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    func lookup(_ key: [UInt8]) -> (Int32, Int32)? {
        key.withUnsafeBufferPointer { lookup($0.baseAddress ?? emptyBytes, $0.count) }
    }

    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, _ first: Int32, _ second: Int32) {
        if (count + 1) * 2 > slots.count { grow() }
        let hash = hashBytes(p, n)
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].hash != 0 {
            let slot = slots[i]
            if slot.hash == hash, Int(slot.keyCount) == n {
                let start = Int(slot.keyStart)
                var k = 0
                while k < n, keys[start + k] == p[k] { k += 1 }
                if k == n {
                    slots[i].first = first
                    slots[i].second = second
                    return
                }
            }
            i = (i + 1) & mask
        }
        let start = keys.count
        keys.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        slots[i] = Slot(hash: hash, keyStart: Int32(start), keyCount: Int32(n), first: first, second: second)
        count += 1
    }

    mutating func insert(_ key: [UInt8], _ first: Int32, _ second: Int32 = 0) {
        key.withUnsafeBufferPointer { insert($0.baseAddress ?? emptyBytes, $0.count, first, second) }
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for slot in old where slot.hash != 0 {
            var i = Int(truncatingIfNeeded: slot.hash) & mask
            while slots[i].hash != 0 { i = (i + 1) & mask }
            slots[i] = slot
        }
    }
}

/// A pointer to use for empty byte strings.
let emptyBytes: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.initialize(to: 0)
    return UnsafePointer(p)
}()

/// The merge table: (left id, right id) to (rank, merged id).
struct MergeTable {
    private static let empty = UInt64.max
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0

    init(minimumCapacity: Int) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        keys = [UInt64](repeating: MergeTable.empty, count: capacity)
        values = [UInt64](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    /// Sets the merge of (left, right); a later merge of the same pair replaces an earlier one, as the
    /// reference builds its map from the list in order.
    mutating func set(_ left: Int32, _ right: Int32, rank: Int32, merged: Int32) {
        let key = MergeTable.key(left, right)
        var i = MergeTable.slot(key, mask)
        while keys[i] != MergeTable.empty && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == MergeTable.empty { count += 1 }
        keys[i] = key
        values[i] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// (rank, merged id) of the pair, or nil.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        let key = MergeTable.key(left, right)
        return keys.withUnsafeBufferPointer { keys in
            var i = MergeTable.slot(key, mask)
            while true {
                let k = keys[i]
                if k == key {
                    let v = values[i]
                    return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
                }
                if k == MergeTable.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }
}
