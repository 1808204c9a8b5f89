#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PhantomHost
import Testing

private let sector = FaultyBlockDevice.sectorSize

/// Every crash mode, with a few seeds for the seeded ones.
private let allCrashModes: [FaultyBlockDevice.CrashMode] = [
    .dropAll, .keepAll, .keepPrefix(0), .keepPrefix(1), .keepPrefix(2), .keepPrefix(99),
    .randomSubset(seed: 1), .randomSubset(seed: 2), .tearLast(seed: 1), .tearLast(seed: 7),
    .garble(seed: 1), .garble(seed: 3),
]

/// The bytes of sector `index` of `image`.
private func sectorBytes(_ image: [UInt8], _ index: Int) -> ArraySlice<UInt8> {
    image[index * sector ..< min((index + 1) * sector, image.count)]
}

/// A 16-sector device whose medium is all 0x11, with pending writes that
/// dirty sectors 2, 3, 4 (two overlapping writes) and 9.
private func deviceWithScatteredPendingWrites() throws -> FaultyBlockDevice {
    let device = FaultyBlockDevice(durableContents: filled(0x11, 16 * sector))
    try device.write(bytes: filled(0xA1, 1200), at: UInt64(2 * sector + 100))  // sectors 2...4
    try device.write(bytes: filled(0xC3, 100), at: UInt64(3 * sector + 50))  // inside sector 3
    try device.write(bytes: filled(0xB2, sector), at: UInt64(9 * sector))  // sector 9
    return device
}

private let scatteredDirtySectors: Set<Int> = [2, 3, 4, 9]

// MARK: Reads, writes, flush

@Test func readsReturnTheLatestWrittenDataBeforeAndAfterFlush() throws {
    let device = FaultyBlockDevice(size: 4096)
    try device.write(bytes: filled(0xAA, 100), at: 10)
    #expect(try device.readBytes(100, at: 10) == filled(0xAA, 100))
    #expect(device.pendingWriteCount == 1)
    try device.flush()
    #expect(device.pendingWriteCount == 0)
    try device.write(bytes: filled(0xBB, 50), at: 60)
    #expect(try device.readBytes(100, at: 10) == filled(0xAA, 50) + filled(0xBB, 50))
    #expect(firstDifference(device.contents, applying(filled(0xBB, 50), at: 60, to: applying(filled(0xAA, 100), at: 10, to: filled(0, 4096)))) == nil)
}

@Test func gatherWriteLandsTheBuffersBackToBack() throws {
    let device = FaultyBlockDevice(size: 1024)
    let parts: [[UInt8]] = [filled(1, 3), [], filled(2, 700), filled(3, 1)]
    let expected = parts.flatMap { $0 }
    // Keep the parts' storage alive and pinned while their pointers are used.
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: expected.count, alignment: 1)
    defer { storage.deallocate() }
    storage.copyBytes(from: expected)
    var buffers: [UnsafeRawBufferPointer] = []
    var at = 0
    for part in parts {
        buffers.append(UnsafeRawBufferPointer(rebasing: storage[at ..< at + part.count]))
        at += part.count
    }
    try device.write(buffers, at: 7)
    #expect(try device.readBytes(expected.count, at: 7) == expected)
    #expect(device.pendingWriteCount == 1)
}

