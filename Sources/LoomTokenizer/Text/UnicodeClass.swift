/// Character classes of the reference engines, as bit flags per Unicode scalar.
///
/// - `letter`, `number`, `whitespace`: Oniguruma's `\p{L}`, `\p{N}`, `\s` (the Split regexes).
/// - `word`: the Rust regex crate's Unicode `\w`, used by added tokens' `single_word` and the
///   Whitespace pre-tokenizer; `whitespace` is also Rust's `\s` and `char::is_whitespace`.
/// - `numeric`: Rust's `char::is_numeric` (Digits).
/// - `punctuation`: tokenizers' `is_punc` (ASCII punctuation or a P* category in its tables).
/// - `mark`: the combining marks StripAccents removes.
/// The tables (UnicodeClassData.swift) are generated from the reference library itself, because the
/// engines' Unicode versions differ from each other and from Swift's.
struct UnicodeClass: OptionSet {
    let rawValue: UInt8
    static let letter = UnicodeClass(rawValue: 1)
    static let number = UnicodeClass(rawValue: 2)
    static let whitespace = UnicodeClass(rawValue: 4)
    static let word = UnicodeClass(rawValue: 8)
    static let punctuation = UnicodeClass(rawValue: 16)
    static let mark = UnicodeClass(rawValue: 32)
    static let numeric = UnicodeClass(rawValue: 64)

    static let tables: [(UnicodeClass, [UInt32])] = [
        (.letter, UnicodeClassData.letter), (.number, UnicodeClassData.number),
        (.whitespace, UnicodeClassData.whitespace), (.word, UnicodeClassData.word),
        (.punctuation, UnicodeClassData.punctuation), (.mark, UnicodeClassData.mark),
        (.numeric, UnicodeClassData.numeric),
    ]

    /// The classes of `scalar`; tables for planes 0 and 1, binary search beyond.
    @inline(__always)
    static func of(_ scalar: UInt32) -> UnicodeClass { UnicodeClassifier().classes(scalar) }

    /// The classes by binary search of the range tables.
    static func computed(_ value: UInt32) -> UnicodeClass {
        var classes: UnicodeClass = []
        for (cls, ranges) in tables where contains(ranges, value) { classes.insert(cls) }
        return classes
    }

    private static func contains(_ ranges: [UInt32], _ value: UInt32) -> Bool {
        // The last pair whose first element is <= value.
        var low = 0, high = ranges.count / 2
        while low < high {
            let mid = (low + high) / 2
            if ranges[2 * mid] <= value { low = mid + 1 } else { high = mid }
        }
        return low > 0 && value <= ranges[2 * (low - 1) + 1]
    }
}

/// Flag tables for the first two planes, built once on first use and never freed, so hot loops can
/// hold a plain pointer.
enum UnicodeClassTables {
    static let plane0: UnsafePointer<UInt8> = table(from: 0)
    static let plane1: UnsafePointer<UInt8> = table(from: 0x10000)

    private static func table(from base: UInt32) -> UnsafePointer<UInt8> {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        table.initialize(repeating: 0, count: 0x10000)
        for (cls, ranges) in UnicodeClass.tables {
            for pair in stride(from: 0, to: ranges.count, by: 2) {
                let first = max(ranges[pair], base), last = min(ranges[pair + 1], base + 0xFFFF)
                guard first <= last else { continue }
                for value in first...last { table[Int(value - base)] |= cls.rawValue }
            }
        }
        return UnsafePointer(table)
    }
}

/// A classifier holding the table pointers, for scanning loops.
struct UnicodeClassifier {
    let plane0 = UnicodeClassTables.plane0
    let plane1 = UnicodeClassTables.plane1

    @inline(__always)
    func classes(_ scalar: UInt32) -> UnicodeClass {
        if scalar < 0x10000 { return UnicodeClass(rawValue: plane0[Int(scalar)]) }
        if scalar < 0x20000 { return UnicodeClass(rawValue: plane1[Int(scalar &- 0x10000)]) }
        return UnicodeClass.computed(scalar)
    }
}
