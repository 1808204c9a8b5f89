#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PhantomHost
import Testing

@Test func createGrowWriteFlushAndReadRoundTrip() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        let device = try FileBlockDevice(path: path, mode: .create)
        #expect(device.path == path)
        #expect(device.size == 0)
        #expect(device.isRawDevice == false)
        try device.grow(to: 8192)
        #expect(device.size == 8192)
        #expect(try device.readBytes(8192, at: 0) == filled(0, 8192))
        let data = (0 ..< 3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try device.write(bytes: data, at: 1000)
        try device.flush()
        #expect(try device.readBytes(3000, at: 1000) == data)
        #expect(try device.readBytes(1000, at: 0) == filled(0, 1000))
        try device.grow(to: 4096)  // smaller: a no-op
        #expect(device.size == 8192)
    }
}

@Test func reopeningSeesTheWrittenDataAndSize() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        let data = (0 ..< 5000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        do {
            let device = try FileBlockDevice(path: path, mode: .create)
            try device.grow(to: 6000)
            try device.write(bytes: data, at: 500)
            try device.flush()
            device.close()
        }
        let reopened = try FileBlockDevice(path: path, mode: .readWrite)
        #expect(reopened.size == 6000)
        #expect(try reopened.readBytes(5000, at: 500) == data)
        reopened.close()
        let reader = try FileBlockDevice(path: path, mode: .readOnly)
        #expect(try reader.readBytes(5000, at: 500) == data)
    }
}

@Test func gatherWriteOfMoreThan1024BuffersLandsThemBackToBack() throws {
    try withTemporaryDirectory { directory in
        let device = try FileBlockDevice(path: directory + "/image", mode: .create)
        // 3000 buffers (IOV_MAX is 1024 on Linux) of 0 to 6 bytes, some empty.
        let sizes = (0 ..< 3000).map { $0 % 7 }
        let total = sizes.reduce(0, +)
        let expected = (0 ..< total).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 1)
        defer { storage.deallocate() }
        storage.copyBytes(from: expected)
        var buffers: [UnsafeRawBufferPointer] = []
        var at = 0
        for size in sizes {
            buffers.append(UnsafeRawBufferPointer(rebasing: storage[at ..< at + size]))
            at += size
        }
        try device.grow(to: UInt64(total + 100))
        try device.write(buffers, at: 50)
        try device.flush()
        #expect(try device.readBytes(total, at: 50) == expected)
        #expect(try device.readBytes(50, at: 0) == filled(0, 50))
        #expect(try device.readBytes(50, at: UInt64(total + 50)) == filled(0, 50))
    }
}

@Test func writePastTheEndOfARegularFileExtendsIt() throws {
    try withTemporaryDirectory { directory in
        let device = try FileBlockDevice(path: directory + "/image", mode: .create)
        try device.write(bytes: filled(0xA1, 10), at: 100)
        #expect(device.size == 110)
        #expect(try device.readBytes(110, at: 0) == filled(0, 100) + filled(0xA1, 10))
    }
}

@Test func createOnAnExistingPathFailsWithCannotOpen() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        _ = try FileBlockDevice(path: path, mode: .create)
        #expect(throws: BlockDeviceError.cannotOpen(path: path, errno: EEXIST)) {
            try FileBlockDevice(path: path, mode: .create)
        }
    }
}

@Test func openingAMissingFileFailsWithCannotOpen() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/missing"
        #expect(throws: BlockDeviceError.cannotOpen(path: path, errno: ENOENT)) {
            try FileBlockDevice(path: path, mode: .readWrite)
        }
        #expect(throws: BlockDeviceError.cannotOpen(path: path, errno: ENOENT)) {
            try FileBlockDevice(path: path, mode: .readOnly)
        }
    }
}

