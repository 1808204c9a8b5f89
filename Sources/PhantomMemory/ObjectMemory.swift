// Objects in the persistent space: their header, the allocator, and access
// with the write barrier. docs/object-layout.md draws every layout.
//
// Memory header (page 0 of the space; offset 0 is also the null reference):
// ```
//   0   8  magic "PHMEMORY"
//   8   4  layout version (1)
//  12   4  size classes (24)
//  16   8  root object
//  24   8  heap end: first byte never handed out (page-aligned)
//  32   8  objects allocated (since creation)
//  40   8  bytes allocated (since creation)
//  48   8  garbage collections run
//  56   8  free runs: first free run (chunk of whole pages), 0 if none
//  64  24*24 per size class: free cell list, bump pointer, bump limit
// 640   8  bytes allocated (the counter at 40) when the last collection ended
// 648   8  live bytes that collection left
// ```
// The two pacing words make the collector's schedule survive a restart:
// garbage made before a crash is collected after it (0 in an image made
// before they existed: the first boot then collects soon).
// The heap, from page 1 to the heap end, is a sequence of chunks, each
// starting with a 16-byte chunk header `kind u32, class u32, bytes u64`:
// - kind 1, small cells: 64 KiB holding cells of one size class;
// - kind 2, a large object: the object follows the chunk header;
// - kind 3, a free run: whole free pages; `next free run u64` at +16 (the
//   list of free runs is in heap order and holds every free run). The
//   collectors zero the pages of a run after its first when they free them,
//   so freed memory is not written by the next snapshot (a page of zeros is
//   a hole in the store); an allocation clears whatever is not zero.
//
// Object header (16 bytes; the object's reference points at it):
// ```
//  0  8  class reference (bits 0..47) | flags (bits 48..63: 62 allocated, 63 free cell)
//  8  4  size in bytes, header included (a multiple of 16)
// 12  4  reference slots: that many 8-byte references follow the header;
//        the rest of the object is plain bytes
// ```

import PhantomStore

/// A reference to an object: its offset in the persistent space; 0 is null.
public struct ObjectRef: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt64
    @inlinable @inline(__always) public init(raw: UInt64) { self.raw = raw }
    public static let null = ObjectRef(raw: 0)
    @inlinable @inline(__always) public var isNull: Bool { raw == 0 }
    public var description: String { raw == 0 ? "null" : "@0x" + String(raw, radix: 16) }
}

/// Objects in a persistent space: allocation, access with the write
/// barrier, and garbage collection (see `GarbageCollector.swift` for the
/// stop-the-world collector and `IncrementalCollector.swift` for the
/// incremental one).
///
/// Mutator thread only; snapshots run through `space`.
public final class ObjectMemory {
    /// The space the objects live in.
    public let space: PersistentSpace
    /// Where the space is mapped.
    public let base: UnsafeMutableRawPointer

    static let magic: UInt64 = 0x5952_4F4D_454D_4850  // "PHMEMORY"
    static let version: UInt32 = 1
    /// Cell sizes of the size classes (object sizes, header included).
    static let sizeClasses: [Int] = [16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
                                     320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048]
    static let chunkBytes: UInt64 = 64 << 10
    static let headerBytes = 16
    static let allocatedFlag: UInt64 = 1 << 62
    static let freeFlag: UInt64 = 1 << 63
    @usableFromInline static let classMask: UInt64 = (1 << 48) - 1
    enum ChunkKind: UInt32 { case small = 1, large = 2, free = 3 }

    // Memory header offsets.
    static let rootOffset: UInt64 = 16
    static let heapEndOffset: UInt64 = 24
    static let objectCountOffset: UInt64 = 32
    static let byteCountOffset: UInt64 = 40
    static let collectionsOffset: UInt64 = 48
    static let freeRunsOffset: UInt64 = 56
    static func classOffset(_ index: Int) -> UInt64 { 64 + UInt64(index) * 24 }
    static let pacingAllocatedOffset: UInt64 = 640
    static let pacingLiveOffset: UInt64 = 648

    /// Size class index for each 16-byte step up to 2048 bytes.
    private let classForSize: [Int]

    // MARK: - Incremental collection state (process memory only)
    //
    // None of this is persistent: a snapshot taken between two collection
    // steps holds a consistent heap, and a restart simply starts a new cycle.
    // IncrementalCollector.swift owns the algorithm.