@Test func durableContentsInitializerMakesEverythingDurable() throws {
    let bytes = (0 ..< 3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let device = FaultyBlockDevice(path: "disk.img", durableContents: bytes, maxSize: 8192)
    #expect(device.path == "disk.img")
    #expect(device.size == 3000)
    #expect(device.maxSize == 8192)
    #expect(firstDifference(device.contents, bytes) == nil)
    #expect(firstDifference(device.durableImage(after: .dropAll), bytes) == nil)
    #expect(device.pendingWriteCount == 0)
}

@Test func operationCountCountsWritesFlushesAndGrowsButNotReads() throws {
    let device = FaultyBlockDevice(size: 1024)
    #expect(device.operationCount == 0)
    try device.write(bytes: [1], at: 0)
    _ = try device.readBytes(10, at: 0)
    try device.flush()
    try device.grow(to: 2048)
    try device.grow(to: 100)  // a no-op, still an operation
    _ = try device.readBytes(10, at: 0)
    #expect(device.operationCount == 4)
    #expect(throws: BlockDeviceError.self) { try device.write(bytes: [1], at: 4096) }
    #expect(device.operationCount == 5, "a failed operation was still attempted")
}

// MARK: Crash modes

@Test func dropAllLosesEveryUnflushedWrite() throws {
    let device = FaultyBlockDevice(size: 4096)
    try device.write(bytes: filled(0xA1, 512), at: 0)
    try device.flush()
    try device.write(bytes: filled(0xB2, 512), at: 512)
    try device.write(bytes: filled(0xC3, 100), at: 10)
    let flushed = applying(filled(0xA1, 512), at: 0, to: filled(0, 4096))
    #expect(firstDifference(device.durableImage(after: .dropAll), flushed) == nil)
    #expect(firstDifference(device.rebooted(.dropAll).contents, flushed) == nil)
}

@Test func keepAllKeepsEveryUnflushedWrite() throws {
    let device = FaultyBlockDevice(size: 4096)
    try device.write(bytes: filled(0xA1, 512), at: 0)
    try device.flush()
    try device.write(bytes: filled(0xB2, 512), at: 512)
    try device.write(bytes: filled(0xC3, 100), at: 10)
    #expect(firstDifference(device.durableImage(after: .keepAll), device.contents) == nil)
    #expect(firstDifference(device.rebooted(.keepAll).contents, device.contents) == nil)
}

@Test(arguments: 0 ... 4)
func keepPrefixKeepsTheFirstNUnflushedWritesInIssueOrder(count: Int) throws {
    let device = FaultyBlockDevice(size: 4096)
    try device.write(bytes: filled(0x11, 4096), at: 0)
    try device.flush()
    // Overlapping writes, so that the order in which they apply matters.
    let writes: [(offset: Int, bytes: [UInt8])] = [
        (100, filled(0xA1, 1000)), (600, filled(0xB2, 1000)), (50, filled(0xC3, 600)),
    ]
    for write in writes { try device.write(bytes: write.bytes, at: UInt64(write.offset)) }
    var expected = filled(0x11, 4096)
    for write in writes.prefix(count) { expected = applying(write.bytes, at: write.offset, to: expected) }
    #expect(firstDifference(device.durableImage(after: .keepPrefix(count)), expected) == nil)
}

@Test func tearLastKeepsEarlierWritesAndASectorAlignedPrefixOfTheLastWriteOnly() throws {
    let device = FaultyBlockDevice(durableContents: filled(0x11, 16 * sector))
    try device.write(bytes: filled(0xA1, 300), at: 100)
    // The last write starts mid-sector 1 and ends in sector 5: it touches 5
    // sectors, so it can be cut at its start or at 4 sector boundaries.
    let start = 700, length = 2000
    try device.write(bytes: filled(0xB2, length), at: UInt64(start))
    let cutPoints: Set<Int> = [700, 1024, 1536, 2048, 2560]
    var cutsSeen: Set<Int> = []
    for seed in UInt64(0) ..< 200 {
        let image = device.durableImage(after: .tearLast(seed: seed))
        #expect(firstDifference(image, device.durableImage(after: .tearLast(seed: seed))) == nil, "seed \(seed) is not deterministic")
        #expect(image[100 ..< 400].allSatisfy { $0 == 0xA1 }, "an earlier write was torn")
        let kept = image[start ..< start + length].prefix { $0 == 0xB2 }.count
        #expect(image[(start + kept) ..< (start + length)].allSatisfy { $0 == 0x11 }, "the kept part is not a prefix")
        #expect(cutPoints.contains(start + kept), "cut at \(start + kept) is not a sector boundary")
        #expect(kept < length, "tearLast must not keep the whole last write")
        #expect(image[0 ..< 100] == filled(0x11, 100)[...] && image[(start + length)...].allSatisfy { $0 == 0x11 })
        cutsSeen.insert(start + kept)
    }
    #expect(cutsSeen == cutPoints, "every cut point should occur over 200 seeds")
}

@Test func tearLastWithNothingPendingOrAnEmptyLastWriteKeepsTheRest() throws {
    let device = FaultyBlockDevice(durableContents: filled(0x11, 2048))
    #expect(firstDifference(device.durableImage(after: .tearLast(seed: 5)), filled(0x11, 2048)) == nil)
    try device.write(bytes: filled(0xA1, 700), at: 0)
    try device.write(bytes: [], at: 100)
    #expect(firstDifference(device.durableImage(after: .tearLast(seed: 5)), device.contents) == nil)
}

@Test func randomSubsetIsDeterministicPerSeedAndKeepsOrLosesWholeDirtySectorsOnly() throws {
    let device = try deviceWithScatteredPendingWrites()
    let durable = device.durableImage(after: .dropAll)
    let latest = device.contents
    var images: Set<[UInt8]> = []
    var keptSeen: Set<Int> = [], lostSeen: Set<Int> = []
    for seed in UInt64(0) ..< 64 {
        let image = device.durableImage(after: .randomSubset(seed: seed))
        #expect(firstDifference(image, device.durableImage(after: .randomSubset(seed: seed))) == nil, "seed \(seed) is not deterministic")
        images.insert(image)
        for index in 0 ..< 16 {
            let bytes = sectorBytes(image, index)
            if !scatteredDirtySectors.contains(index) {
                #expect(firstDifference(bytes, sectorBytes(durable, index)) == nil, "clean sector \(index) changed (seed \(seed))")
            } else if bytes == sectorBytes(latest, index) {
                keptSeen.insert(index)
            } else {
                #expect(firstDifference(bytes, sectorBytes(durable, index)) == nil, "sector \(index) is neither kept nor lost (seed \(seed))")
                lostSeen.insert(index)
            }
        }
    }
    #expect(keptSeen == scatteredDirtySectors)
    #expect(lostSeen == scatteredDirtySectors)
    #expect(images.count > 8, "different seeds should give different outcomes")
}

@Test func garbleIsDeterministicPerSeedAndTouchesOnlyDirtySectors() throws {
    let device = try deviceWithScatteredPendingWrites()
    let durable = device.durableImage(after: .dropAll)
    let latest = device.contents
    var kept = 0, lost = 0, garbled = 0
    for seed in UInt64(0) ..< 64 {
        let image = device.durableImage(after: .garble(seed: seed))
        #expect(firstDifference(image, device.durableImage(after: .garble(seed: seed))) == nil, "seed \(seed) is not deterministic")
        for index in 0 ..< 16 {
            let bytes = sectorBytes(image, index)
            if !scatteredDirtySectors.contains(index) {
                #expect(firstDifference(bytes, sectorBytes(durable, index)) == nil, "clean sector \(index) changed (seed \(seed))")
            } else if bytes == sectorBytes(latest, index) {
                kept += 1
            } else if bytes == sectorBytes(durable, index) {
                lost += 1
            } else {
                garbled += 1
            }
        }
    }
    #expect(kept > 0 && lost > 0 && garbled > 0, "kept \(kept), lost \(lost), garbled \(garbled)")
}

@Test(arguments: allCrashModes)
func flushedDataSurvivesEveryCrashMode(mode: FaultyBlockDevice.CrashMode) throws {
    let device = FaultyBlockDevice(size: UInt64(8 * sector))
    let flushed = (0 ..< 4 * sector).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
    try device.write(bytes: flushed, at: 0)
    try device.flush()
    // Pending writes only in sectors 4..<8, so that none may replace flushed data.
    try device.write(bytes: filled(0xB2, 700), at: UInt64(4 * sector + 3))
    try device.write(bytes: filled(0xC3, 2 * sector), at: UInt64(6 * sector))
    let image = device.durableImage(after: mode)
    #expect(image.count == 8 * sector)
    #expect(firstDifference(Array(image[0 ..< 4 * sector]), flushed) == nil)
}

@Test(arguments: allCrashModes)
func everyCrashModeWithNothingPendingGivesTheDurableImage(mode: FaultyBlockDevice.CrashMode) throws {
    let device = FaultyBlockDevice(size: 4096)
    try device.write(bytes: filled(0xA1, 1000), at: 77)
    try device.flush()
    #expect(firstDifference(device.durableImage(after: mode), device.contents) == nil)
}

@Test func durableImageAndRebootedDoNotChangeTheDevice() throws {
    let device = try deviceWithScatteredPendingWrites()
    let before = device.contents
    let count = device.operationCount
    for mode in allCrashModes {
        _ = device.durableImage(after: mode)
        _ = device.rebooted(mode)
    }
    #expect(firstDifference(device.contents, before) == nil)
    #expect(device.pendingWriteCount == 3)
    #expect(device.operationCount == count)
    #expect(firstDifference(device.durableImage(after: .dropAll), filled(0x11, 16 * sector)) == nil)
}

@Test func rebootedDeviceIsHealthyFullyDurableAndHasFreshCounters() throws {
    let device = FaultyBlockDevice(path: "image", size: 4096, maxSize: 8192)
    try device.write(bytes: filled(0xA1, 512), at: 0)
    device.failOperation(5, with: .io)
    device.failAllWrites = .noSpace
    device.crashNow()
    let rebooted = device.rebooted(.keepAll)
    #expect(rebooted.path == "image")
    #expect(rebooted.size == 4096)
    #expect(rebooted.maxSize == 8192)
    #expect(rebooted.isCrashed == false)
    #expect(rebooted.operationCount == 0)
    #expect(rebooted.pendingWriteCount == 0)
    #expect(rebooted.crashAtOperation == nil)
    #expect(rebooted.failAllWrites == nil)
    #expect(firstDifference(rebooted.contents, device.contents) == nil)
    #expect(firstDifference(rebooted.durableImage(after: .dropAll), device.contents) == nil, "all of a rebooted device is durable")
    // Works normally, including operation 5 (the one-shot failure was not carried over).
    for index in 0 ..< 8 { try rebooted.write(bytes: [UInt8(index)], at: UInt64(index)) }
}

@Test func growIsDurableAtOnceAndZeroFillsButDataWrittenThereIsPending() throws {
    let device = FaultyBlockDevice(durableContents: filled(0x11, 1000))
    try device.grow(to: 3000)
    #expect(device.size == 3000)
    #expect(try device.readBytes(2000, at: 1000) == filled(0, 2000))
    try device.write(bytes: filled(0xA1, 500), at: 2000)
    let image = device.durableImage(after: .dropAll)
    #expect(firstDifference(image, filled(0x11, 1000) + filled(0, 2000)) == nil)
    let rebooted = device.rebooted(.dropAll)
    #expect(rebooted.size == 3000)
}

@Test func growBeyondMaxSizeThrowsNoSpaceAndLeavesTheSize() throws {
    let device = FaultyBlockDevice(path: "small", size: 1024, maxSize: 4096)
    try device.grow(to: 4096)
    #expect(device.size == 4096)
    #expect(throws: BlockDeviceError.noSpace(path: "small", requestedBytes: 1)) { try device.grow(to: 4097) }
    #expect(device.size == 4096)
    device.maxSize = nil
    try device.grow(to: 8192)
    #expect(device.size == 8192)
}

@Test func readsAndWritesPastTheEndThrowOutOfRange() throws {
    let device = FaultyBlockDevice(path: "d", size: 1024)
    #expect(throws: BlockDeviceError.outOfRange(path: "d", offset: 1000, length: 25, size: 1024)) {
        try device.readBytes(25, at: 1000)
    }
    #expect(throws: BlockDeviceError.outOfRange(path: "d", offset: 1020, length: 5, size: 1024)) {
        try device.write(bytes: filled(1, 5), at: 1020)
    }
    #expect(throws: BlockDeviceError.outOfRange(path: "d", offset: UInt64.max, length: 2, size: 1024)) {
        try device.readBytes(2, at: UInt64.max)
    }
    #expect(throws: BlockDeviceError.outOfRange(path: "d", offset: UInt64.max - 1, length: 4, size: 1024)) {
        try device.write(bytes: filled(1, 4), at: UInt64.max - 1)
    }
    // The edges themselves are fine.
    try device.write(bytes: filled(1, 4), at: 1020)
    #expect(try device.readBytes(0, at: 1024) == [])
    #expect(device.pendingWriteCount == 1, "a rejected write must not become pending")
    #expect(firstDifference(device.contents, filled(0, 1020) + filled(1, 4)) == nil)
}

