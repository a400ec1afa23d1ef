/// A pair of adjacent symbols as the training queue holds it: its slot in `MergeLearner`'s pair
/// tables and its count when it was queued (the count may have dropped since).
struct QueuedPair {
    var count: Int
    var slot: Int32
}

/// A binary heap of queued pairs, best first. The order lives with the caller (it compares token
/// texts), so every operation takes it as `precedes(a, b)`: a comes out before b.
struct PairQueue {
    private var storage: [QueuedPair] = []

    var isEmpty: Bool { storage.isEmpty }

    mutating func push(_ pair: QueuedPair, by precedes: (QueuedPair, QueuedPair) -> Bool) {
        storage.append(pair)
        var i = storage.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard precedes(storage[i], storage[parent]) else { break }
            storage.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop(by precedes: (QueuedPair, QueuedPair) -> Bool) -> QueuedPair? {
        guard let top = storage.first else { return nil }
        let last = storage.removeLast()
        if !storage.isEmpty {
            storage[0] = last
            var i = 0
            while true {
                let left = 2 * i + 1, right = left + 1
                var best = i
                if left < storage.count, precedes(storage[left], storage[best]) { best = left }
                if right < storage.count, precedes(storage[right], storage[best]) { best = right }
                if best == i { break }
                storage.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}
