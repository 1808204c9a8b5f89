// The one table of the internal classes' methods (docs/internal-classes.md):
// for each class its name, whether `new` makes instances, and its methods by
// ordinal, name, parameter types and result type. The VM's `callInternal`
// switches on the ordinal enums below; the compiler builds its symbol table
// (`InternalClassTable`) from `InternalMethods.classes`. An ordinal is
// changed in one place: its enum case.
//
// Ordinals 0-6 are the universal methods every object has (7 is reserved);
// class methods start at 8.

/// A value type in an internal method's signature, as the compiler sees it.
public enum InternalValueType: Sendable, Equatable {
    /// No value (the call's result is null).
    case void
    /// A 32-bit integer.
    case int
    /// An object of any class.
    case any
    /// An object of the internal class of this name.
    case object(String)

    /// A `.internal.string`.
    public static let string = InternalValueType.object(InternalMethods.string)
}

/// One method of an internal class.
public struct InternalMethod: Sendable {
    /// The name a program calls it by.
    public let name: String
    /// Its ordinal (`call ORDINAL N`).
    public let ordinal: Int
    /// Parameter types (a variadic method takes any number of any values).
    public let parameters: [InternalValueType]
    /// The result type.
    public let result: InternalValueType
    /// True if it takes any number of arguments (`boot.print`).
    public let variadic: Bool
    /// An instruction the compiler emits instead of a call
    /// (`mutex.lock()` is `general_lock`), nil for a call.
    public let instruction: Opcode?

    init(_ name: String, _ ordinal: Int, _ parameters: [InternalValueType], _ result: InternalValueType,
         variadic: Bool = false, instruction: Opcode? = nil) {
        self.name = name
        self.ordinal = ordinal
        self.parameters = parameters
        self.result = result
        self.variadic = variadic
        self.instruction = instruction
    }
}

/// An internal class and the methods a program may call by name.
public struct InternalClass: Sendable {
    /// The full name (`.internal.string`).
    public let name: String
    /// True if `new` makes instances of it.
    public let instantiable: Bool
    /// Its methods beyond the universal ones.
    public let methods: [InternalMethod]
}

/// The universal methods (every object answers them; user classes may override).
public enum UniversalMethod: Int, CaseIterable, Sendable {
    case construct = 0, destruct, getClass, clone, equals, toString, hashCode
}

/// `.internal.string`.
public enum StringMethod: Int, CaseIterable, Sendable { case length = 8, concat, charAt, substring }
/// `.internal.array`.
public enum ArrayMethod: Int, CaseIterable, Sendable { case get = 8, set, size, append }
/// `.internal.directory`.
public enum DirectoryMethod: Int, CaseIterable, Sendable { case put = 8, get, remove, size, containsKey, keys }
/// `.internal.string_builder`.
public enum StringBuilderMethod: Int, CaseIterable, Sendable { case append = 8, toString, length, clear }
/// `.internal.thread`.
public enum ThreadMethod: Int, CaseIterable, Sendable { case join = 8, state, sleep }
/// `.internal.mutex` (a program's `lock()`/`unlock()` compile to `general_lock`/`general_unlock`).
public enum MutexMethod: Int, CaseIterable, Sendable { case lock = 8, unlock }
/// `.internal.cond`.
public enum ConditionMethod: Int, CaseIterable, Sendable { case wait = 8, signal, broadcast }
/// `.internal.long`, `.internal.float`, `.internal.double`.
public enum NumberMethod: Int, CaseIterable, Sendable { case intValue = 8 }
/// `.internal.boot`.
public enum BootMethod: Int, CaseIterable, Sendable { case print = 16, spawn }
/// `.internal.connection` (served by the kernel, docs/connections.md).
public enum ConnectionMethod: Int, CaseIterable, Sendable {
    case connect = 8, disconnect, block = 13, read, write, restarts, name
}
/// `.internal.namespace` (served by the kernel).
public enum NamespaceMethod: Int, CaseIterable, Sendable { case bind = 8, lookup, unbind, list }

/// The internal classes and their signatures.
public enum InternalMethods {
    public static let object = ".internal.object"
    public static let string = ".internal.string"
    public static let array = ".internal.array"
    public static let directory = ".internal.directory"
    public static let stringBuilder = ".internal.string_builder"
    public static let thread = ".internal.thread"
    public static let mutex = ".internal.mutex"
    public static let boot = ".internal.boot"
    public static let int = ".internal.int"
    public static let classClass = ".internal.class"
    public static let cond = ".internal.cond"