// MARK: Power cuts and injected failures

/// The operations of `crashAtOperationStopsThatOperationAndEveryLaterCallThrowsCrashed`.
private let scriptedOperations: [@Sendable (FaultyBlockDevice) throws -> Void] = [
    { try $0.grow(to: 2048) },
    { try $0.write(bytes: filled(0xA1, 600), at: 0) },
    { try $0.flush() },
    { try $0.write(bytes: filled(0xB2, 600), at: 1000) },
    { try $0.flush() },
]

@Test(arguments: 0 ..< 5)
func crashAtOperationStopsThatOperationAndEveryLaterCallThrowsCrashed(crashIndex: Int) throws {
    // What the device holds after the first `crashIndex` operations, from a twin without faults.
    let twin = FaultyBlockDevice(size: 1024)
    for operation in scriptedOperations.prefix(crashIndex) { try operation(twin) }

    let device = FaultyBlockDevice(size: 1024)
    device.crashAtOperation = crashIndex
    for (index, operation) in scriptedOperations.enumerated() {
        if index < crashIndex {
            try operation(device)
        } else {
            #expect(throws: BlockDeviceError.crashed) { try operation(device) }
        }
    }
    #expect(device.isCrashed)
    #expect(device.operationCount == crashIndex + 1, "calls after the crash are not counted")
    #expect(device.size == twin.size)
    #expect(firstDifference(device.durableImage(after: .keepAll), twin.contents) == nil, "the crashing operation must not happen")
    #expect(firstDifference(device.durableImage(after: .dropAll), twin.durableImage(after: .dropAll)) == nil)
    #expect(throws: BlockDeviceError.crashed) { try device.readBytes(1, at: 0) }
    #expect(throws: BlockDeviceError.crashed) { try device.write(bytes: [1], at: 0) }
    #expect(throws: BlockDeviceError.crashed) { try device.flush() }
    #expect(throws: BlockDeviceError.crashed) { try device.grow(to: 4096) }
}

