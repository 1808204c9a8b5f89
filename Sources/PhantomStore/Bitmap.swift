/// A growable bit set over device blocks, one bit a block.
struct Bitmap {
    private(set) var words: [UInt64] = []
    /// Blocks covered (bits beyond read as clear).
    private(set) var count: UInt64 = 0

    init(count: UInt64 = 0) { resize(to: count) }

    /// A bitmap of `count` blocks, all set.
    init(allSet count: UInt64) {
        resize(to: count)
        for index in 0..<words.count { words[index] = UInt64.max }
        if count % 64 != 0, !words.isEmpty { words[words.count - 1] = (1 << (count % 64)) - 1 }
    }

    /// The set bits of this bitmap that are clear in `other`, ascending.
    func setBits(notIn other: Bitmap) -> [UInt64] {
        var result: [UInt64] = []
        for index in 0..<words.count {
            var word = words[index] & ~(index < other.words.count ? other.words[index] : 0)
            while word != 0 {
                result.append(UInt64(index) * 64 + UInt64(word.trailingZeroBitCount))
                word &= word - 1
            }
        }
        return result
    }

    mutating func resize(to newCount: UInt64) {
        let wordsNeeded = Int((newCount + 63) / 64)
        if wordsNeeded > words.count { words.append(contentsOf: repeatElement(0, count: wordsNeeded - words.count)) }
        count = max(count, newCount)
    }

    @inline(__always) subscript(block: UInt64) -> Bool {
        guard block < count else { return false }
        return words[Int(block >> 6)] & (1 << (block & 63)) != 0
    }

    @inline(__always) mutating func set(_ block: UInt64) {
        words[Int(block >> 6)] |= 1 << (block & 63)
    }

    @inline(__always) mutating func clear(_ block: UInt64) {
        words[Int(block >> 6)] &= ~(1 << (block & 63))
    }

    /// The first clear bit at or after `start`, or nil if all up to `count` are set.
    func firstClear(from start: UInt64) -> UInt64? {
        var wordIndex = Int(start >> 6)
        guard start < count else { return nil }
        var word = words[wordIndex] | ((1 << (start & 63)) &- 1)
        while true {
            if word != UInt64.max {
                let block = UInt64(wordIndex) * 64 + UInt64((~word).trailingZeroBitCount)
                return block < count ? block : nil
            }
            wordIndex += 1
            if wordIndex >= words.count { return nil }
            word = words[wordIndex]
        }
    }

    /// Number of set bits.
    var population: UInt64 { words.reduce(0) { $0 + UInt64($1.nonzeroBitCount) } }

    /// Copies the bits of space-map page `page` into a 4 KiB block.
    func copyPage(_ page: UInt64, into buffer: BlockBuffer) {
        buffer.zero()
        let firstWord = Int(page) * (Layout.blockSize / 8)
        let available = min(Layout.blockSize / 8, max(0, words.count - firstWord))
        guard available > 0 else { return }
        words.withUnsafeBytes { all in
            buffer.bytes.copyMemory(from: all.baseAddress! + firstWord * 8, byteCount: available * 8)
        }
    }

    /// Loads space-map page `page` from a 4 KiB block.
    mutating func loadPage(_ page: UInt64, from buffer: BlockBuffer) {
        let firstWord = Int(page) * (Layout.blockSize / 8)
        let available = min(Layout.blockSize / 8, max(0, words.count - firstWord))
        guard available > 0 else { return }
        words.withUnsafeMutableBytes { all in
            (all.baseAddress! + firstWord * 8).copyMemory(from: buffer.bytes, byteCount: available * 8)
        }
    }

    /// Sets every bit set in `other`.
    mutating func formUnion(_ other: Bitmap) {
        resize(to: other.count)
        for index in 0..<min(words.count, other.words.count) { words[index] |= other.words[index] }
    }
}
