import PhantomStore

/// The synthetic pages `phantom image write-test` writes, and their check.
///
/// ```
///  0  8  magic "PHWTEST1"
///  8  8  snapshot id that wrote the page
/// 16  8  page number
/// 24 ..  SplitMix64 stream seeded by (snapshot id, page number)
/// ```
/// `verify` recognises such pages by their magic and checks all three.
enum WriteTestPattern {
    static let magic: UInt64 = 0x3154_5345_5457_4850  // "PHWTEST1"

    /// Fills a page for (snapshot, page).
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, snapshot: UInt64, page: UInt64) {
        let words = buffer.bindMemory(to: UInt64.self)
        words[0] = magic.littleEndian
        words[1] = snapshot.littleEndian
        words[2] = page.littleEndian
        var state = seed(snapshot: snapshot, page: page)
        for index in 3..<words.count { words[index] = next(&state).littleEndian }
    }

    /// Checks a page read from a snapshot; nil if fine or not a test page.
    static func check(_ bytes: UnsafeRawBufferPointer, page: UInt64, snapshot: UInt64) -> String? {
        let word = { (index: Int) in UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) }
        guard word(0) == magic else { return nil }
        let writer = word(1)
        guard word(2) == page else { return "holds the contents of page \(word(2))" }
        guard writer <= snapshot else { return "written by snapshot \(writer), newer than the snapshot itself" }
        var state = seed(snapshot: writer, page: page)
        for index in 3..<(Layout.blockSize / 8) where word(index) != next(&state) {
            return "content differs from what snapshot \(writer) wrote at byte \(index * 8)"
        }
        return nil
    }

    /// The pages snapshot `snapshot` of a write test changes: `count`
    /// distinct pages out of the first `4 * count` (so snapshots overlap).
    static func pages(snapshot: UInt64, count: Int, pageCount: UInt64) -> [UInt64] {
        let span = min(pageCount, UInt64(count) * 4)
        if UInt64(count) >= span { return Array(0..<span) }
        var state = seed(snapshot: snapshot, page: UInt64.max)
        var chosen = Set<UInt64>()
        while chosen.count < count { chosen.insert(next(&state) % span) }
        return chosen.sorted()
    }

    private static func seed(snapshot: UInt64, page: UInt64) -> UInt64 {
        snapshot &* 0x9E37_79B9_7F4A_7C15 ^ page &* 0xD1B5_4A32_D192_ED03 ^ 0x5851_F42D_4C95_7F2D
    }

    @inline(__always) private static func next(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
