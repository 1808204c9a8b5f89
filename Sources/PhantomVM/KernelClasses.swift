// Kernel classes: internal classes whose methods the kernel (the layer above
// the VM) implements, such as `.internal.connection`. The class object is
// persistent like any other (created once, in the class table); the Swift
// handler that serves its methods is transient and registered again at
// every boot, so a restart re-binds every kernel object to the new process.
//
// The VM also keeps, for the kernel, one persistent object in world slot 19
// (`kernelState`) and counts boots there.

import PhantomMemory

/// Serves the methods of one kernel class.
public protocol KernelClassHandler: AnyObject {
    /// Method `ordinal` of `receiver` (an instance of the class) with
    /// `arguments`, called by `thread`.
    func call(_ vm: VirtualMachine, receiver: ObjectRef, ordinal: Int, arguments: [ObjectRef], thread: ObjectRef) -> CallOutcome
    /// Whether a thread blocked on `awaited` (an instance of the class) may
    /// run its call again.
    func isReady(_ vm: VirtualMachine, awaited: ObjectRef, thread: ObjectRef) -> Bool
}

extension VirtualMachine {
    /// Makes (on a new image) or finds the kernel class `name` and binds its
    /// methods to `handler` for this process. `instanceReferences` and
    /// `instanceBytes` are the shape `new` gives its instances.
    @discardableResult
    public func registerKernelClass(_ name: String, instanceReferences: Int, instanceBytes: Int, handler: KernelClassHandler) throws(VMError) -> ObjectRef {
        guard name.hasPrefix(".internal.") else { throw .reservedName(name) }
        let cls: ObjectRef
        if let existing = classesByName[name] {
            guard kind(of: existing) == .kernel else { throw .badWorld("\(name) is not a kernel class") }
            cls = existing
        } else {
            cls = try allocate(classClass, references: 4, bytes: 16)
            memory.setWord(cls, at: 8, InternalKind.kernel.rawValue)
            memory.setReference(cls, 0, try newString(name))
            memory.setReference(cls, 1, try newTable(capacity: 1))
            try registerClass(cls, name: name)
        }
        // Instance shape: word 0 of a kernel class holds refs | bytes << 32.
        memory.setWord(cls, at: 0, UInt64(instanceReferences) | UInt64(instanceBytes) << 32)
        kernelHandlers[cls] = handler
        return cls
    }

    /// The kernel's persistent object (world slot 19): references and bytes
    /// the kernel lays out as it likes; the VM only counts boots in its
    /// first word.
    public var kernelState: ObjectRef { memory.reference(world, 19) }

    /// How many times this image has been booted (this boot included).
    public var bootCount: UInt64 { memory.word(kernelState, at: 0) }

    /// An instance of a kernel class (as `new` makes it).
    func instantiateKernelObject(_ cls: ObjectRef) throws(VMError) -> ObjectRef {
        let shape = memory.word(cls, at: 0)
        return try allocate(cls, references: Int(shape & 0xFFFF_FFFF), bytes: Int(shape >> 32))
    }

    /// A call of a kernel class's method.
    func callKernel(_ receiver: ObjectRef, cls: ObjectRef, ordinal: Int, arguments: [ObjectRef]) -> CallOutcome {
        guard let handler = kernelHandlers[cls] else {
            return .raise("\(className(cls)) is not available in this system")
        }
        return handler.call(self, receiver: receiver, ordinal: ordinal, arguments: arguments, thread: currentThread)
    }

    /// Whether a thread blocked on an instance of a kernel class may go on.
    func kernelObjectIsReady(_ awaited: ObjectRef, cls: ObjectRef, thread: ObjectRef) -> Bool {
        guard let handler = kernelHandlers[cls] else { return true }
        return handler.isReady(self, awaited: awaited, thread: thread)
    }

    // MARK: - Values, for kernel handlers

    /// A new string object.
    public func makeString(_ text: String) throws(VMError) -> ObjectRef { try newString(text) }
    /// The text of a string object, nil for anything else.
    public func text(of value: ObjectRef) -> String? {
        guard !value.isNull, !Self.isInt(value), classOf(value) == stringClass else { return nil }
        return string(value)
    }
    /// A tagged integer.
    public static func integer(_ value: Int32) -> ObjectRef { box(value) }
    /// The value of a tagged integer, nil for anything else.
    public static func integerValue(_ value: ObjectRef) -> Int32? { isInt(value) ? unbox(value) : nil }
    /// A new `.internal.long`.
    public func makeLong(_ value: Int64) throws(VMError) -> ObjectRef { try box(value, as: .long) }
    /// A long or an int as Int64, nil for anything else.
    public func longValue(_ value: ObjectRef) -> Int64? {
        if Self.isInt(value) { return Int64(Self.unbox(value)) }
        if numericType(of: value) == .long { return Int64(bitPattern: memory.word(value, at: 0)) }
        return nil
    }
    /// A plain object (no class) with reference slots and bytes, for kernel bookkeeping.
    public func makeRecord(references: Int, bytes: Int) throws(VMError) -> ObjectRef {
        try allocate(.null, references: references, bytes: bytes)
    }
    /// A new `.internal.directory`.
    public func makeDirectory() throws(VMError) -> ObjectRef { try instantiate(directoryClass) }
    /// `directory.get(key)`.
    public func directoryValue(_ directory: ObjectRef, key: ObjectRef) -> ObjectRef {
        directoryFind(directory, key: key).map { memory.reference(directoryTable(directory), $0 + 1) } ?? .null
    }
    /// `directory.put(key, value)`; returns the previous value.
    @discardableResult
    public func setDirectoryValue(_ directory: ObjectRef, key: ObjectRef, value: ObjectRef) throws(VMError) -> ObjectRef {
        try directoryPut(directory, key: key, value: value)
    }
    /// `directory.remove(key)`.
    @discardableResult
    public func removeDirectoryValue(_ directory: ObjectRef, key: ObjectRef) -> ObjectRef { directoryRemove(directory, key: key) }
    /// The keys of a directory, in table order.
    public func directoryKeys(_ directory: ObjectRef) -> [ObjectRef] {
        let table = directoryTable(directory)
        return stride(from: 0, to: memory.referenceCount(of: table), by: 2).map { memory.reference(table, $0) }.filter { !$0.isNull }
    }
    /// True for a `.internal.directory`.
    public func isDirectory(_ value: ObjectRef) -> Bool {
        !value.isNull && !Self.isInt(value) && classOf(value) == directoryClass
    }
    /// A guest array of these values.
    public func makeArray(_ values: [ObjectRef]) throws(VMError) -> ObjectRef {
        let array = try newGuestArray(capacity: max(1, values.count))
        for (index, value) in values.enumerated() { try guestArraySet(array, index, value) }
        return array
    }
    /// The class of any value (`.internal.int` for an integer, null for null).
    public func classOfValue(_ value: ObjectRef) -> ObjectRef { classOf(value) }
}
