#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One block (4 KiB) of memory owned by the store: a tree node, a bitmap
/// page, a superblock or a freed-list block. Page-aligned so that it can be
/// handed to the device as is. Integers inside are little-endian.
final class BlockBuffer {
    /// The block's bytes; `Layout.blockSize` long, page-aligned.
    let bytes: UnsafeMutableRawPointer

    /// A zero-filled block.
    init() {
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, Layout.blockSize, Layout.blockSize) == 0, let memory else {
            fatalError("out of memory allocating a 4 KiB block buffer")
        }
        memset(memory, 0, Layout.blockSize)
        bytes = memory
    }

    /// A copy of another block.
    convenience init(copying other: BlockBuffer) {
        self.init()
        bytes.copyMemory(from: other.bytes, byteCount: Layout.blockSize)
    }

    deinit { free(bytes) }

    /// The whole block as a read-only buffer.
    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: Layout.blockSize) }
    /// The whole block as a writable buffer.
    var mutableRaw: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: bytes, count: Layout.blockSize) }

    /// CRC32C of the whole block.
    var checksum: UInt32 { crc32c(raw) }

    func zero() { memset(bytes, 0, Layout.blockSize) }

    @inline(__always) func u64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inline(__always) func u32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) func setU64(_ offset: Int, _ value: UInt64) {
        bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }
    @inline(__always) func setU32(_ offset: Int, _ value: UInt32) {
        bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
}