@Test func secondWritableOpenOfTheSameFileIsLocked() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        let writer = try FileBlockDevice(path: path, mode: .create)
        // flock locks belong to the open file description, so a second open
        // in the same process conflicts just as another process would.
        #expect(throws: BlockDeviceError.locked(path: path)) { try FileBlockDevice(path: path, mode: .readWrite) }
        #expect(throws: BlockDeviceError.locked(path: path)) { try FileBlockDevice(path: path, mode: .readOnly) }
        writer.close()
        let reader = try FileBlockDevice(path: path, mode: .readOnly)
        #expect(throws: BlockDeviceError.locked(path: path)) { try FileBlockDevice(path: path, mode: .readWrite) }
        reader.close()
    }
}

@Test func readOnlyOpensShareTheFile() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        try FileBlockDevice(path: path, mode: .create).close()
        let first = try FileBlockDevice(path: path, mode: .readOnly)
        let second = try FileBlockDevice(path: path, mode: .readOnly)
        #expect(first.size == 0 && second.size == 0)
    }
}

@Test func closingReleasesTheLock() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        let first = try FileBlockDevice(path: path, mode: .create)
        first.close()
        let second = try FileBlockDevice(path: path, mode: .readWrite)
        second.close()
    }
}

@Test func readPastTheEndThrowsOutOfRange() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        let device = try FileBlockDevice(path: path, mode: .create)
        try device.grow(to: 1024)
        #expect(throws: BlockDeviceError.outOfRange(path: path, offset: 1000, length: 25, size: 1024)) {
            try device.readBytes(25, at: 1000)
        }
        #expect(throws: BlockDeviceError.outOfRange(path: path, offset: 2048, length: 1, size: 1024)) {
            try device.readBytes(1, at: 2048)
        }
        #expect(try device.readBytes(24, at: 1000) == filled(0, 24))
    }
}

@Test func writingThroughAReadOnlyDeviceFailsWithIO() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        let creator = try FileBlockDevice(path: path, mode: .create)
        try creator.grow(to: 100)
        creator.close()
        let reader = try FileBlockDevice(path: path, mode: .readOnly)
        #expect(throws: BlockDeviceError.io(path: path, operation: "write", errno: EBADF)) {
            try reader.write(bytes: [1], at: 0)
        }
    }
}

/// F11: creating an image is atomic: a failing initialization (a full
/// disk, say) leaves nothing at the path or beside it; a good one leaves
/// the whole file under its name, and an existing file is never replaced.
@Test func atomicCreationLeavesNothingHalfMade() throws {
    struct DiskFull: Error {}
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        #expect(throws: DiskFull.self) {
            _ = try FileBlockDevice.createAtomically(path: path) { device in
                try device.grow(to: 8192)
                throw DiskFull()
            }
        }
        #expect(access(path, F_OK) != 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)

        let device = try FileBlockDevice.createAtomically(path: path) { device in
            try device.grow(to: 8192)
            try device.write(bytes: filled(7, 4096), at: 4096)
        }.device
        #expect(device.path == path)
        #expect(try device.readBytes(4096, at: 4096) == filled(7, 4096))
        device.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["image"])
        #expect(throws: (any Error).self) {
            _ = try FileBlockDevice.createAtomically(path: path) { _ in }
        }
        #expect(try FileBlockDevice(path: path, mode: .readOnly).readBytes(4096, at: 4096) == filled(7, 4096))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["image"])
    }
}

/// F15: a lock released a moment later (a killed writer's) is waited for;
/// one held on is reported as `.locked` after the patience runs out.
@Test func openingWaitsBrieflyForALockThatIsReleased() throws {
    try withTemporaryDirectory { directory in
        let path = directory + "/image"
        nonisolated(unsafe) let holder = try FileBlockDevice(path: path, mode: .create)
        let released = Thread { usleep(150_000); holder.close() }
        released.start()
        let started = Date()
        let second = try FileBlockDevice(path: path, mode: .readWrite)
        #expect(Date().timeIntervalSince(started) >= 0.1)
        second.close()

        let keeper = try FileBlockDevice(path: path, mode: .readWrite)
        defer { keeper.close() }
        let tried = Date()
        #expect(throws: BlockDeviceError.self) { _ = try FileBlockDevice(path: path, mode: .readWrite) }
        let waited = Date().timeIntervalSince(tried)
        #expect(waited >= 0.4 && waited < 5, "gave up after \(waited) s")
    }
}
