import CPhantomSupport

/// CRC32C (Castagnoli), the checksum of every block and record in an image.
/// Hardware-accelerated where the CPU has the instruction.
@inline(__always)
public func crc32c(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    phantom_crc32c(seed, bytes.baseAddress, bytes.count)
}

/// CRC32C of a byte array.
public func crc32c(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { crc32c($0) }
}
