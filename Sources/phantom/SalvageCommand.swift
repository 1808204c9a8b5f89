// `phantom image salvage IMAGE [--yes]`: data-page damage costs only the
// pages hit. The newest snapshot's pages that fail their checksum become
// zero pages in a new snapshot; before that the heap check runs on the
// result, and the objects that lay on those pages are named.

import ArgumentParser
import Foundation
import PhantomHost
import PhantomMemory
import PhantomStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ImageCommand {
    struct Salvage: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the damaged data pages of the newest snapshot by zero pages, in a new snapshot.",
            discussion: """
                Reads every data page of the newest snapshot. If some fail their checksum, it says which objects \
                lay on them (address, class, size, from what is left of the pages) and runs the heap check on the \
                snapshot as it would be with those pages zeroed. With --yes it then commits that snapshot (the \
                older snapshots keep the damaged pages until they leave the history). Without --yes nothing is \
                written, and the exit status is 1 while the damage is there. Damaged metadata is not its business: \
                format-2 images read it from its copy, and 'phantom image verify' says what is lost when both \
                copies are damaged.
                """)
        @Argument(help: "Path of the image.") var path: String
        @Flag(help: "Commit the salvaged snapshot.") var yes = false
        @Flag(help: "Print JSON for tools.") var json = false

        func run() throws {
            try reportingErrors {
                let store = try openImage(path, readOnly: !yes)
                guard let newest = store.newestSnapshot else {
                    try finish(SalvageReport(path: path, snapshot: nil, committed: nil, damagedPages: [], analysis: nil),
                               message: "nothing to salvage: \(path) holds no snapshot")
                    return
                }
                var damaged: [DamagedPage]
                do {
                    damaged = try store.damagedPages()
                } catch {
                    throw UserError("snapshot \(newest.id) of \(path) has a damaged tree node (\(error)); the pages under it cannot be found, "
                        + "and salvage replaces data pages only. 'phantom image verify \(path)' names the newest intact snapshot; "
                        + "'phantom image rollback \(path) --to ID --yes' returns to it.")
                }
                guard !damaged.isEmpty else {
                    try finish(SalvageReport(path: path, snapshot: newest.id, committed: nil, damagedPages: [], analysis: nil),
                               message: "nothing to salvage: every page of snapshot \(newest.id) is intact")
                    return
                }
                // The older snapshots that share the damaged blocks keep them.
                for index in damaged.indices {
                    damaged[index].snapshots = store.snapshots.map(\.id).filter { id in
                        (try? store.physicalBlock(page: damaged[index].page, snapshot: id)) == damaged[index].block
                    }
                }
                let analysis = SalvageAnalysis(store: store, damaged: damaged)
                var committed: UInt64? = nil
                if yes {
                    let zero = [UInt8](repeating: 0, count: Layout.blockSize)
                    committed = try store.commit(pages: damaged.map { (page: $0.page, bytes: zero) }).id
                }
                let report = SalvageReport(path: path, snapshot: newest.id, committed: committed, damagedPages: damaged, analysis: analysis)
                if json {
                    try printJSON(report)
                } else {
                    printReport(report, analysis)
                }
                if committed == nil {
                    throw json ? ExitCode.failure
                        : UserError("\(path) is unchanged: run again with --yes to commit snapshot \(newest.id) with those \(damaged.count) page(s) as zero pages")
                }
            }
        }

        /// Prints or encodes a report that needs no work; exits 0.
        private func finish(_ report: SalvageReport, message: String) throws {
            if json { try printJSON(report) } else { print(message) }
        }

        private func printReport(_ report: SalvageReport, _ analysis: SalvageAnalysis) {
            let numbers = report.damagedPages.map { "\($0.page) (block \($0.block))" }.joined(separator: ", ")
            print("snapshot \(report.snapshot!) of \(path): \(report.damagedPages.count) damaged page(s): \(numbers)")
            if let why = analysis.notChecked {
                print("heap: not checked: \(why)")
            } else {
                if analysis.objects.isEmpty {
                    print("objects on them: none found (what is left of the pages shows no object header)")
                } else {
                    print("objects on them (as what is left of the damaged pages shows them):")
                    for object in analysis.objects {
                        let name = object.classRef == 0 ? "no class" : object.className.map { "class \($0)" } ?? "class unreadable"
                        print("  @0x\(String(object.address, radix: 16))  \(name), \(object.size) bytes, on page\(object.pages.count == 1 ? "" : "s") \(object.pages.map(String.init).joined(separator: ", "))")
                    }
                }
                if analysis.heapProblems.isEmpty {
                    print("heap check with the pages zeroed: consistent")
                } else {
                    print("heap check with the pages zeroed: \(analysis.heapProblems.count)\(analysis.heapProblems.count >= SalvageAnalysis.problemLimit ? " or more" : "") problem(s):")
                    for problem in analysis.heapProblems { print("  \(problem)") }
                }
            }
            guard let committed = report.committed else {
                print("would commit: snapshot \(report.snapshot!) with those pages as zero pages, as a new snapshot")
                return
            }
            let older = report.damagedPages.flatMap(\.snapshots).filter { $0 != report.snapshot! }
            print("committed snapshot \(committed): snapshot \(report.snapshot!) with \(report.damagedPages.count) page(s) zeroed")
            if !older.isEmpty {
                print("note: older snapshots (\(Set(older).sorted().map(String.init).joined(separator: ", "))) still hold the damaged pages until they leave the history; 'phantom image verify' reports them until then")
            }
            if !analysis.heapProblems.isEmpty || analysis.notChecked != nil {
                print("note: the program may fail where it uses the objects above; if it does, 'phantom image verify \(path)' lists older snapshots to roll back to")
            }
        }
    }
}

