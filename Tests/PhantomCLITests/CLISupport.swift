// Runs the real `phantom` binary as a child process, with time limits, and
// reads what it prints.

import Dispatch
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `phantom` executable built next to this test bundle.
let phantomPath: String = {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if length > 0 {
        let exe = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("phantom").path
    }
    // No /proc (Darwin): the products directory holds the .xctest bundle.
    if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
        return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("phantom").path
    }
    return "phantom-not-found"
}()

/// How long any child may run before it is killed.
let childTimeLimit: Double = 60

/// What a finished child did.
struct CommandResult: CustomStringConvertible {
    let arguments: [String]
    /// Exit status, or the signal number when `signal` is true.
    let status: Int32
    /// True when the child was ended by a signal (a crash, or our SIGKILL).
    let signaled: Bool
    /// True when the child overran its time limit and was killed for it.
    let timedOut: Bool
    let stdout: String
    let stderr: String
    /// Seconds from start to exit.
    let seconds: Double

    var exitedWith0: Bool { !signaled && status == 0 }
    /// Exited by itself with this status (not by a signal).
    func exited(_ code: Int32) -> Bool { !signaled && !timedOut && status == code }

    var description: String {
        let how = signaled ? "killed by signal \(status)" : "exit status \(status)"
        return "`phantom \(arguments.joined(separator: " "))`: \(how)\(timedOut ? " (TIMED OUT)" : ""), \(String(format: "%.2f", seconds)) s\n"
            + "--- stdout:\n\(stdout.suffix(3000))--- stderr:\n\(stderr.suffix(3000))---"
    }
}

/// A running `phantom` child whose stdout and stderr are read on their own
/// threads (no pipe can fill up), killed if it overruns its time limit.
final class Child: @unchecked Sendable {
    let arguments: [String]
    let timeLimit: Double
    private let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var outData = Data()
    private var errData = Data()
    private let outDone = DispatchSemaphore(value: 0)
    private let errDone = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    private let started = DispatchTime.now()
    private var result: CommandResult?
    private var hasExited = false
    private var timedOut = false

