import Foundation
import Testing
import PhantomHost
@testable import PhantomStore

/// The store on a real raw block device: a loop device over a temporary file.
/// Needs root and loop devices (as on CI); elsewhere the test is skipped and says why.
@Suite struct RawDeviceTests {
    static func run(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let loopAvailable: Bool = getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control")
        && run(["losetup", "--version"]).status == 0

    @Test(.enabled(if: loopAvailable, "needs root and /dev/loop-control"))
    func storeWorksOnARawBlockDeviceAndFillsItToTheEnd() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let backing = dir.file("backing")
        #expect(Self.run(["truncate", "-s", "8M", backing]).status == 0)
        let attach = Self.run(["losetup", "-f", "--show", backing])
        try #require(attach.status == 0, "losetup failed: \(attach.output)")
        let path = attach.output.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = Self.run(["losetup", "-d", path]) }

        var model: Model = [:]
        do {
            let device = try FileBlockDevice(path: path, mode: .readWrite)
            #expect(device.isRawDevice)
            #expect(device.size == 8 << 20)
            let store = try Store.create(on: device, logicalSize: 1 << 30, keep: 2)
            var full = false
            for id in UInt64(1)...40 {
                let pages = (0..<UInt64(300)).map { (page: $0 + id * 50, bytes: pageBytes(seed: id, page: $0 + id * 50)) }
                do {
                    try store.commit(pages: pages)
                    for (page, bytes) in pages { model[page] = bytes }
                } catch let error {
                    guard case .deviceFull = error else { Issue.record("expected deviceFull, got \(error)"); return }
                    full = true
                    break
                }
            }
            #expect(full, "8 MiB should fill up")
            #expect(device.size == 8 << 20, "a raw device never grows")
        }
        let store = try Store.open(try FileBlockDevice(path: path, mode: .readOnly), readOnly: true, verification: .newestSnapshot)
        #expect(try contents(of: store) == model)
        #expect(store.verify().isHealthy)
    }
}