    /// True while the incremental collector marks: `setReference` then shades
    /// the stored value (the one branch the barrier adds to the fast path).
    @usableFromInline var isMarking = false
    /// Where the incremental collector is.
    var phase: CollectionPhase = .idle
    /// Mark bits, one per 16-byte granule of the whole space (reserved, not
    /// committed: only the granules of the heap are ever touched). All clear
    /// between cycles.
    var markBits: UnsafeMutablePointer<UInt64>? = nil
    /// Gray objects. An entry is an object (16-aligned), or `object | 1`
    /// under the slot where a partly scanned large object resumes.
    var markStack: UnsafeMutablePointer<UInt64>? = nil
    var markCount = 0
    var markCapacity = 0
    /// Remark rounds so far in this cycle.
    var remarkRounds = 0
    /// Sweep: the next chunk to sweep, and the heap end when the sweep began.
    var sweepCursor: UInt64 = 0
    var sweepEnd: UInt64 = 0
    /// Sweep: per size class, the last free cell appended to its free list
    /// (0: unknown).
    var freeListTails: [UInt64] = []
    /// Sweep: the last free run below the cursor (0: none), its size as
    /// written, and the link that points at it. The free-run list is in heap
    /// order, so the sweep inserts and merges runs after this one.
    var runBefore: UInt64 = 0
    var runBeforeBytes: UInt64 = 0
    var linkToRunBefore: UInt64 = 0
    /// Trim: the free run at the heap end whose pages are handed back.
    var trimRun: UInt64 = 0
    /// Scratch for the cells of one chunk.
    var chunkCells: UnsafeMutablePointer<UInt64>? = nil
    /// Figures of the cycle in progress.
    var cycleStats = CollectionStats()
    /// Figures of the last incremental cycle that completed.
    public internal(set) var lastIncrementalCollection: CollectionStats? = nil
    /// Sweeps begun in this process (stop-the-world or incremental). From
    /// the moment it changes, addresses of garbage may be handed out again:
    /// a transient cache keyed by object addresses must be emptied then
    /// (objects reachable when it changes are not freed by that sweep).
    public internal(set) var sweepsBegun: UInt64 = 0

    /// Opens the object memory of a space, formatting an empty one.
    public init(space: PersistentSpace) throws(MemoryError) {
        self.space = space
        base = space.base
        var table = [Int](repeating: 0, count: 2048 / 16 + 1)
        for steps in 0...(2048 / 16) {
            table[steps] = Self.sizeClasses.firstIndex { $0 >= steps * 16 }!
        }
        classForSize = table
        let magic = load64(0)
        if magic == 0 {
            // Format only an empty space: allocation relies on everything past
            // the heap end being zero.
            let pageZeroIsEmpty = UnsafeRawBufferPointer(start: base, count: 4096).allSatisfy { $0 == 0 }
            guard pageZeroIsEmpty && space.usedPages <= 1 else {
                throw .badHeader("the image holds data (\(space.usedPages) pages) but no object memory; it is not a PVM image")
            }
            store64(Self.magic, at: 0)
            store32(Self.version, at: 8)
            store32(UInt32(Self.sizeClasses.count), at: 12)
            store64(4096, at: Self.heapEndOffset)
        } else {
            guard magic == Self.magic else { throw .badHeader("no object memory magic at page 0") }
            let version = load32(8)
            guard version == Self.version else { throw .badHeader("object memory layout version \(version); this build reads \(Self.version)") }
            guard load32(12) == UInt32(Self.sizeClasses.count) else { throw .badHeader("unexpected number of size classes") }
            let end = load64(Self.heapEndOffset)
            guard end >= 4096, end % 4096 == 0, end <= UInt64(space.capacityPages) << 12 else {
                throw .badHeader("heap end \(end) is outside the space")
            }
            // The allocator follows these words on its next allocation: a
            // damaged one would make it read and write outside the heap.
            // (The root is the VM's to check: VirtualMachine.loadWorld.)
            func inHeap(_ offset: UInt64, alignment: UInt64) -> Bool {
                offset >= 4096 && offset < end && offset % alignment == 0
            }
            let run = load64(Self.freeRunsOffset)
            guard run == 0 || inHeap(run, alignment: 4096) else { throw .badHeader("first free run \(run) is outside the heap") }
            for classIndex in 0..<Self.sizeClasses.count {
                let header = Self.classOffset(classIndex)
                let free = load64(header), bump = load64(header + 8), limit = load64(header + 16)
                guard free == 0 || inHeap(free, alignment: 16) else {
                    throw .badHeader("size class \(classIndex): free cell \(free) is outside the heap")
                }
                guard bump == 0 && limit == 0
                    || limit >= 4096 + Self.chunkBytes && limit <= end && limit % 4096 == 0
                    && bump >= limit - Self.chunkBytes + 16 && bump <= limit else {
                    throw .badHeader("size class \(classIndex): bump pointer \(bump), limit \(limit) are not in the heap")
                }
            }
        }
    }