@Test func crashNowMakesEveryCallThrowCrashedAndKeepsPendingWritesForReboot() throws {
    let device = FaultyBlockDevice(size: 1024)
    try device.write(bytes: filled(0xA1, 10), at: 0)
    device.crashNow()
    #expect(device.isCrashed)
    #expect(throws: BlockDeviceError.crashed) { try device.readBytes(1, at: 0) }
    #expect(throws: BlockDeviceError.crashed) { try device.write(bytes: [1], at: 0) }
    #expect(throws: BlockDeviceError.crashed) { try device.flush() }
    #expect(throws: BlockDeviceError.crashed) { try device.grow(to: 4096) }
    #expect(device.pendingWriteCount == 1)
    #expect(try device.rebooted(.keepAll).readBytes(10, at: 0) == filled(0xA1, 10))
    #expect(try device.rebooted(.dropAll).readBytes(10, at: 0) == filled(0, 10))
}

@Test func failOperationFailsThatOperationOnceAndTheDeviceKeepsWorking() throws {
    let device = FaultyBlockDevice(path: "d", size: 1024)
    device.failOperation(1, with: .io)
    device.failOperation(2, with: .noSpace)
    device.failOperation(4, with: .io)
    try device.write(bytes: filled(0xA1, 10), at: 0)  // 0
    #expect(throws: BlockDeviceError.io(path: "d", operation: "write", errno: EIO)) {  // 1
        try device.write(bytes: filled(0xB2, 10), at: 0)
    }
    #expect(throws: BlockDeviceError.noSpace(path: "d", requestedBytes: 1024)) { try device.grow(to: 2048) }  // 2
    #expect(device.size == 1024, "the failed grow must not happen")
    #expect(firstDifference(device.contents.prefix(10), filled(0xA1, 10)) == nil, "the failed write must not happen")
    #expect(device.pendingWriteCount == 1)
    try device.write(bytes: filled(0xC3, 10), at: 20)  // 3
    #expect(throws: BlockDeviceError.io(path: "d", operation: "flush", errno: EIO)) { try device.flush() }  // 4
    #expect(device.pendingWriteCount == 2, "a failed flush leaves the writes pending")
    #expect(firstDifference(device.durableImage(after: .dropAll), filled(0, 1024)) == nil)
    try device.flush()  // 5
    try device.grow(to: 2048)  // 6
    #expect(device.pendingWriteCount == 0)
    #expect(firstDifference(device.durableImage(after: .dropAll), device.contents) == nil)
    #expect(device.isCrashed == false)
}

