// The Phantom virtual machine: classes, threads and the world they live in,
// all in object memory, so that a snapshot holds the whole machine.
//
// The world (the memory's root object), reference slots:
// ```
//  0 class table (array of classes)      6 code class
//  1 threads (array)                      7 array class
//  2 boot object                          8 thread class
//  3 int class                            9 call frame class
//  4 string class                        10 boot class
//  5 class class                         11 object class
//                                        12 mutex class
//                                        13 directory class
//                                        14 string builder class
//                                        15 long class
//                                        16 float class
//                                        17 double class
//                                        18 condition class
//                                        19 kernel state (KernelClasses.swift)
// ```
// Plain words: 0 layout version, 8 system time (ns) at the last safepoint.
// docs/vm-objects.md draws every VM object.

import PhantomHost
import PhantomMemory

/// Kinds of internal classes: their methods are implemented in Swift.
public enum InternalKind: UInt64, Sendable {
    case none = 0, object, int, string, `class`, code, array, thread, frame, boot, mutex, directory, stringBuilder
    case long, float, double, cond
    /// A class whose methods the kernel serves (KernelClasses.swift).
    case kernel
}

/// A cached method lookup: the code object for (class, ordinal) and the
/// header fields a call needs.
struct CallCacheEntry {
    var cls: UInt64 = 0
    var ordinal = -1
    var target: UInt64 = 0
    var arguments = 0
    var maxObjects = 0
    var maxIntegers = 0
    /// Offset of the first bytecode byte in the space.
    var code = 0
}

/// Errors of the VM's host-side API (guest errors become guest exceptions).
public enum VMError: Error, CustomStringConvertible {
    case memory(MemoryError)
    case verify(VerifyError)
    case unknownClass(String)
    case unknownMethod(className: String, method: String)
    case badWorld(String)
    case notInstantiable(String)
    case reservedName(String)
    case internalParent(className: String, parent: String)
    case missingParents([String])

    public var description: String {
        switch self {
        case let .memory(error): return error.description
        case let .verify(error): return "bytecode rejected: \(error)"
        case let .unknownClass(name): return "no class named \(name) is installed"
        case let .unknownMethod(className, method): return "class \(className) has no method \(method)"
        case let .badWorld(reason): return "the image's VM state is not readable: \(reason)"
        case let .notInstantiable(name): return "\(name) objects are made by the VM, not with new"
        case let .reservedName(name): return "\(name): names starting with .internal. belong to the VM's own classes"
        case let .internalParent(name, parent): return "class \(name) cannot extend \(parent): kernel classes cannot be extended"
        case let .missingParents(list): return "missing parent classes: " + list.joined(separator: ", ")
        }
    }
}

/// A PVM over an object memory. Mutator thread only.
public final class VirtualMachine {
    public let memory: ObjectMemory
    /// The memory's persistent space, for the write barrier on the hot paths.
    let space: PersistentSpace
    /// Where `boot.16(x)` and `print` go (a transient connection).
    public var console: (String) -> Void

