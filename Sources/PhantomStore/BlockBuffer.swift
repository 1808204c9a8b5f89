/// One block (4 KiB) of memory owned by the store: a tree node, a bitmap
/// page, a superblock or a freed-list block. Page-aligned so that it can be
/// handed to the device as is. Integers inside are little-endian.
final class BlockBuffer {
    /// The block's bytes; `Layout.blockSize` long, page-aligned.
    let bytes: UnsafeMutableRawPointer

    /// A zero-filled block.
    init() {
        bytes = UnsafeMutableRawPointer.allocate(byteCount: Layout.blockSize, alignment: Layout.blockSize)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: Layout.blockSize)
    }

    /// A copy of another block.
    convenience init(copying other: BlockBuffer) {
        self.init()
        bytes.copyMemory(from: other.bytes, byteCount: Layout.blockSize)
    }

    deinit { bytes.deallocate() }

    /// The whole block as a read-only buffer.
    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: Layout.blockSize) }
    /// The whole block as a writable buffer.
    var mutableRaw: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: bytes, count: Layout.blockSize) }

    /// CRC32C of the whole block.
    var checksum: UInt32 { crc32c(raw) }

    func zero() { bytes.initializeMemory(as: UInt8.self, repeating: 0, count: Layout.blockSize) }

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