@Test func failAllWritesWithNoSpaceFailsWritesAndGrowsUntilCleared() throws {
    let device = FaultyBlockDevice(path: "d", size: 1024)
    try device.write(bytes: filled(0xA1, 10), at: 0)
    device.failAllWrites = .noSpace
    for _ in 0 ..< 3 {
        #expect(throws: BlockDeviceError.noSpace(path: "d", requestedBytes: 5)) { try device.write(bytes: filled(1, 5), at: 0) }
        #expect(throws: BlockDeviceError.noSpace(path: "d", requestedBytes: 1024)) { try device.grow(to: 2048) }
    }
    try device.flush()  // a full disk can still flush what it holds
    #expect(try device.readBytes(10, at: 0) == filled(0xA1, 10))
    #expect(device.size == 1024)
    device.failAllWrites = nil
    try device.write(bytes: filled(0xB2, 5), at: 0)
    try device.grow(to: 2048)
    #expect(try device.readBytes(10, at: 0) == filled(0xB2, 5) + filled(0xA1, 5))
}

@Test func failAllWritesWithIOFailsFlushesToo() throws {
    let device = FaultyBlockDevice(path: "d", size: 1024)
    try device.write(bytes: filled(0xA1, 10), at: 0)
    device.failAllWrites = .io
    #expect(throws: BlockDeviceError.io(path: "d", operation: "write", errno: EIO)) { try device.write(bytes: [1], at: 0) }
    #expect(throws: BlockDeviceError.io(path: "d", operation: "grow", errno: EIO)) { try device.grow(to: 2048) }
    #expect(throws: BlockDeviceError.io(path: "d", operation: "flush", errno: EIO)) { try device.flush() }
    #expect(device.pendingWriteCount == 1)
    device.failAllWrites = nil
    try device.flush()
    #expect(device.pendingWriteCount == 0)
}