    deinit { releaseCollectorMemory() }

    // MARK: - Raw access (the barrier is here)
    //
    // Offsets use wrapping arithmetic: references come from the VM, which
    // checks slots and indexes before it reads or writes; an overflow check
    // here would cost two branches on every access of every object.

    @inlinable @inline(__always) func load64(_ offset: UInt64) -> UInt64 {
        base.load(fromByteOffset: Int(truncatingIfNeeded: offset), as: UInt64.self)
    }
    @inlinable @inline(__always) func load32(_ offset: UInt64) -> UInt32 {
        base.load(fromByteOffset: Int(truncatingIfNeeded: offset), as: UInt32.self)
    }
    @inlinable @inline(__always) func store64(_ value: UInt64, at offset: UInt64) {
        space.willWrite(page: Int(truncatingIfNeeded: offset >> 12))
        base.storeBytes(of: value, toByteOffset: Int(truncatingIfNeeded: offset), as: UInt64.self)
    }
    @inlinable @inline(__always) func store32(_ value: UInt32, at offset: UInt64) {
        space.willWrite(page: Int(truncatingIfNeeded: offset >> 12))
        base.storeBytes(of: value, toByteOffset: Int(truncatingIfNeeded: offset), as: UInt32.self)
    }

    // MARK: - Objects

    /// The root of the object graph: everything reachable from it persists.
    public var root: ObjectRef {
        get { ObjectRef(raw: load64(Self.rootOffset)) }
        set {
            if isMarking { shade(newValue.raw) }
            store64(newValue.raw, at: Self.rootOffset)
        }
    }

    /// True if `object` looks like an allocated object inside the heap: for
    /// checking references read from an image before trusting them.
    public func isValidObject(_ object: ObjectRef) -> Bool {
        let end = heapEnd
        guard object.raw >= 4096 + 16, object.raw < end, object.raw & 15 == 0 else { return false }
        let header = load64(object.raw)
        guard header & Self.allocatedFlag != 0, header & Self.freeFlag == 0 else { return false }
        let size = UInt64(load32(object.raw + 8))
        let references = UInt64(load32(object.raw + 12))
        return size >= 16 && object.raw + size <= end && 16 + references * 8 <= size
    }

    /// The class reference in an object's header.
    @inlinable @inline(__always) public func classOf(_ object: ObjectRef) -> ObjectRef {
        ObjectRef(raw: load64(object.raw) & Self.classMask)
    }

    /// Changes the class in an object's header (for bootstrapping the class
    /// objects, which exist before the class of classes does).
    public func setClass(_ object: ObjectRef, _ cls: ObjectRef) {
        if isMarking { shade(cls.raw & Self.classMask) }
        store64(cls.raw & Self.classMask | Self.allocatedFlag, at: object.raw)
    }

    /// Size of the object in bytes, header included.
    @inlinable @inline(__always) public func size(of object: ObjectRef) -> Int { Int(load32(object.raw &+ 8)) }

    /// Number of reference slots of the object.
    @inlinable @inline(__always) public func referenceCount(of object: ObjectRef) -> Int { Int(load32(object.raw &+ 12)) }

    /// Reads reference slot `slot`.
    @inlinable @inline(__always) public func reference(_ object: ObjectRef, _ slot: Int) -> ObjectRef {
        assert(slot >= 0)
        return ObjectRef(raw: load64(object.raw &+ 16 &+ UInt64(truncatingIfNeeded: slot) &* 8))
    }

