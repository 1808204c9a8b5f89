// `phantom bench restart`: restart to first instruction for images holding
// 10, 100 and 1024 MiB of live objects, against the time to read the image
// file (`cat`), in the same run.
//
// Each image holds a linked list of objects of a few sizes and a thread
// that has run a while; its newest snapshot is a small increment on top of
// one that wrote everything (a running system's usual state). Each
// restart is a fresh process (this binary with a hidden option, as a real
// restart), which opens the image, opens the store, maps the space and
// loads its pages, opens the object memory and the VM, and runs one
// instruction of the resumed thread. The time counts from just before the
// process is spawned to the end of that instruction (the child reports the
// system-wide monotonic clock). Warm: the image is in the page cache. Cold:
// the image's pages are evicted first (fsync + posix_fadvise DONTNEED).

import ArgumentParser
import Foundation
import PhantomHost
import PhantomMemory
import PhantomStore
import PhantomVM

struct RestartBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Measure restart to first instruction for images of 10, 100 and 1024 MiB of live objects.",
        discussion: """
            For each heap size an image is built (a linked list of objects and a running thread,
            then a snapshot), and each run restarts it in a fresh process: open the image and the
            store (verification .newestSnapshot, as the kernel, and .metadata), map the space and
            load its pages, open the object memory and the VM, and execute one instruction of the
            resumed thread. The peer is `cat IMAGE > /dev/null` in the same run. Medians of --runs.
            Cold-cache figures evict the image file from the page cache before each run.
            """)

    @Flag(help: "Print JSON for tools.") var json = false
    @Option(help: "Runs of each measurement (the median counts).") var runs: Int = 5
    @Option(help: "Directory for the images (its disk is what is measured).") var dir: String = "."
    @Option(help: "Heap sizes in MiB, comma-separated.") var heaps: String = "10,100,1024"
    @Flag(inversion: .prefixedNo, help: "Also measure with the image evicted from the page cache.") var cold = true
    @Flag(help: "Build images whose newest snapshot holds every page (worst case for .newestSnapshot).") var oneSnapshot = false

    // The child process: restart an image once and report the times.
    @Option(help: .hidden) var probe: String?
    @Option(help: .hidden) var probeVerification: String = "newest"
    @Option(help: .hidden) var probeList: UInt64 = 0
    @Option(help: .hidden) var probeObjects: Int = 0
    // Time the loader this replaced (a lookup and a read(page:) per page) instead.
    @Flag(help: .hidden) var probePageByPage = false
    // Only build an image (of the first --heaps size) and print its list holder and length.
    @Option(help: .hidden) var buildOnly: String?

    static let capacity: UInt64 = 4 << 30

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard heaps.split(separator: ",").allSatisfy({ Int($0).map { $0 >= 1 && $0 <= 3072 } ?? false }) else {
            throw ValidationError("--heaps takes sizes in MiB between 1 and 3072, e.g. 10,100,1024")
        }
        guard ["newest", "metadata"].contains(probeVerification) else { throw ValidationError("bad probe verification") }
    }

    func run() throws {
        if let probe {
            try runProbe(probe)
            return
        }
        if let buildOnly {
            try reportingErrors {
                let built = try build(path: buildOnly, heapMiB: Int(heaps.split(separator: ",")[0])!)
                print("--probe-list \(built.holder) --probe-objects \(built.objects)")
            }
            return
        }
        try reportingErrors {
            let work = try makeTemporaryDirectory(in: dir)
            defer { removeTree(work) }
            let executable = Bundle.main.executablePath ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
            var results = RestartBenchResults()
            for mib in heaps.split(separator: ",").map({ Int($0)! }) {
                let row = try measure(heapMiB: mib, work: work, executable: executable)
                results.images.append(row)
                if !json {
                    var line = "heap \(mib) MiB, image \(fmt(row.imageMiB)) MiB: restart \(fmt(row.restartMilliseconds)) ms (.metadata \(fmt(row.restartMetadataMilliseconds)) ms; in process \(fmt(row.inProcessMilliseconds)) ms: open \(fmt(row.openMilliseconds)), load \(fmt(row.loadMilliseconds)), vm \(fmt(row.vmMilliseconds)), first instruction \(fmt(row.firstInstructionMilliseconds)); page-by-page load \(fmt(row.pageByPageLoadMilliseconds))), cat \(fmt(row.readFileMilliseconds)) ms"
                    if let coldRestart = row.coldRestartMilliseconds, let coldMeta = row.coldRestartMetadataMilliseconds, let coldCat = row.coldReadFileMilliseconds {
                        line += "; cold: restart \(fmt(coldRestart)) ms (.metadata \(fmt(coldMeta)) ms), cat \(fmt(coldCat)) ms"
                    }
                    printNow(line)
                }
            }
            if json { try printJSON(results) }
        }
    }

    // MARK: - Building an image

    static let source = """
        class cell
        field next
        class bench
        field data
        method run 1
            iconst 1000000000
        loop:
            djnz loop
            is_drop
            ret
        end
        """

    /// Builds an image of `heapMiB` MiB of live objects; returns the
    /// reference of the object that holds the list, the list's length and
    /// the live bytes.
    func build(path: String, heapMiB: Int) throws -> (holder: UInt64, objects: Int, liveBytes: UInt64) {
        let device = try FileBlockDevice(path: path, mode: .create)
        let store = try Store.create(on: device, logicalSize: Self.capacity, keep: 4)
        let space = try PersistentSpace(store: store, capacity: Self.capacity)
        let memory = try ObjectMemory(space: space)
        let vm = try VirtualMachine(memory: memory, console: { _ in })
        let classes: [ClassFile]
        do throws(AssemblerErrors) {
            classes = try Assembler.assemble(Self.source, file: "restart.pa")
        } catch {
            throw UserError("the benchmark program does not assemble: \(error.errors.map(\.description))")
        }
        for cls in classes { try vm.install(cls) }
        guard let benchClass = vm.classNamed("bench"), let cellClass = vm.classNamed("cell") else {
            throw UserError("the benchmark classes are missing")
        }
        let holder = try memory.allocate(class: benchClass, references: 1, bytes: 0)
        // Objects of 64, 256, 1024 and 3072 bytes (header and the next
        // reference included), filled with a pseudo-random pattern.
        let shapes = [64, 256, 1024, 3072].map { $0 - 24 }
        var pattern = [UInt8](repeating: 0, count: 4096)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for index in pattern.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            pattern[index] = UInt8(truncatingIfNeeded: state)
        }
        let target = UInt64(heapMiB) << 20
        var live: UInt64 = 0
        var count = 0
        var head = ObjectRef.null
        try pattern.withUnsafeBytes { bytes in
            while live < target {
                let size = shapes[count % shapes.count]
                let node = try memory.allocate(class: cellClass, references: 1, bytes: size)
                memory.setReference(node, 0, head)
                memory.setBytes(node, at: 0, UnsafeRawBufferPointer(rebasing: bytes[(count % 512)..<((count % 512) + size)]))
                live += UInt64(memory.size(of: node))
                head = node
                count += 1
            }
        }
        memory.setReference(holder, 0, head)
        _ = try vm.startThread(on: holder, method: "run", arguments: [vm.bootObject])
        vm.run(budget: 1000)
        try space.takeSnapshot()
        if !oneSnapshot {
            vm.run(budget: 1000)
            try space.takeSnapshot()
        }
        device.close()
        return (holder.raw, count, live)
    }

    // MARK: - Measuring

    func measure(heapMiB: Int, work: String, executable: String) throws -> RestartBenchResults.Image {
        let path = "\(work)/restart-\(heapMiB).img"
        defer { unlink(path) }
        let built = try build(path: path, heapMiB: heapMiB)
        let imageBytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        let probeArguments = ["bench", "restart", "--probe", path, "--probe-list", String(built.holder),
                              "--probe-objects", String(built.objects)]

        let output = "\(work)/probe-\(heapMiB).json"
        defer { unlink(output) }
        func restart(_ verification: String, pageByPage: Bool = false) throws -> ProbeTimes {
            let start = monotonicNanos()
            let status = try spawnAndWait(executable, probeArguments + ["--probe-verification", verification] + (pageByPage ? ["--probe-page-by-page"] : []), output: output)
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                  var times = try? JSONDecoder().decode(ProbeTimes.self, from: Data(line.utf8)) else {
                throw UserError("the restart of the \(heapMiB) MiB image failed (status \(status)): \(text.prefix(500))")
            }
            times.spawn = start
            return times
        }
        func readFile() throws -> Double {
            let start = monotonicNanos()
            let status = try spawnAndWait("/bin/cat", [path], output: "/dev/null")
            let elapsed = Double(monotonicNanos() - start) / 1e6
            guard status == 0 else { throw UserError("cat \(path) failed (status \(status))") }
            return elapsed
        }

        // Warm: read once so that everything is in the page cache.
        _ = try readFile()
        var newest: [ProbeTimes] = []
        var metadata: [ProbeTimes] = []
        var cat: [Double] = []
        for _ in 0..<runs {
            cat.append(try readFile())
            newest.append(try restart("newest"))
            metadata.append(try restart("metadata"))
        }
        var pageByPage: [Double] = []
        for _ in 0..<runs {
            let times = try restart("newest", pageByPage: true)
            pageByPage.append(Double(times.space - times.store) / 1e6)
        }
        var row = RestartBenchResults.Image(
            heapMiB: heapMiB, imageMiB: Double(imageBytes) / 1048576, liveMiB: Double(built.liveBytes) / 1048576,
            objects: built.objects,
            restartMilliseconds: median(newest.map(\.restartMilliseconds)),
            restartMetadataMilliseconds: median(metadata.map(\.restartMilliseconds)),
            readFileMilliseconds: median(cat),
            inProcessMilliseconds: median(newest.map(\.inProcessMilliseconds)),
            processStartMilliseconds: median(newest.map(\.processStartMilliseconds)),
            openMilliseconds: median(newest.map { Double($0.store - $0.start) / 1e6 }),
            loadMilliseconds: median(newest.map { Double($0.space - $0.store) / 1e6 }),
            vmMilliseconds: median(newest.map { Double($0.vm - $0.space) / 1e6 }),
            firstInstructionMilliseconds: median(newest.map { Double($0.first - $0.vm) / 1e6 }),
            pageByPageLoadMilliseconds: median(pageByPage))
        if cold {
            var coldNewest: [Double] = []
            var coldMetadata: [Double] = []
            var coldCat: [Double] = []
            for _ in 0..<runs {
                try evict(path)
                coldCat.append(try readFile())
                try evict(path)
                coldNewest.append(try restart("newest").restartMilliseconds)
                try evict(path)
                coldMetadata.append(try restart("metadata").restartMilliseconds)
            }
            row.coldRestartMilliseconds = median(coldNewest)
            row.coldRestartMetadataMilliseconds = median(coldMetadata)
            row.coldReadFileMilliseconds = median(coldCat)
        }
        return row
    }

    /// Runs a program with its standard output to `output` (truncated) and
    /// waits for it; returns its exit status. posix_spawn and waitpid:
    /// nothing between the spawn and the program but the exec.
    func spawnAndWait(_ executable: String, _ arguments: [String], output: String) throws -> Int32 {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard result == 0 else { throw UserError("cannot run \(executable): errno \(result)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw UserError("waitpid failed: errno \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// Drops the file's pages from the page cache (they are clean after fsync).
    func evict(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw UserError("cannot open \(path) to evict it from the page cache") }
        defer { close(fd) }
        _ = fsync(fd)
        let result = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        guard result == 0 else { throw UserError("posix_fadvise(DONTNEED) failed on \(path): errno \(result)") }
    }

    // MARK: - The child

    /// Restarts the image once: everything a boot does up to the first
    /// instruction of a resumed thread; prints the times as one JSON line.
    func runProbe(_ path: String) throws {
        try reportingErrors {
            var times = ProbeTimes()
            times.start = monotonicNanos()
            let device = try FileBlockDevice(path: path, mode: .readWrite)
            let store = try Store.open(device, verification: probeVerification == "metadata" ? .metadata : .newestSnapshot)
            times.store = monotonicNanos()
            if probePageByPage {
                // The loader before the bulk one, into the same kind of mapping.
                guard let mapping = mmap(nil, Int(Self.capacity), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
                      mapping != MAP_FAILED else { throw UserError("mmap failed") }
                for page in try store.mappedPages() {
                    try store.read(page: page, into: UnsafeMutableRawBufferPointer(start: mapping + Int(page) << 12, count: 4096))
                }
                times.space = monotonicNanos()
                times.vm = times.space
                times.first = times.space
                print(String(decoding: try JSONEncoder().encode(times), as: UTF8.self))
                return
            }
            let space = try PersistentSpace(store: store, capacity: Self.capacity)
            times.space = monotonicNanos()
            let memory = try ObjectMemory(space: space)
            let vm = try VirtualMachine(memory: memory, console: { _ in })
            times.vm = monotonicNanos()
            guard let thread = vm.threads.first else { throw UserError("the image has no thread") }
            let before = vm.instructions(of: thread)
            let ran = vm.run(budget: 1)
            times.first = monotonicNanos()
            guard ran == 1, vm.instructions(of: thread) == before + 1 else {
                throw UserError("the resumed thread did not run one instruction (ran \(ran))")
            }
            // Not timed: every object of the list is there.
            var node = memory.reference(ObjectRef(raw: probeList), 0)
            var count = 0
            while !node.isNull && count <= probeObjects {
                count += 1
                node = memory.reference(node, 0)
            }
            guard count == probeObjects else { throw UserError("the list has \(count) objects, not \(probeObjects)") }
            let encoded = try JSONEncoder().encode(times)
            print(String(decoding: encoded, as: UTF8.self))
        }
    }
}

/// What a restart child reports: monotonic ns at each step.
struct ProbeTimes: Codable {
    var spawn: UInt64 = 0
    var start: UInt64 = 0
    var store: UInt64 = 0
    var space: UInt64 = 0
    var vm: UInt64 = 0
    var first: UInt64 = 0

    var restartMilliseconds: Double { Double(first - spawn) / 1e6 }
    var inProcessMilliseconds: Double { Double(first - start) / 1e6 }
    var processStartMilliseconds: Double { Double(start - spawn) / 1e6 }
}

/// What `phantom bench restart --json` prints (a contract: keep the keys).
struct RestartBenchResults: Encodable {
    struct Image: Encodable {
        let heapMiB: Int
        let imageMiB: Double
        let liveMiB: Double
        let objects: Int
        /// Spawn to the end of the first instruction, `.newestSnapshot` (as the kernel opens).
        let restartMilliseconds: Double
        let restartMetadataMilliseconds: Double
        /// `cat IMAGE > /dev/null`, spawn to exit.
        let readFileMilliseconds: Double
        let inProcessMilliseconds: Double
        let processStartMilliseconds: Double
        let openMilliseconds: Double
        let loadMilliseconds: Double
        let vmMilliseconds: Double
        let firstInstructionMilliseconds: Double
        /// The load with the loader this replaced (page by page), warm.
        let pageByPageLoadMilliseconds: Double
        var coldRestartMilliseconds: Double?
        var coldRestartMetadataMilliseconds: Double?
        var coldReadFileMilliseconds: Double?

        enum CodingKeys: String, CodingKey {
            case heapMiB = "heap_mib"
            case imageMiB = "image_mib"
            case liveMiB = "live_mib"
            case objects
            case restartMilliseconds = "restart_ms"
            case restartMetadataMilliseconds = "restart_metadata_ms"
            case readFileMilliseconds = "read_file_ms"
            case inProcessMilliseconds = "in_process_ms"
            case processStartMilliseconds = "process_start_ms"
            case openMilliseconds = "open_ms"
            case loadMilliseconds = "load_ms"
            case vmMilliseconds = "vm_ms"
            case firstInstructionMilliseconds = "first_instruction_ms"
            case pageByPageLoadMilliseconds = "page_by_page_load_ms"
            case coldRestartMilliseconds = "cold_restart_ms"
            case coldRestartMetadataMilliseconds = "cold_restart_metadata_ms"
            case coldReadFileMilliseconds = "cold_read_file_ms"
        }
    }
    var images: [Image] = []
}