    // Well-known classes (cached from the world at boot).
    var intClass = ObjectRef.null
    var stringClass = ObjectRef.null
    var classClass = ObjectRef.null
    var codeClass = ObjectRef.null
    var arrayClass = ObjectRef.null
    var threadClass = ObjectRef.null
    var frameClass = ObjectRef.null
    var bootClass = ObjectRef.null
    var objectClass = ObjectRef.null
    var mutexClass = ObjectRef.null
    var directoryClass = ObjectRef.null
    var stringBuilderClass = ObjectRef.null
    var longClass = ObjectRef.null
    var floatClass = ObjectRef.null
    var doubleClass = ObjectRef.null
    var condClass = ObjectRef.null
    /// Class name -> class object (rebuilt at boot).
    var classesByName: [String: ObjectRef] = [:]
    /// Method lookups by (class, ordinal): transient, direct-mapped, and
    /// flushed whenever the collector has begun a sweep (a class object's
    /// address could then be reused).
    let callCache: UnsafeMutablePointer<CallCacheEntry>
    static let callCacheSize = 1024
    var callCacheSweeps: UInt64 = 0
    /// Handlers of the kernel classes, registered at every boot.
    var kernelHandlers: [ObjectRef: KernelClassHandler] = [:]
    /// During a slice: every frame of the running thread's chain at this
    /// depth or deeper has been marked dirty in the current epoch (which
    /// cannot change within a slice), so returning to it needs no barrier.
    var markedDepth: UInt32 = 0
    /// During a slice: the frames of the running thread's chain from
    /// `markedDepth` down to this depth (callee frames included: the spare
    /// chain) have been marked dirty, so calling into them needs no barrier.
    var markedHigh: UInt32 = 0
    /// The thread whose slice is running (null between slices).
    var currentThread = ObjectRef.null
    /// Work done in the running slice beyond its instructions, in
    /// instructions' worth (`charge(bytes:)`): the interpreter adds it to the
    /// slice's count after every call, so an instruction that copies or
    /// allocates megabytes ends its slice instead of starving the
    /// safepoints (snapshots, collection steps, stop requests).
    var sliceCost = 0
    /// Bytes an instruction may touch at the price of one instruction.
    static let freeBytesPerInstruction = 256
    /// Bytes of copying or zeroing that cost as much as one instruction
    /// (a simple instruction takes a few ns; memcpy moves ~10 bytes per ns).
    static let bytesPerCostUnit = 32
    /// Set where an allocation failed: the instruction was undone and the
    /// slice ended, so that the scheduler collects all garbage at the
    /// safepoint and runs the instruction again.
    var collectionRequested = false
    /// True while the instruction that asked for a collection runs again:
    /// failing once more, it raises "out of memory".
    var retryingAfterCollection = false
    /// When to collect garbage, and how much at a safepoint.
    var pacer = CollectionPacer()
    /// False: a slice counts instructions only, as before slices were
    /// bounded by cost (the peer of `phantom bench safepoint`; never for
    /// a running system).
    public var costAccounting = true
    /// Called at every safepoint of `run` (after each slice and its
    /// collection step): for benchmarks and tools.
    public var onSafepoint: (() -> Void)? = nil
    /// The id of the newest snapshot that is durable now (0: none), for the
    /// failure records (ThreadFailure.swift); the kernel sets it. Called
    /// only when a thread fails.
    public var durableSnapshotID: () -> UInt64 = { 0 }
    /// A failure record made in the running slice: the slice's end writes
    /// the thread's final instruction count into it.
    var failureAwaitingCount = ObjectRef.null
    /// Instructions run by every thread in this process (since this VM was
    /// opened), as of the end of the last slice.
    public internal(set) var instructionsRun: UInt64 = 0
    /// System time (see Scheduler.swift): the image's at boot, and the
    /// host's monotonic clock then.
    var systemNanosAtBoot: UInt64 = 0
    var hostNanosAtBoot: UInt64 = 0

    static let worldSlots = 20
    /// Version of the world's layout (the world's first plain word).
    static let worldVersion: UInt64 = 4
    /// The kernel state object's shape (world slot 19): word 0 is the boot count.
    static let kernelStateReferences = 8
    static let kernelStateBytes = 64

    /// Opens the VM of an object memory, creating the world on a new image.
    public init(memory: ObjectMemory, console: @escaping (String) -> Void = { print($0, terminator: "") }) throws(VMError) {
        self.memory = memory
        self.space = memory.space
        callCache = .allocate(capacity: Self.callCacheSize)
        callCache.initialize(repeating: CallCacheEntry(), count: Self.callCacheSize)
        self.console = console
        if memory.root.isNull {
            try createWorld()
        } else {
            try loadWorld()
        }
        memory.setWord(kernelState, at: 0, bootCount + 1)
        systemNanosAtBoot = memory.word(world, at: 8)
        hostNanosAtBoot = HostClock.monotonicNanos()
    }

    deinit { callCache.deallocate() }

    /// Forgets every cached method lookup.
    func flushCallCache() {
        callCache.update(repeating: CallCacheEntry(), count: Self.callCacheSize)
        callCacheSweeps = memory.sweepsBegun
    }

    var world: ObjectRef { memory.root }