    /// Every internal class, with the methods a program may call by name.
    public static let classes: [InternalClass] = [
        InternalClass(name: object, instantiable: true, methods: []),
        InternalClass(name: int, instantiable: true, methods: []),
        InternalClass(name: classClass, instantiable: false, methods: []),
        InternalClass(name: ".internal.code", instantiable: false, methods: []),
        InternalClass(name: ".internal.call_frame", instantiable: false, methods: []),
        InternalClass(name: string, instantiable: true, methods: [
            InternalMethod("length", StringMethod.length.rawValue, [], .int),
            InternalMethod("concat", StringMethod.concat.rawValue, [.any], .string),
            InternalMethod("charAt", StringMethod.charAt.rawValue, [.int], .int),
            InternalMethod("substring", StringMethod.substring.rawValue, [.int, .int], .string),
        ]),
        InternalClass(name: array, instantiable: true, methods: [
            InternalMethod("get", ArrayMethod.get.rawValue, [.int], .any),
            InternalMethod("set", ArrayMethod.set.rawValue, [.int, .any], .void),
            InternalMethod("size", ArrayMethod.size.rawValue, [], .int),
            InternalMethod("append", ArrayMethod.append.rawValue, [.any], .void),
        ]),
        InternalClass(name: directory, instantiable: true, methods: [
            InternalMethod("put", DirectoryMethod.put.rawValue, [.any, .any], .any),
            InternalMethod("get", DirectoryMethod.get.rawValue, [.any], .any),
            InternalMethod("remove", DirectoryMethod.remove.rawValue, [.any], .any),
            InternalMethod("size", DirectoryMethod.size.rawValue, [], .int),
            InternalMethod("containsKey", DirectoryMethod.containsKey.rawValue, [.any], .int),
            InternalMethod("keys", DirectoryMethod.keys.rawValue, [], .object(array)),
        ]),
        InternalClass(name: stringBuilder, instantiable: true, methods: [
            InternalMethod("append", StringBuilderMethod.append.rawValue, [.any], .object(stringBuilder)),
            InternalMethod("toString", StringBuilderMethod.toString.rawValue, [], .string),
            InternalMethod("length", StringBuilderMethod.length.rawValue, [], .int),
            InternalMethod("clear", StringBuilderMethod.clear.rawValue, [], .object(stringBuilder)),
        ]),
        InternalClass(name: ".internal.long", instantiable: false, methods: []),
        InternalClass(name: ".internal.float", instantiable: false, methods: []),
        InternalClass(name: ".internal.double", instantiable: false, methods: []),
        InternalClass(name: thread, instantiable: false, methods: [
            InternalMethod("join", ThreadMethod.join.rawValue, [], .any),
            InternalMethod("state", ThreadMethod.state.rawValue, [], .int),
            InternalMethod("sleep", ThreadMethod.sleep.rawValue, [.int], .void),
        ]),
        InternalClass(name: cond, instantiable: true, methods: [
            InternalMethod("wait", ConditionMethod.wait.rawValue, [.object(mutex)], .void),
            InternalMethod("signal", ConditionMethod.signal.rawValue, [], .void),
            InternalMethod("broadcast", ConditionMethod.broadcast.rawValue, [], .void),
        ]),
        InternalClass(name: mutex, instantiable: true, methods: [
            InternalMethod("lock", MutexMethod.lock.rawValue, [], .void, instruction: .generalLock),
            InternalMethod("unlock", MutexMethod.unlock.rawValue, [], .void, instruction: .generalUnlock),
        ]),
        InternalClass(name: boot, instantiable: true, methods: [
            InternalMethod("print", BootMethod.print.rawValue, [], .void, variadic: true),
            InternalMethod("putws", BootMethod.print.rawValue, [.string], .void),
            InternalMethod("spawn", BootMethod.spawn.rawValue, [.any, .string], .object(thread)),
        ]),
        // Kernel classes (docs/connections.md).
        InternalClass(name: ".internal.connection", instantiable: true, methods: [
            InternalMethod("connect", ConnectionMethod.connect.rawValue, [.string], .void),
            InternalMethod("disconnect", ConnectionMethod.disconnect.rawValue, [], .void),
            InternalMethod("block", ConnectionMethod.block.rawValue, [.any, .int], .any),
            InternalMethod("read", ConnectionMethod.read.rawValue, [], .any),
            InternalMethod("write", ConnectionMethod.write.rawValue, [.any], .void),
            InternalMethod("restarts", ConnectionMethod.restarts.rawValue, [], .int),
            InternalMethod("name", ConnectionMethod.name.rawValue, [], .string),
        ]),
        InternalClass(name: ".internal.namespace", instantiable: true, methods: [
            InternalMethod("bind", NamespaceMethod.bind.rawValue, [.string, .any], .any),
            InternalMethod("lookup", NamespaceMethod.lookup.rawValue, [.string], .any),
            InternalMethod("unbind", NamespaceMethod.unbind.rawValue, [.string], .any),
            InternalMethod("list", NamespaceMethod.list.rawValue, [.string], .any),
        ]),
    ]
}