// MARK: Media corruption

/// The number of bits in which `a` and `b` differ.
private func differingBits(_ a: [UInt8], _ b: [UInt8]) -> Int {
    zip(a, b).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
}

@Test(arguments: 0 ..< 8)
func flipBitChangesExactlyOneBit(bit: Int) throws {
    let device = FaultyBlockDevice(size: 4096)
    try device.write(bytes: (0 ..< 4096).map { UInt8(truncatingIfNeeded: $0) }, at: 0)
    try device.flush()
    let before = device.contents
    device.flipBit(atByte: 1234, bit: bit)
    #expect(differingBits(before, device.contents) == 1)
    #expect(device.contents[1234] == before[1234] ^ (1 << bit))
    #expect(try device.readBytes(1, at: 1234) == [before[1234] ^ (1 << bit)])
    #expect(differingBits(before, device.durableImage(after: .dropAll)) == 1, "the medium holds the flip")
    #expect(differingBits(before, device.rebooted(.dropAll).contents) == 1)
}

@Test func flipBitUnderAPendingWriteShowsInReadsAndEveryCrashMode() throws {
    let device = FaultyBlockDevice(durableContents: filled(0x11, 2048))
    try device.write(bytes: filled(0xA1, 100), at: 50)
    try device.write(bytes: filled(0xB2, 100), at: 100)
    device.flipBit(atByte: 120, bit: 3)
    #expect(try device.readBytes(1, at: 120) == [0xB2 ^ 0x08])
    #expect(device.durableImage(after: .dropAll)[120] == 0x11 ^ 0x08)
    #expect(device.durableImage(after: .keepPrefix(1))[120] == 0xA1 ^ 0x08)
    #expect(device.durableImage(after: .keepAll)[120] == 0xB2 ^ 0x08)
    try device.flush()
    #expect(try device.readBytes(1, at: 120) == [0xB2 ^ 0x08], "flushing must not undo the flip")
    #expect(firstDifference(device.durableImage(after: .dropAll), device.contents) == nil)
}

// MARK: Cost

@Test func rebootingAFewMiBDeviceHundredsOfTimesIsCheap() throws {
    let size = 4 << 20
    var device = FaultyBlockDevice(size: UInt64(size))
    for round in 0 ..< 300 {
        let offset = UInt64((round &* 7919 &* Int(sector)) % (size - 64 * sector))
        try device.write(bytes: filled(UInt8(truncatingIfNeeded: round), 64 * sector), at: offset)
        try device.write(bytes: filled(0xEE, 3 * sector + 17), at: offset / 2)
        let mode: FaultyBlockDevice.CrashMode = switch round % 3 {
        case 0: .randomSubset(seed: UInt64(round))
        case 1: .tearLast(seed: UInt64(round))
        default: .garble(seed: UInt64(round))
        }
        device = device.rebooted(mode)
        #expect(device.size == UInt64(size))
    }
}
