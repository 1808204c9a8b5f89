// The `fio:` share, in process: names it refuses, and the race of finding
// F8 (a host process swapping a directory for a symbolic link) that the
// descriptor walk closes.

import Foundation
import PhantomHost
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct FileShareTests {
    /// A fresh directory holding `share/` and `outside/`, removed afterwards.
    func withShare(_ body: (_ share: String, _ outside: String) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "phantom-share-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: root + "/share", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/outside", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(root + "/share", root + "/outside")
    }

    func problem<T>(_ result: Result<T, ShareProblem>) -> String? {
        if case .failure(let problem) = result { return problem.description }
        return nil
    }

    @Test func aNulByteInANameIsRefusedNotCut() throws {
        try withShare { share, _ in
            #expect(problem(FileShare.write("nul\u{0}byte.txt", in: share, "PWNED", append: true))?.contains("NUL") == true)
            #expect(problem(FileShare.check("sub\u{0}/linkfile", in: share))?.contains("NUL") == true)
            #expect((try? FileManager.default.contentsOfDirectory(atPath: share))?.isEmpty == true)
        }
    }

    @Test func filesInsideAreReadAndWrittenAndAMissingOneReadsAsNil() throws {
        try withShare { share, _ in
            try FileManager.default.createDirectory(atPath: share + "/a/b", withIntermediateDirectories: true)
            #expect(problem(FileShare.write("/a//b/notes.txt", in: share, "one ", append: true)) == nil)
            #expect(problem(FileShare.write("a/b/notes.txt", in: share, "two", append: true)) == nil)
            #expect(try FileShare.read("a/b/notes.txt", in: share).get() == "one two")
            #expect(problem(FileShare.write("a/b/notes.txt", in: share, "new", append: false)) == nil)
            #expect(try FileShare.read("a/b/notes.txt", in: share).get() == "new")
            #expect(try FileShare.read("a/missing.txt", in: share).get() == nil)
            #expect(problem(FileShare.read("nodir/x.txt", in: share)) == "no such directory in the shared directory")
        }
    }

    @Test func symbolicLinksAnywhereOnThePathAreRefused() throws {
        try withShare { share, outside in
            try "SECRET".write(toFile: outside + "/f.txt", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: share + "/inner", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: share + "/out", withDestinationPath: outside)
            try FileManager.default.createSymbolicLink(atPath: share + "/in", withDestinationPath: share + "/inner")
            try FileManager.default.createSymbolicLink(atPath: share + "/file.txt", withDestinationPath: outside + "/f.txt")
            try FileManager.default.createSymbolicLink(atPath: share + "/dangling.txt", withDestinationPath: outside + "/new.txt")
            for name in ["out/f.txt", "in/x.txt"] {
                #expect(problem(FileShare.read(name, in: share))?.contains("symbolic link") == true, "\(name)")
                #expect(problem(FileShare.write(name, in: share, "x", append: true))?.contains("symbolic link") == true, "\(name)")
            }
            for name in ["file.txt", "dangling.txt"] {
                #expect(problem(FileShare.read(name, in: share))?.contains("symbolic link") == true, "\(name)")
                #expect(problem(FileShare.write(name, in: share, "x", append: true))?.contains("symbolic link") == true, "\(name)")
            }
            #expect(!FileManager.default.fileExists(atPath: outside + "/new.txt"))
            #expect(try String(contentsOfFile: outside + "/f.txt", encoding: .utf8) == "SECRET")
        }
    }

    @Test func aFifoIsRefusedWithoutHanging() throws {
        try withShare { share, _ in
            #expect(mkfifo(share + "/pipe", 0o644) == 0)
            #expect(problem(FileShare.read("pipe", in: share)) == "cannot read")
            #expect(problem(FileShare.write("pipe", in: share, "x", append: true)) != nil)
        }
    }

    @Test func aShareThatIsAFileOrGoneIsNamed() throws {
        try withShare { share, outside in
            try "x".write(toFile: outside + "/plain", atomically: true, encoding: .utf8)
            #expect(problem(FileShare.read("a.txt", in: outside + "/plain"))?.contains("is not a directory") == true)
            #expect(problem(FileShare.read("a.txt", in: share + "/gone"))?.contains("does not exist") == true)
            #expect(problem(FileShare.read("a.txt", in: nil))?.contains("no directory is shared") == true)
        }
    }

    /// F8: a host thread keeps replacing `share/d` by a symbolic link to an
    /// outside directory and back while the share reads and appends
    /// `d/f.txt`: no read sees the outside file, no append lands in it.
    @Test func aDirectorySwappedForALinkDuringOperationsNeverLeadsOutside() throws {
        try withShare { share, outside in
            try FileManager.default.createDirectory(atPath: share + "/d", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: outside + "/d", withIntermediateDirectories: true)
            try "INSIDE".write(toFile: share + "/d/f.txt", atomically: true, encoding: .utf8)
            try "SECRET".write(toFile: outside + "/d/f.txt", atomically: true, encoding: .utf8)
            let stop = ManagedFlag()
            let swapper = Thread {
                while !stop.isSet {
                    rename(share + "/d", share + "/d_real")
                    symlink(outside + "/d", share + "/d")
                    usleep(50)
                    unlink(share + "/d")
                    rename(share + "/d_real", share + "/d")
                }
            }
            swapper.start()
            var leaks = 0, inside = 0, refused = 0
            for _ in 0..<20_000 {
                switch FileShare.read("d/f.txt", in: share) {
                case .success(let text?) where text.hasPrefix("SECRET"): leaks += 1
                case .success(.some): inside += 1
                default: refused += 1
                }
                _ = FileShare.write("d/f.txt", in: share, "W", append: true)
            }
            stop.set()
            while !swapper.isFinished { usleep(1000) }
            #expect(leaks == 0, "\(leaks) reads saw the outside file (\(inside) inside, \(refused) refused)")
            #expect(inside > 0 && refused > 0, "the race never happened: \(inside) inside, \(refused) refused")
            #expect(try String(contentsOfFile: outside + "/d/f.txt", encoding: .utf8) == "SECRET", "an append landed outside")
        }
    }
}

/// A flag one thread sets and another reads.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
