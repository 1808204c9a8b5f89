// Entropy from the host: image ids and anything else that must differ
// from one creation to the next.

/// The host's source of random bytes (the system generator: getrandom on
/// Linux, arc4random on macOS).
public enum Entropy {
    /// Fills `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var generator = SystemRandomNumberGenerator()
        var index = 0
        while index < buffer.count {
            var word = generator.next()
            let count = min(8, buffer.count - index)
            withUnsafeBytes(of: &word) { bytes in
                for offset in 0..<count { buffer[index + offset] = bytes[offset] }
            }
            index += count
        }
    }
}