    private func createWorld() throws(VMError) {
        let world = try allocate(.null, references: Self.worldSlots, bytes: 16)
        memory.setWord(world, at: 0, Self.worldVersion)
        memory.root = world
        memory.setReference(world, 0, try newTable(capacity: 16))
        memory.setReference(world, 1, try newTable(capacity: 4))
        let names: [(Int, String, InternalKind)] = [
            (3, ".internal.int", .int), (4, ".internal.string", .string), (5, ".internal.class", .class),
            (6, ".internal.code", .code), (7, ".internal.array", .array), (8, ".internal.thread", .thread),
            (9, ".internal.call_frame", .frame), (10, ".internal.boot", .boot), (11, ".internal.object", .object),
            (12, ".internal.mutex", .mutex), (13, ".internal.directory", .directory),
            (14, ".internal.string_builder", .stringBuilder), (15, ".internal.long", .long),
            (16, ".internal.float", .float), (17, ".internal.double", .double), (18, ".internal.cond", .cond),
        ]
        // Class objects first (their class, the class class, does not exist
        // yet), then their headers and names.
        for (slot, _, kind) in names {
            let cls = try allocate(.null, references: 4, bytes: 16)
            memory.setWord(cls, at: 8, kind.rawValue)
            memory.setReference(world, slot, cls)
        }
        try cacheWellKnown()
        for (slot, name, _) in names {
            let cls = memory.reference(world, slot)
            memory.setClass(cls, classClass)
            memory.setReference(cls, 0, try newString(name))
            memory.setReference(cls, 1, try newTable(capacity: 1))
            try registerClass(cls, name: name)
        }
        memory.setReference(world, 2, try allocate(bootClass, references: 0, bytes: 0))
        memory.setReference(world, 19, try allocate(.null, references: Self.kernelStateReferences, bytes: Self.kernelStateBytes))
    }

    private func loadWorld() throws(VMError) {
        let world = self.world
        guard memory.isValidObject(world), memory.size(of: world) >= 16 + 8 * memory.referenceCount(of: world) + 8 else {
            throw .badWorld("the root object is not a PVM world")
        }
        let version = memory.word(world, at: 0)
        guard version == Self.worldVersion else { throw .badWorld("world layout version \(version); this build reads \(Self.worldVersion)") }
        guard memory.referenceCount(of: world) == Self.worldSlots, memory.size(of: world) >= 16 + 8 * Self.worldSlots + 16 else {
            throw .badWorld("the root object is not a PVM world")
        }
        for slot in 0..<Self.worldSlots where slot != 2 || !memory.reference(world, slot).isNull {
            guard memory.isValidObject(memory.reference(world, slot)) else { throw .badWorld("world slot \(slot) does not hold an object") }
        }
        guard memory.referenceCount(of: kernelState) >= Self.kernelStateReferences,
              memory.size(of: kernelState) >= 16 + 8 * Self.kernelStateReferences + Self.kernelStateBytes else {
            throw .badWorld("the kernel state object is damaged")
        }
        try cacheWellKnown()
        // The count word is read as unsigned: a damaged one may be >= 2^63.
        let table = memory.reference(world, 0)
        guard memory.size(of: table) >= 16 + 8 * memory.referenceCount(of: table) + 8,
              memory.word(table, at: 0) <= UInt64(memory.referenceCount(of: table)) else {
            throw .badWorld("the class table is damaged")
        }
        for index in 0..<tableCount(table) {
            let cls = tableGet(table, index)
            if cls.isNull { continue }
            guard memory.isValidObject(cls), memory.referenceCount(of: cls) >= 3, memory.isValidObject(memory.reference(cls, 0)) else {
                throw .badWorld("class table entry \(index) is damaged")
            }
            classesByName[string(memory.reference(cls, 0))] = cls
        }
    }

    private func cacheWellKnown() throws(VMError) {
        let world = self.world
        intClass = memory.reference(world, 3)
        stringClass = memory.reference(world, 4)
        classClass = memory.reference(world, 5)
        codeClass = memory.reference(world, 6)
        arrayClass = memory.reference(world, 7)
        threadClass = memory.reference(world, 8)
        frameClass = memory.reference(world, 9)
        bootClass = memory.reference(world, 10)
        objectClass = memory.reference(world, 11)
        mutexClass = memory.reference(world, 12)
        directoryClass = memory.reference(world, 13)
        stringBuilderClass = memory.reference(world, 14)
        longClass = memory.reference(world, 15)
        floatClass = memory.reference(world, 16)
        doubleClass = memory.reference(world, 17)
        condClass = memory.reference(world, 18)
    }

    /// The boot object passed to programs' `run`.
    public var bootObject: ObjectRef { memory.reference(world, 2) }

    func registerClass(_ cls: ObjectRef, name: String) throws(VMError) {
        let table = memory.reference(world, 0)
        var replaced = false
        for index in 0..<tableCount(table) where !tableGet(table, index).isNull {
            if string(memory.reference(tableGet(table, index), 0)) == name {
                tableSet(table, index, cls)
                replaced = true
            }
        }
        if !replaced { try tableAppend(holder: world, slot: 0, cls) }
        classesByName[name] = cls
    }

    // MARK: - Installing classes

