import Foundation

/// Parses sizes such as `4096`, `64M`, `64MiB`, `1G`, `1T` (binary units).
func parseSize(_ text: String) -> UInt64? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let digits = trimmed.prefix { $0.isNumber }
    guard let number = UInt64(digits), !digits.isEmpty else { return nil }
    var unit = trimmed.dropFirst(digits.count).uppercased()
    if unit.hasSuffix("IB") { unit.removeLast(2) } else if unit.hasSuffix("B") { unit.removeLast() }
    let shift: UInt64
    switch unit {
    case "": shift = 0
    case "K": shift = 10
    case "M": shift = 20
    case "G": shift = 30
    case "T": shift = 40
    case "P": shift = 50
    default: return nil
    }
    let (value, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
    return overflow ? nil : value
}

/// "1.5 MiB" style text for a byte count.
func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// ISO 8601 UTC text for ns since the Unix epoch.
func formatTime(_ nanos: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date(timeIntervalSince1970: Double(nanos) / 1e9))
}

/// Prints a JSON value (sorted keys, pretty) to standard output.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}

/// Writes a line to standard output at once (for tools that read it live).
func printNow(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Creates the output directory of `compile` or `asm` (and its parents);
/// says which directory and why if it cannot.
func makeOutputDirectory(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        // Foundation's error names no reason a user can act on: ask the host.
        let reason = mkdir(path, 0o755) == 0 ? "it vanished while being made" : String(cString: strerror(errno))
        throw UserError("cannot create the output directory \(path): \(reason)")
    }
}