    /// Writes reference slot `slot` (through the barrier: the page is marked
    /// dirty, and while the incremental collector marks, the stored object
    /// is shaded so that it cannot hide in an already scanned object).
    @inlinable @inline(__always) public func setReference(_ object: ObjectRef, _ slot: Int, _ value: ObjectRef) {
        if _slowPath(isMarking) { shade(value.raw) }
        assert(slot >= 0)
        store64(value.raw, at: object.raw &+ 16 &+ UInt64(truncatingIfNeeded: slot) &* 8)
    }

    /// Offset of the object's plain bytes (after its reference slots).
    @inlinable @inline(__always) public func dataOffset(of object: ObjectRef) -> UInt64 {
        object.raw &+ 16 &+ UInt64(truncatingIfNeeded: referenceCount(of: object)) &* 8
    }

    /// Reads a 64-bit word of the object's plain bytes at byte `offset`.
    @inlinable @inline(__always) public func word(_ object: ObjectRef, at offset: Int) -> UInt64 {
        assert(offset >= 0)
        return load64(dataOffset(of: object) &+ UInt64(truncatingIfNeeded: offset))
    }

    /// Writes a 64-bit word of the object's plain bytes (through the barrier).
    @inlinable @inline(__always) public func setWord(_ object: ObjectRef, at offset: Int, _ value: UInt64) {
        assert(offset >= 0)
        store64(value, at: dataOffset(of: object) &+ UInt64(truncatingIfNeeded: offset))
    }

