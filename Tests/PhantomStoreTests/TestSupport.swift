import PhantomHost
@testable import PhantomStore

#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/phantom-test-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() {
        _ = system("rm -rf '\(path)'")
    }
}

/// Deterministic page contents for a (snapshot, page) pair.
func pageBytes(seed: UInt64, page: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 ^ page &* 0xBF58_476D_1CE4_E5B9 ^ 0x94D0_49BB_1331_11EB
    var bytes = [UInt8](repeating: 0, count: Layout.blockSize)
    bytes.withUnsafeMutableBytes { raw in
        let words = raw.bindMemory(to: UInt64.self)
        for index in 0..<words.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            words[index] = z ^ (z >> 31)
        }
    }
    return bytes
}

/// The expected contents of the whole space: page -> bytes (absent = zeros).
typealias Model = [UInt64: [UInt8]]

/// Checks that the store's newest snapshot equals `model` exactly.
func contents(of store: Store, snapshot: UInt64? = nil) throws -> Model {
    var result: Model = [:]
    for page in try store.mappedPages(snapshot: snapshot) {
        result[page] = try store.read(page: page, snapshot: snapshot)
    }
    return result
}