    /// Verifies a class file and installs it (replacing a class of the same
    /// name for new instances); returns the class object.
    @discardableResult
    public func install(_ file: ClassFile) throws(VMError) -> ObjectRef {
        guard !file.name.hasPrefix(".internal.") else { throw .reservedName(file.name) }
        var parent = ObjectRef.null
        if !file.parent.isEmpty {
            guard let found = classesByName[file.parent] else { throw .unknownClass(file.parent) }
            // A kernel class's word 0 is its instance shape, not a field
            // count, and its objects belong to the kernel: no subclasses.
            // (Other internal classes may be extended; their subclasses are
            // plain user classes, docs/internal-classes.md.)
            guard kind(of: found) != .kernel else { throw .internalParent(className: file.name, parent: file.parent) }
            parent = found
        }
        do { try Verifier.verify(file, inheritedFields: totalFields(parent)) } catch { throw .verify(error) }
        let cls = try allocate(classClass, references: 4, bytes: 16)
        memory.setWord(cls, at: 0, UInt64(file.fields.count))
        memory.setWord(cls, at: 8, InternalKind.none.rawValue)
        memory.setReference(cls, 0, try newString(file.name))
        memory.setReference(cls, 2, parent)
        // Field names, for tools (phantom inspect): class ref 3.
        let names = try newTable(capacity: max(1, file.fields.count))
        for (index, field) in file.fields.enumerated() { memory.setReference(names, index, try newString(field)) }
        memory.setWord(names, at: 0, UInt64(file.fields.count))
        memory.setReference(cls, 3, names)
        let size = (file.methods.map(\.ordinal).max() ?? -1) + 1
        let methods = try newTable(capacity: max(size, 1))
        memory.setWord(methods, at: 0, UInt64(size))
        memory.setReference(cls, 1, methods)
        for method in file.methods {
            let code = try makeCode(method, owner: cls)
            memory.setReference(methods, method.ordinal, code)
        }
        try registerClass(cls, name: file.name)
        return cls
    }

    /// Installs a set of classes in any order: parents before children, in
    /// as many passes as needed. A parent in the same set goes first even
    /// when an older version of it is installed already, so that a
    /// reinstalled child extends the new one.
    public func install(_ files: [ClassFile]) throws(VMError) {
        var pending = files
        while !pending.isEmpty {
            var progress = false
            var next: [ClassFile] = []
            let waiting = Set(pending.map(\.name))
            for file in pending {
                if file.parent.isEmpty || (!waiting.contains(file.parent) && classesByName[file.parent] != nil) {
                    try install(file)
                    progress = true
                } else {
                    next.append(file)
                }
            }
            if !progress { throw .missingParents(next.map { "\($0.name) extends \($0.parent)" }) }
            pending = next
        }
    }

    /// Code object: refs [owner class, name, constants array]; bytes
    /// [arguments u32, max objects u32, max integers u32, code length u32,
    /// line count u32, 0 u32, code..., (ip u32, line u32) * lines].
    private func makeCode(_ method: MethodFile, owner: ObjectRef) throws(VMError) -> ObjectRef {
        let bytes = 24 + method.code.count + method.lines.count * 8
        let code = try allocate(codeClass, references: 3, bytes: bytes)
        memory.setReference(code, 0, owner)
        memory.setReference(code, 1, try newString(method.name))
        let constants = try newTable(capacity: max(1, method.constants.count))
        for (index, text) in method.constants.enumerated() { memory.setReference(constants, index, try newString(text)) }
        memory.setWord(constants, at: 0, UInt64(method.constants.count))
        memory.setReference(code, 2, constants)
        var header: [UInt32] = [UInt32(method.arguments), UInt32(method.maxObjectStack), UInt32(method.maxIntegerStack),
                                UInt32(method.code.count), UInt32(method.lines.count), 0]
        header.withUnsafeBytes { memory.setBytes(code, at: 0, $0) }
        Self.quicken(method.code).withUnsafeBytes { memory.setBytes(code, at: 24, $0) }
        var table: [UInt32] = []
        for entry in method.lines { table += [UInt32(entry.ip), UInt32(entry.line)] }
        table.withUnsafeBytes { memory.setBytes(code, at: 24 + method.code.count, $0) }
        header.removeAll()
        return code
    }

    /// The class object of an installed class.
    public func classNamed(_ name: String) -> ObjectRef? { classesByName[name] }