    /// Starts `phantom arguments...`; it is killed (SIGKILL) if it still
    /// runs `timeLimit` seconds later, whether or not anyone waits for it.
    /// `environment` is added to this process's environment.
    init(_ arguments: [String], timeLimit: Double = childTimeLimit, input: Pipe? = nil, environment: [String: String] = [:]) throws {
        self.arguments = arguments
        self.timeLimit = timeLimit
        process.executableURL = URL(fileURLWithPath: phantomPath)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        if let input { process.standardInput = input } else { process.standardInput = FileHandle.nullDevice }
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.terminationHandler = { [self] _ in
            lock.withLock { hasExited = true }
            exited.signal()
        }
        try process.run()
        startReader(outPipe.fileHandleForReading.fileDescriptor, done: outDone) { [self] bytes in
            lock.withLock { outData.append(bytes) }
        }
        startReader(errPipe.fileHandleForReading.fileDescriptor, done: errDone) { [self] bytes in
            lock.withLock { errData.append(bytes) }
        }
        DispatchQueue.global().asyncAfter(deadline: started + timeLimit) { [self] in
            let overran = lock.withLock {
                if !hasExited { timedOut = true }
                return !hasExited
            }
            if overran { kill() }
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// Everything the child has written to stdout so far.
    var stdoutSoFar: String { lock.withLock { String(decoding: outData, as: UTF8.self) } }

    /// Sends SIGKILL unless the child has already been reaped (its pid may
    /// be reused then); returns false if no signal was sent.
    @discardableResult
    func kill() -> Bool {
        guard !lock.withLock({ hasExited }) else { return false }
        #if canImport(Glibc)
        return Glibc.kill(pid, SIGKILL) == 0
        #else
        return Darwin.kill(pid, SIGKILL) == 0
        #endif
    }

    /// Sends `signal` (e.g. SIGTERM) unless the child has been reaped.
    @discardableResult
    func send(_ signal: Int32) -> Bool {
        guard !lock.withLock({ hasExited }) else { return false }
        #if canImport(Glibc)
        return Glibc.kill(pid, signal) == 0
        #else
        return Darwin.kill(pid, signal) == 0
        #endif
    }

    /// True while the child has not exited.
    var isRunning: Bool { process.isRunning }

    /// Waits for the child to exit (it is killed when it overruns its time
    /// limit) and for its output to be read to the end.
    func wait() -> CommandResult {
        if let result { return result }
        // The watchdog kills an overrunning child; the margin only guards
        // against a child that does not even die of SIGKILL.
        if exited.wait(timeout: started + timeLimit + 30) == .timedOut {
            lock.withLock { timedOut = true }
            kill()
            _ = exited.wait(timeout: .now() + 10)
        }
        // The pipes reach end of file when the child is gone.
        _ = outDone.wait(timeout: .now() + 10)
        _ = errDone.wait(timeout: .now() + 10)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let (out, err, overran) = lock.withLock {
            (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self), timedOut)
        }
        let running = process.isRunning
        let finished = CommandResult(
            arguments: arguments,
            status: running ? -1 : process.terminationStatus,
            signaled: running ? false : process.terminationReason == .uncaughtSignal,
            timedOut: overran, stdout: out, stderr: err, seconds: seconds)
        result = finished
        return finished
    }

    private func startReader(_ fd: Int32, done: DispatchSemaphore, append: @escaping @Sendable (Data) -> Void) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    append(Data(buffer[0..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            done.signal()
        }
        thread.start()
    }
}

/// Runs `phantom arguments...` to the end (at most `timeLimit` seconds).
func phantom(_ arguments: String..., timeLimit: Double = childTimeLimit) throws -> CommandResult {
    try Child(arguments, timeLimit: timeLimit).wait()
}

/// A fresh directory from mkdtemp; `remove()` deletes it and its contents.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/phantom-cli-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The whole contents of a file (nil if it cannot be read).
func fileBytes(_ path: String) -> Data? {
    FileManager.default.contents(atPath: path)
}

/// Writes bytes over a file's contents at `offset`, in place.
func overwrite(_ path: String, at offset: UInt64, with bytes: Data) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: bytes)
    try handle.synchronize()
}

/// The snapshot ids of `committed snapshot ID: ...` lines, in order.
func committedIDs(_ stdout: String) -> [UInt64] {
    stdout.split(separator: "\n").compactMap { line in
        guard line.hasPrefix("committed snapshot ") else { return nil }
        let rest = line.dropFirst("committed snapshot ".count)
        return UInt64(rest.prefix { $0 != ":" })
    }
}

/// What `phantom image info --json` prints (the fields the tests read).
struct ImageInfo: Decodable {
    struct Snapshot: Decodable {
        let id: UInt64
        let time: String
        let pages: UInt64
        let bytes: UInt64
    }
    let format_version: Int
    let page_size: Int
    let logical_pages: UInt64
    let keep: Int
    let commit: UInt64
    let device_bytes: UInt64
    let used_bytes: UInt64
    let free_bytes: UInt64
    let snapshots: [Snapshot]
    let open_notes: [String]?

    var ids: [UInt64] { snapshots.map(\.id) }
    var newestID: UInt64 { snapshots.last?.id ?? 0 }
}

/// Runs `phantom image info IMAGE --json` and decodes it.
func imageInfo(_ image: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ImageInfo {
    let result = try phantom("image", "info", image, "--json")
    try #require(result.exitedWith0, "\(result)", sourceLocation: sourceLocation)
    return try JSONDecoder().decode(ImageInfo.self, from: Data(result.stdout.utf8))
}

/// SplitMix64: a small seeded generator, so a failing run can be repeated.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Sleeps for `milliseconds` (not on the cooperative pool's clock: plain nanosleep).
func sleep(milliseconds: UInt64) {
    var request = timespec(tv_sec: Int(milliseconds / 1000), tv_nsec: Int((milliseconds % 1000) * 1_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