/// What salvage found out about the heap of the newest snapshot.
struct SalvageAnalysis {
    struct Object: Encodable {
        let address: UInt64
        let size: UInt64
        /// The class reference in the header (0: none, as for the VM's tables).
        let classRef: UInt64
        /// The class's name, if the class object and its name are readable.
        let className: String?
        let pages: [UInt64]
        enum CodingKeys: String, CodingKey {
            case address, size, pages
            case classRef = "class_ref"
            case className = "class"
        }
    }
    static let problemLimit = 20
    /// The objects that lay on the damaged pages (from what is left of them).
    var objects: [Object] = []
    /// What the heap check says of the snapshot with the pages zeroed.
    var heapProblems: [String] = []
    /// Why the heap was not checked (not a Phantom system, unreadable header).
    var notChecked: String?

    init(store: Store, damaged: [DamagedPage]) {
        let pages = Set(damaged.map(\.page))
        let highest: UInt64
        do { highest = try store.pageLocations().pages.last?.page ?? 0 } catch {
            notChecked = "the newest snapshot cannot be read: \(error)"
            return
        }
        // The kernel's default heap, or more if the snapshot holds more.
        let capacity = min(store.pageCount, max(highest + 1, (4 << 30) >> 12)) << 12
        let space: PersistentSpace
        do {
            space = try PersistentSpace(store: store, capacity: capacity, skipping: pages)
        } catch {
            notChecked = "the newest snapshot cannot be loaded: \(error)"
            return
        }
        // What is left of the damaged pages, to name what lay there.
        for page in damaged where page.page < UInt64(space.capacityPages) {
            try? store.readUnchecked(block: page.block, into: UnsafeMutableRawBufferPointer(start: space.base + Int(page.page) * 4096, count: 4096))
        }
        do {
            let memory = try ObjectMemory(space: space)
            objects = memory.objects(onPages: pages).map { object in
                let first = object.address >> 12, last = (object.address + max(object.size, 1) - 1) >> 12
                return Object(address: object.address, size: object.size, classRef: object.classRef,
                              className: Self.className(memory, object.classRef, damaged: pages),
                              pages: (first...last).filter { pages.contains($0) })
            }
        } catch {
            // A damaged header (page 0) is looked at again once zeroed, below.
        }
        // The snapshot as salvage would commit it.
        for page in pages where page < UInt64(space.capacityPages) {
            memset(space.base + Int(page) * 4096, 0, 4096)
        }
        do {
            let memory = try ObjectMemory(space: space)
            heapProblems = memory.checkHeap(limit: Self.problemLimit)
        } catch {
            notChecked = pages.contains(0)
                ? "page 0 (the object memory's header) is among the damaged pages: \(error); the salvaged snapshot will not boot as a Phantom system"
                : "\(error)"
        }
    }

    /// The name of class `cls` if its class object and its name string are
    /// allocated objects that lie on no damaged page.
    static func className(_ memory: ObjectMemory, _ cls: UInt64, damaged: Set<UInt64>) -> String? {
        func readable(_ ref: ObjectRef) -> Bool {
            guard memory.isValidObject(ref) else { return false }
            let size = UInt64(memory.size(of: ref))
            return !((ref.raw >> 12)...((ref.raw + size - 1) >> 12)).contains { damaged.contains($0) }
        }
        let classRef = ObjectRef(raw: cls)
        guard readable(classRef), memory.referenceCount(of: classRef) >= 1 else { return nil }
        let name = memory.reference(classRef, 0)
        guard readable(name) else { return nil }
        let raw = memory.bytes(name)
        guard raw.count >= 8 else { return nil }
        let length = Int(min(memory.word(name, at: 0), UInt64(raw.count - 8)))
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: raw[8..<(8 + length)]), as: UTF8.self)
        return text.isEmpty ? nil : text
    }
}

/// What `phantom image salvage --json` prints.
struct SalvageReport: Encodable {
    let path: String
    /// The snapshot salvaged (the newest), or nil when the image has none.
    let snapshot: UInt64?
    /// The snapshot committed (with --yes), or nil.
    let committed: UInt64?
    let damagedPages: [DamagedPage]
    let objects: [SalvageAnalysis.Object]
    let heapChecked: Bool
    let heapConsistent: Bool?
    let heapProblems: [String]
    let notChecked: String?

    init(path: String, snapshot: UInt64?, committed: UInt64?, damagedPages: [DamagedPage], analysis: SalvageAnalysis?) {
        self.path = path
        self.snapshot = snapshot
        self.committed = committed
        self.damagedPages = damagedPages
        objects = analysis?.objects ?? []
        heapChecked = analysis != nil && analysis?.notChecked == nil
        heapConsistent = heapChecked ? analysis!.heapProblems.isEmpty : nil
        heapProblems = analysis?.heapProblems ?? []
        notChecked = analysis?.notChecked
    }

    enum CodingKeys: String, CodingKey {
        case path, snapshot, committed, objects
        case damagedPages = "damaged_pages"
        case heapChecked = "heap_checked"
        case heapConsistent = "heap_consistent"
        case heapProblems = "heap_problems"
        case notChecked = "not_checked"
    }
}