    /// The method (code object) with a given name in a class or its parents.
    public func method(named name: String, in cls: ObjectRef) -> ObjectRef? {
        var current = cls
        while !current.isNull {
            let methods = memory.reference(current, 1)
            if !methods.isNull {
                for index in 0..<tableCount(methods) {
                    let code = tableGet(methods, index)
                    if !code.isNull && string(memory.reference(code, 1)) == name { return code }
                }
            }
            current = memory.reference(current, 2)
        }
        return nil
    }

    // MARK: - Objects the VM makes

    @inline(__always) func allocate(_ cls: ObjectRef, references: Int, bytes: Int) throws(VMError) -> ObjectRef {
        charge(bytes: references &* 8 &+ bytes)
        do { return try memory.allocate(class: cls, references: references, bytes: bytes) } catch { throw .memory(error) }
    }

    /// Charges the running slice for touching `bytes` bytes (copying,
    /// zeroing, scanning) beyond what one instruction may.
    @inline(__always) func charge(bytes: Int) {
        if bytes > Self.freeBytesPerInstruction && costAccounting { sliceCost &+= bytes / Self.bytesPerCostUnit }
    }

    /// A string object: bytes [length u64, UTF-8...].
    public func newString(_ text: String) throws(VMError) -> ObjectRef {
        let utf8 = Array(text.utf8)
        return try newString(bytes: utf8)
    }

    func newString(bytes: [UInt8]) throws(VMError) -> ObjectRef {
        try withBytes(bytes) { (raw) throws(VMError) in try newString(raw) }
    }

