import PhantomHost

/// Everything the store can report. Each case carries what a user needs to
/// act: which file, which block, which snapshot, what was expected.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// The file is not a Phantom image at all (wrong magic, too small).
    case notAnImage(path: String, reason: String)
    /// The image was written by a newer format version than this build reads.
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    /// The image is damaged beyond what the store can fall back from.
    case corrupt(path: String, detail: String)
    /// A block's contents do not match the checksum recorded for it.
    case checksumMismatch(path: String, block: UInt64, snapshot: UInt64?, what: String)
    /// The device has no room for the snapshot; the previous snapshot is intact.
    case deviceFull(path: String, detail: String)
    /// The device reported an error; the previous snapshot is intact.
    case device(BlockDeviceError)
    /// No retained snapshot has this id.
    case noSuchSnapshot(id: UInt64, retained: [UInt64])
    /// A page number beyond the image's logical size.
    case pageOutOfRange(page: UInt64, pageCount: UInt64)
    /// A write on a store opened read-only.
    case readOnly(path: String)
    /// A caller's argument is out of range (with the reason).
    case invalidArgument(String)
    /// The image's format version is too old to hold what was asked for.
    case formatTooOld(path: String, version: UInt32, feature: String)

    public var description: String {
        switch self {
        case let .notAnImage(path, reason):
            return "\(path) is not a Phantom image: \(reason)"
        case let .unsupportedVersion(path, found, supported):
            return "\(path) has image format version \(found); this build reads version \(supported) and older. Use a newer phantom."
        case let .corrupt(path, detail):
            return "\(path) is damaged: \(detail)"
        case let .checksumMismatch(path, block, snapshot, what):
            let owner = snapshot.map { " of snapshot \($0)" } ?? ""
            return "checksum mismatch in \(what)\(owner) at block \(block) of \(path)"
        case let .deviceFull(path, detail):
            return "no space left for the snapshot on \(path): \(detail). The previous snapshot is intact; free space and retry."
        case let .device(error):
            return error.description
        case let .noSuchSnapshot(id, retained):
            let list = retained.isEmpty ? "none" : retained.map(String.init).joined(separator: ", ")
            return "no snapshot \(id) in the image (retained snapshots: \(list))"
        case let .pageOutOfRange(page, count):
            return "page \(page) is outside the image's logical space of \(count) pages"
        case let .readOnly(path):
            return "\(path) is open read-only"
        case let .invalidArgument(reason):
            return reason
        case let .formatTooOld(path, version, feature):
            return "\(path) has image format version \(version), which has no \(feature); images made by this build (format \(Layout.formatVersion)) have one"
        }
    }

    /// Wraps a device error, turning "no space" into `deviceFull`.
    init(_ error: BlockDeviceError) {
        if case let .noSpace(path, requested) = error {
            self = .deviceFull(path: path, detail: "needed \(requested) more bytes")
        } else {
            self = .device(error)
        }
    }
}
