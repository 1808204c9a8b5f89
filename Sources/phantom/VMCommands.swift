import ArgumentParser
import Foundation
import PhantomHost
import PhantomMemory
import PhantomStore
import PhantomVM

/// `phantom asm FILE.pa -o DIR`: assembles classes into class files.
struct AsmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asm",
        abstract: "Assemble a .pa file into class files (one NAME.pc per class).")
    @Argument(help: "The assembler source.") var file: String
    @Option(name: .shortAndLong, help: "Directory for the class files.") var output: String = "."

    func run() throws {
        try reportingErrors {
            guard let data = FileManager.default.contents(atPath: file) else { throw UserError("cannot read \(file)") }
            guard let source = String(data: data, encoding: .utf8) else { throw UserError("\(file) is not UTF-8 text") }
            let classes: [ClassFile]
            do throws(AssemblerErrors) {
                classes = try Assembler.assemble(source, file: file)
            } catch {
                for problem in error.errors { printError(problem.description) }
                throw UserError("\(error.errors.count) error(s) in \(file); nothing written")
            }
            try makeOutputDirectory(output)
            for cls in classes {
                let path = "\(output)/\(classFileName(cls.name))"
                guard FileManager.default.createFile(atPath: path, contents: Data(cls.encoded())) else {
                    throw UserError("cannot write \(path)")
                }
                print("wrote \(path): class \(cls.name), \(cls.methods.count) methods")
            }
        }
    }
}

/// `phantom exec DIR CLASS`: runs a class's `run` on a temporary image, or
/// persistently on `--image` (until the kernel's `phantom run` exists).
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run CLASS.run from the class files in DIR, in a VM on a temporary image.",
        discussion: """
            Every class file in DIR is verified and installed; the program prints through its boot object.
            With --image PATH the run is persistent: the image is created if missing, a snapshot is taken
            every --snapshot-every instructions (the line "#snapshot" follows each on standard output),
            and a later exec on the same image resumes its threads where the last snapshot left them.
            """)
    @Argument(help: "Directory of class files (.pc).") var directory: String
    @Argument(help: "The class whose run method starts.") var className: String
    @Option(help: "Stop after this many instructions (default: run to the end).") var budget: Int?
    @Option(help: "A persistent image to run on (created if missing).") var image: String?
    @Option(help: "Instructions between snapshots, with --image.") var snapshotEvery: Int = 1_000_000

    func validate() throws {
        guard snapshotEvery >= 1 else { throw ValidationError("--snapshot-every must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            let files = names.filter { $0.hasSuffix(".pc") }.sorted()
            guard !files.isEmpty else { throw UserError("no class files (.pc) in \(directory)") }
            let work = try makeTemporaryDirectory(in: NSTemporaryDirectory())
            defer { removeTree(work) }
            let device: FileBlockDevice
            let store: Store
            if let image, FileManager.default.fileExists(atPath: image) {
                device = try FileBlockDevice(path: image, mode: .readWrite)
                store = try Store.open(device, verification: .newestSnapshot)
            } else {
                device = try FileBlockDevice(path: image ?? "\(work)/exec.img", mode: .create)
                store = try Store.create(on: device, logicalSize: 64 << 30, keep: 4)
            }
            let space = try PersistentSpace(store: store, capacity: 4 << 30)
            let memory = try ObjectMemory(space: space)
            let vm = try VirtualMachine(memory: memory) { text in
                FileHandle.standardOutput.write(Data(text.utf8))
            }
            if image != nil && !vm.threads.isEmpty {
                // Resume: the image's threads go on from the last snapshot.
                try runPersistently(vm, space)
                return
            }
            // Parents before children (VirtualMachine.install(_:)).
            var pending: [ClassFile] = []
            for name in files {
                guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)") else { throw UserError("cannot read \(directory)/\(name)") }
                do { pending.append(try ClassFile(decoding: Array(data))) } catch { throw UserError("\(directory)/\(name): \(error)") }
            }
            do { try vm.install(pending) } catch { throw UserError("\(error)") }
            let thread = try vm.startThread(className: className)
            if image != nil {
                try space.takeSnapshot()
                try runPersistently(vm, space)
                return
            }
            vm.run(budget: budget ?? .max)
            switch vm.state(of: thread) {
            case .finished: return
            case .runnable: throw UserError("stopped after \(vm.instructions(of: thread)) instructions (--budget)")
            case .failed: throw ExitCode(2)
            case .blocked: throw UserError("deadlock: the thread waits for something no running thread will provide")
            case .sleeping: throw UserError("stopped while the thread sleeps (--budget)")
            }
        }
    }
}

extension ExecCommand {
    /// Runs every thread to its end, with a snapshot every `snapshotEvery`
    /// instructions (a safepoint) and one at the end.
    func runPersistently(_ vm: VirtualMachine, _ space: PersistentSpace) throws {
        var remaining = budget ?? .max
        while remaining > 0 {
            let ran = vm.run(budget: min(snapshotEvery, remaining))
            remaining -= ran
            try space.takeSnapshot()
            FileHandle.standardOutput.write(Data("#snapshot\n".utf8))
            if !vm.hasWork { break }
        }
    }
}

/// `.ru.dz.demo.counter` -> `ru.dz.demo.counter.pc`.
func classFileName(_ name: String) -> String {
    var trimmed = Substring(name)
    while trimmed.hasPrefix(".") { trimmed = trimmed.dropFirst() }
    return trimmed.replacingOccurrences(of: "/", with: "_") + ".pc"
}
