/// What a split does with the delimiter (the pattern's matches), as tokenizers'
/// `SplitDelimiterBehavior`. For `the-final--countdown` split on "-":
/// Removed `the|final|countdown`, Isolated `the|-|final|-|-|countdown`,
/// MergedWithPrevious `the-|final-|-|countdown`, MergedWithNext `the|-final|-|-countdown`,
/// Contiguous `the|-|final|--|countdown`.
enum SplitBehavior: String {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    /// Cuts the segments (matches and gaps covering a piece) into pieces, appending the non-empty ones.
    func appendPieces(of segments: [(span: Span, isMatch: Bool)], invert: Bool, into pieces: inout [Span]) {
        let first = pieces.count
        switch self {
        case .isolated:
            for segment in segments { pieces.append(segment.span) }
        case .removed:
            for segment in segments where segment.isMatch == invert { pieces.append(segment.span) }
        case .contiguous:
            var previousMatch = false
            for segment in segments {
                let isMatch = segment.isMatch != invert
                if isMatch == previousMatch, pieces.count > first {
                    pieces[pieces.count - 1].end = segment.span.end
                } else {
                    pieces.append(segment.span)
                }
                previousMatch = isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for segment in segments {
                let isMatch = segment.isMatch != invert
                if isMatch, !previousMatch, pieces.count > first {
                    pieces[pieces.count - 1].end = segment.span.end
                } else {
                    pieces.append(segment.span)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            var reversed: [Span] = []
            for segment in segments.reversed() {
                let isMatch = segment.isMatch != invert
                if isMatch, !previousMatch, !reversed.isEmpty {
                    reversed[reversed.count - 1].start = segment.span.start
                } else {
                    reversed.append(segment.span)
                }
                previousMatch = isMatch
            }
            pieces.append(contentsOf: reversed.reversed())
        }
        // Empty matches give empty pieces; tokenizers drops them after splitting.
        var write = first
        for read in first..<pieces.count where !pieces[read].isEmpty {
            pieces[write] = pieces[read]
            write += 1
        }
        pieces.removeLast(pieces.count - write)
    }
}