    /// Copies bytes into the object's plain bytes (through the barrier).
    public func setBytes(_ object: ObjectRef, at offset: Int, _ bytes: UnsafeRawBufferPointer) {
        let target = dataOffset(of: object) + UInt64(offset)
        space.willWrite(offset: target, length: bytes.count)
        if bytes.count > 0 { (base + Int(target)).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    /// The object's plain bytes, read-only.
    public func bytes(_ object: ObjectRef) -> UnsafeRawBufferPointer {
        let start = dataOffset(of: object)
        return UnsafeRawBufferPointer(start: base + Int(start), count: Int(object.raw) + size(of: object) - Int(start))
    }

    // MARK: - Allocation

    /// Allocates a zeroed object of class `classRef` with `references`
    /// reference slots and `bytes` plain bytes.
    public func allocate(class classRef: ObjectRef, references: Int, bytes: Int) throws(MemoryError) -> ObjectRef {
        guard references >= 0, bytes >= 0, references <= Int(UInt32.max / 8) else {
            throw .invalidArgument("bad object shape: \(references) references, \(bytes) bytes")
        }
        let needed = (Self.headerBytes + references * 8 + bytes + 15) & ~15
        let object: UInt64
        if needed <= 2048 {
            object = try allocateSmall(classIndex: classForSize[needed / 16], size: needed)
        } else {
            object = try allocateLarge(size: needed)
        }
        store64(classRef.raw & Self.classMask | Self.allocatedFlag, at: object)
        store32(UInt32(needed), at: object + 8)
        store32(UInt32(references), at: object + 12)
        store64(load64(Self.objectCountOffset) + 1, at: Self.objectCountOffset)
        store64(load64(Self.byteCountOffset) + UInt64(needed), at: Self.byteCountOffset)
        // During a cycle a new object is never freed by that cycle (black).
        if _slowPath(phase != .idle) { allocatedDuringCollection(object, classRef: classRef.raw & Self.classMask) }
        return ObjectRef(raw: object)
    }

    private func allocateSmall(classIndex: Int, size: Int) throws(MemoryError) -> UInt64 {
        let cellSize = UInt64(Self.sizeClasses[classIndex])
        let header = Self.classOffset(classIndex)
        let free = load64(header)
        if free != 0 {
            store64(load64(free + 8), at: header)  // pop
            zero(free, count: Int(cellSize))
            return free
        }
        var bump = load64(header + 8)
        var limit = load64(header + 16)
        if bump == 0 || bump + cellSize > limit {
            let chunk = try allocateRun(bytes: Self.chunkBytes)
            store32(ChunkKind.small.rawValue, at: chunk)
            store32(UInt32(classIndex), at: chunk + 4)
            store64(Self.chunkBytes, at: chunk + 8)
            bump = chunk + 16
            limit = chunk + Self.chunkBytes
            store64(limit, at: header + 16)
        }
        store64(bump + cellSize, at: header + 8)
        // Fresh cells are zero already (never handed out before).
        return bump
    }

    /// Returns a small object to its size class at once, for objects that
    /// the runtime knows nothing else references (a returned call frame).
    /// Large objects are left to the collector.
    public func free(_ object: ObjectRef) {
        let size = self.size(of: object)
        guard size <= 2048, load64(object.raw) & Self.allocatedFlag != 0 else { return }
        if phase == .sweeping && object.raw >= sweepCursor && object.raw < sweepEnd {
            // Not swept yet: the sweep links it when it gets there (the free
            // lists of a sweep hold only cells it has passed).
            store64(Self.freeFlag, at: object.raw)
            return
        }
        let header = Self.classOffset(classForSize[size / 16])
        store64(Self.freeFlag, at: object.raw)
        store64(load64(header), at: object.raw + 8)
        store64(object.raw, at: header)
    }

    private func allocateLarge(size: Int) throws(MemoryError) -> UInt64 {
        let bytes = (UInt64(size) + 16 + 4095) & ~4095
        let chunk = try allocateRun(bytes: bytes)
        store32(ChunkKind.large.rawValue, at: chunk)
        store32(0, at: chunk + 4)
        store64(bytes, at: chunk + 8)
        return chunk + 16
    }

    /// A run of whole pages: first fit from the free runs, else the heap end.
    /// The run is zeroed.
    private func allocateRun(bytes: UInt64) throws(MemoryError) -> UInt64 {
        var previous = Self.freeRunsOffset  // where the link to `run` is stored
        var run = load64(previous)
        while run != 0 {
            let runBytes = load64(run + 8)
            let next = load64(run + 16)
            if runBytes >= bytes {
                if runBytes - bytes >= 4096 {
                    // Split: the tail stays a free run.
                    let tail = run + bytes
                    store32(ChunkKind.free.rawValue, at: tail)
                    store32(0, at: tail + 4)
                    store64(runBytes - bytes, at: tail + 8)
                    store64(next, at: tail + 16)
                    store64(tail, at: previous)
                } else {
                    store64(next, at: previous)  // runs are whole pages: an exact fit
                }
                clearPages(run, bytes: bytes)
                return run
            }
            previous = run + 16
            run = next
        }
        let end = load64(Self.heapEndOffset)
        let capacity = UInt64(space.capacityPages) << 12
        guard end + bytes <= capacity else { throw .outOfMemory(requested: bytes, capacity: capacity) }
        store64(end + bytes, at: Self.heapEndOffset)
        // Memory past the heap end was never handed out: it is zero.
        return end
    }

    /// Makes whole pages read as zero, writing (and dirtying) only those that
    /// do not already: freed memory is a hole in the next snapshot
    /// (`PersistentSpace.clearPages`).
    func clearPages(_ offset: UInt64, bytes: UInt64) {
        guard bytes > 0 else { return }
        space.clearPages(Int(offset >> 12), count: Int(bytes >> 12))
    }

    @inline(__always) func zero(_ offset: UInt64, count: Int) {
        space.willWrite(offset: offset, length: count)
        (base + Int(offset)).initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }

    // MARK: - Statistics

    /// The first byte never handed out: the heap's extent.
    public var heapEnd: UInt64 { load64(Self.heapEndOffset) }
    /// Bytes allocated since the heap was created.
    public var bytesAllocated: UInt64 { load64(Self.byteCountOffset) }
    /// Objects allocated since the heap was created.
    public var objectsAllocated: UInt64 { load64(Self.objectCountOffset) }
    /// Garbage collections run since the heap was created.
    public var collections: UInt64 { load64(Self.collectionsOffset) }

    /// `bytesAllocated` when the last collection ended, and the live bytes
    /// it left: the collector's pacing, kept in the image so that a restart
    /// does not start the count again.
    public var lastCollection: (bytesAllocated: UInt64, liveBytes: UInt64) {
        get { (load64(Self.pacingAllocatedOffset), load64(Self.pacingLiveOffset)) }
        set {
            store64(newValue.bytesAllocated, at: Self.pacingAllocatedOffset)
            store64(newValue.liveBytes, at: Self.pacingLiveOffset)
        }
    }
}