    /// `withUnsafeBytes` for a body with typed throws.
    func withBytes<T>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(VMError) -> T) throws(VMError) -> T {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(VMError) -> T in try body(raw) } }
        return try result.get()
    }

    /// A string object of the concatenated pieces (each read before the
    /// allocation: a piece may lie in the heap, which does not move).
    func newString(_ pieces: UnsafeRawBufferPointer...) throws(VMError) -> ObjectRef {
        let total = pieces.reduce(0) { $0 + $1.count }
        charge(bytes: total)
        let object = try allocate(stringClass, references: 0, bytes: 8 + total)
        memory.setWord(object, at: 0, UInt64(total))
        var offset = 8
        for piece in pieces {
            memory.setBytes(object, at: offset, piece)
            offset += piece.count
        }
        return object
    }

    /// The UTF-8 bytes of a string object, in the heap (valid until the
    /// next allocation may free it: callers keep the string referenced).
    func stringBytes(_ object: ObjectRef) -> UnsafeRawBufferPointer {
        guard !object.isNull, object.raw & 1 == 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let raw = memory.bytes(object)
        // A damaged string (or another object in its place): no length word,
        // or a length word >= 2^63.
        guard raw.count >= 8 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let length = Int(min(memory.word(object, at: 0), UInt64(raw.count - 8)))
        return UnsafeRawBufferPointer(rebasing: raw[8..<(8 + length)])
    }

    /// The text of a string object.
    public func string(_ object: ObjectRef) -> String {
        String(decoding: stringBytes(object), as: UTF8.self)
    }

    /// A table, the VM's own list (class table, threads, methods, constants,
    /// catchers): no class, refs = capacity slots; bytes [count u64]. Guests
    /// never see tables; their arrays are `.internal.array` objects (below).
    func newTable(capacity: Int) throws(VMError) -> ObjectRef {
        try allocate(.null, references: capacity, bytes: 8)
    }
    @inline(__always) func tableCount(_ array: ObjectRef) -> Int { Int(memory.word(array, at: 0)) }
    @inline(__always) func tableGet(_ array: ObjectRef, _ index: Int) -> ObjectRef { memory.reference(array, index) }
    @inline(__always) func tableSet(_ array: ObjectRef, _ index: Int, _ value: ObjectRef) { memory.setReference(array, index, value) }

    /// Appends to the array in `holder`'s slot, growing it (a new array) when full.
    func tableAppend(holder: ObjectRef, slot: Int, _ value: ObjectRef) throws(VMError) {
        var array = memory.reference(holder, slot)
        let count = tableCount(array)
        if count == memory.referenceCount(of: array) {
            let grown = try newTable(capacity: max(4, count * 2))
            for index in 0..<count { tableSet(grown, index, tableGet(array, index)) }
            memory.setWord(grown, at: 0, UInt64(count))
            memory.setReference(holder, slot, grown)
            array = grown
        }
        tableSet(array, count, value)
        memory.setWord(array, at: 0, UInt64(count + 1))
    }

    // MARK: - Guest arrays
    //
    // `.internal.array`: refs [0 storage]; bytes [count u64]. The storage is
    // a plain object whose references are the elements; it is replaced by a
    // bigger one when the array grows, so the array keeps its identity.

    func newGuestArray(capacity: Int = 4) throws(VMError) -> ObjectRef {
        let array = try allocate(arrayClass, references: 1, bytes: 8)
        memory.setReference(array, 0, try allocate(.null, references: max(1, capacity), bytes: 0))
        return array
    }
    func guestArrayCount(_ array: ObjectRef) -> Int { Int(memory.word(array, at: 0)) }
    func guestArrayGet(_ array: ObjectRef, _ index: Int) -> ObjectRef { memory.reference(memory.reference(array, 0), index) }

    /// Sets element `index`, growing the array (with nulls) if it lies at
    /// or past the end.
    func guestArraySet(_ array: ObjectRef, _ index: Int, _ value: ObjectRef) throws(VMError) {
        var storage = memory.reference(array, 0)
        let count = guestArrayCount(array)
        if index >= memory.referenceCount(of: storage) {
            let grown = try allocate(.null, references: max(index + 1, memory.referenceCount(of: storage) * 2), bytes: 0)
            for slot in 0..<count { memory.setReference(grown, slot, memory.reference(storage, slot)) }
            memory.setReference(array, 0, grown)
            storage = grown
        }
        memory.setReference(storage, index, value)
        if index >= count { memory.setWord(array, at: 0, UInt64(index + 1)) }
    }

    // MARK: - Tagged integers

    /// An integer as an object: tagged (low bit 1), no allocation. Its class is `.internal.int`.
    @inline(__always) static func box(_ value: Int32) -> ObjectRef {
        ObjectRef(raw: UInt64(bitPattern: Int64(value) << 1) | 1)
    }
    @inline(__always) static func isInt(_ object: ObjectRef) -> Bool { object.raw & 1 == 1 }
    @inline(__always) static func unbox(_ object: ObjectRef) -> Int32 {
        Int32(truncatingIfNeeded: Int64(bitPattern: object.raw) >> 1)
    }

    /// The class of any value, tagged integers included.
    @inline(__always) func classOf(_ object: ObjectRef) -> ObjectRef {
        if Self.isInt(object) { return intClass }
        return object.isNull ? .null : memory.classOf(object)
    }

    /// The internal kind of a class (none for user classes).
    func kind(of cls: ObjectRef) -> InternalKind {
        guard !cls.isNull else { return .none }
        return InternalKind(rawValue: memory.word(cls, at: 8)) ?? .none
    }

    /// The first header words of a code object (see `makeCode`): arguments,
    /// deepest object stack, deepest integer stack.
    @inline(__always)
    func codeShape(_ code: ObjectRef) -> (arguments: Int, maxObjects: Int, maxIntegers: Int) {
        let first = memory.word(code, at: 0)
        return (Int(first & 0xFFFF_FFFF), Int(first >> 32), Int(memory.word(code, at: 8) & 0xFFFF_FFFF))
    }

    /// A class's name.
    public func className(_ cls: ObjectRef) -> String { cls.isNull ? "null" : string(memory.reference(cls, 0)) }

    /// The names of the fields of an object of class `cls`, parents' first
    /// (empty names where a class does not record them).
    public func fieldNames(_ cls: ObjectRef) -> [String] {
        var chain: [ObjectRef] = []
        var current = cls
        while !current.isNull && kind(of: current) == .none { chain.append(current); current = memory.reference(current, 2) }
        var names: [String] = []
        for owner in chain.reversed() {
            let count = Int(memory.word(owner, at: 0))
            let table = memory.referenceCount(of: owner) > 3 ? memory.reference(owner, 3) : .null
            for index in 0..<count { names.append(table.isNull || index >= tableCount(table) ? "" : string(tableGet(table, index))) }
        }
        return names
    }

    /// The internal kind's name of a class ("" for user classes).
    public func isUserClass(_ cls: ObjectRef) -> Bool { !cls.isNull && kind(of: cls) == .none }

    /// Text for any value: strings as they are, integers in decimal.
    public func describe(_ value: ObjectRef) -> String {
        if Self.isInt(value) { return String(Self.unbox(value)) }
        if value.isNull { return "null" }
        let cls = memory.classOf(value)
        if cls == stringClass { return string(value) }
        if let type = numericType(of: value) { return numericText(value, type) }
        return "<\(className(cls)) \(value)>"
    }
}
