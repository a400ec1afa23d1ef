/// The BPE merge loop: repeatedly merge the adjacent pair with the lowest rank, the leftmost one on
/// ties, until no adjacent pair has a merge. tokenizers runs this with a priority queue keyed by
/// (rank, position) and skips stale entries; that order is exactly "lowest rank, then leftmost", so
/// short words use a direct scan and long ones the queue. `naiveMerged` is the slow reference the
/// tests hold both against.
struct BPEMerger {
    let merges: MergeTable

    /// Above this many symbols the queue wins over rescanning.
    static let scanLimit = 48

    func merge(_ symbols: inout [Int32], scratch: inout BPEScratch) {
        if symbols.count < 2 { return }
        if symbols.count <= BPEMerger.scanLimit {
            mergeByScanning(&symbols, scratch: &scratch)
        } else {
            mergeWithQueue(&symbols, scratch: &scratch)
        }
    }

    /// Keeps the rank of every adjacent pair in an array; each step finds the minimum and updates the
    /// two pairs the merge touched.
    func mergeByScanning(_ symbols: inout [Int32], scratch: inout BPEScratch) {
        let none = Int32.max
        var n = symbols.count
        scratch.ranks.removeAll(keepingCapacity: true)
        scratch.merged.removeAll(keepingCapacity: true)
        for i in 0..<(n - 1) {
            if let m = merges.lookup(symbols[i], symbols[i + 1]) {
                scratch.ranks.append(m.rank)
                scratch.merged.append(m.merged)
            } else {
                scratch.ranks.append(none)
                scratch.merged.append(-1)
            }
        }
        symbols.withUnsafeMutableBufferPointer { s in
            scratch.ranks.withUnsafeMutableBufferPointer { ranks in
                scratch.merged.withUnsafeMutableBufferPointer { merged in
                    while n > 1 {
                        var best = 0
                        var bestRank = ranks[0]
                        for i in 1..<(n - 1) where ranks[i] < bestRank {
                            best = i
                            bestRank = ranks[i]
                        }
                        if bestRank == none { break }
                        s[best] = merged[best]
                        // Drop symbol best+1 and pair best (now recomputed) / best+1 shifts down.
                        for i in (best + 1)..<(n - 1) { s[i] = s[i + 1] }
                        for i in best..<(n - 2) {
                            ranks[i] = ranks[i + 1]
                            merged[i] = merged[i + 1]
                        }
                        n -= 1
                        if best > 0 {
                            let m = merges.lookup(s[best - 1], s[best])
                            ranks[best - 1] = m?.rank ?? none
                            merged[best - 1] = m?.merged ?? -1
                        }
                        if best < n - 1 {
                            let m = merges.lookup(s[best], s[best + 1])
                            ranks[best] = m?.rank ?? none
                            merged[best] = m?.merged ?? -1
                        }
                    }
                }
            }
        }
        symbols.removeLast(symbols.count - n)
    }

    /// A doubly linked list of symbols and a binary min-heap of (rank, position) candidates; a popped
    /// candidate is used only if its pair still exists and still merges to the same token.
    func mergeWithQueue(_ symbols: inout [Int32], scratch: inout BPEScratch) {
        let n = symbols.count
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.alive.removeAll(keepingCapacity: true)
        for i in 0..<n {
            scratch.previous.append(Int32(i - 1))
            scratch.next.append(i + 1 < n ? Int32(i + 1) : -1)
            scratch.alive.append(true)
        }
        var heap = MergeHeap(storage: scratch.heap)
        for i in 0..<(n - 1) {
            if let m = merges.lookup(symbols[i], symbols[i + 1]) {
                heap.push(MergeCandidate(rank: m.rank, position: Int32(i), merged: m.merged))
            }
        }
        while let top = heap.pop() {
            let position = Int(top.position)
            guard scratch.alive[position] else { continue }
            let right = Int(scratch.next[position])
            guard right >= 0, let m = merges.lookup(symbols[position], symbols[right]), m.merged == top.merged
            else { continue }
            symbols[position] = top.merged
            scratch.alive[right] = false
            let after = scratch.next[right]
            scratch.next[position] = after
            if after >= 0 { scratch.previous[Int(after)] = Int32(position) }
            let before = scratch.previous[position]
            if before >= 0, let m = merges.lookup(symbols[Int(before)], symbols[position]) {
                heap.push(MergeCandidate(rank: m.rank, position: before, merged: m.merged))
            }
            if after >= 0, let m = merges.lookup(symbols[position], symbols[Int(after)]) {
                heap.push(MergeCandidate(rank: m.rank, position: Int32(position), merged: m.merged))
            }
        }
        scratch.heap = heap.storage
        var write = 0
        for read in 0..<n where scratch.alive[read] {
            symbols[write] = symbols[read]
            write += 1
        }
        symbols.removeLast(n - write)
    }

    /// The textbook loop: find the lowest-rank pair (leftmost on ties), merge it, repeat.
    func naiveMerged(_ symbols: [Int32]) -> [Int32] {
        var s = symbols
        while s.count > 1 {
            var best = -1
            var bestRank = Int32.max
            var bestMerged: Int32 = -1
            for i in 0..<(s.count - 1) {
                if let m = merges.lookup(s[i], s[i + 1]), m.rank < bestRank {
                    best = i
                    bestRank = m.rank
                    bestMerged = m.merged
                }
            }
            if best < 0 { break }
            s[best] = bestMerged
            s.remove(at: best + 1)
        }
        return s
    }
}

/// Reusable buffers of the merge loop.
struct BPEScratch {
    var ranks: [Int32] = []
    var merged: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    var alive: [Bool] = []
    var heap: [MergeCandidate] = []
}

struct MergeCandidate {
    var rank: Int32
    var position: Int32
    var merged: Int32

    @inline(__always)
    func precedes(_ other: MergeCandidate) -> Bool {
        rank != other.rank ? rank < other.rank : position < other.position
    }
}

/// A binary min-heap on (rank, position).
struct MergeHeap {
    var storage: [MergeCandidate]

    init(storage: [MergeCandidate]) {
        self.storage = storage
        self.storage.removeAll(keepingCapacity: true)
    }

    mutating func push(_ candidate: MergeCandidate) {
        storage.append(candidate)
        var i = storage.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard storage[i].precedes(storage[parent]) else { break }
            storage.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> MergeCandidate? {
        guard let top = storage.first else { return nil }
        let last = storage.removeLast()
        if !storage.isEmpty {
            storage[0] = last
            var i = 0
            while true {
                let left = 2 * i + 1, right = left + 1
                var smallest = i
                if left < storage.count, storage[left].precedes(storage[smallest]) { smallest = left }
                if right < storage.count, storage[right].precedes(storage[smallest]) { smallest = right }
                if smallest == i { break }
                storage.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
