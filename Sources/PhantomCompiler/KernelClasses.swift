// The VM's internal classes as the compiler sees them: their names, their
// methods by name with the ordinals of docs/internal-classes.md, and the
// universal methods (ordinals 0-6) every object has. A call by name on an
// internal object compiles to `call ORDINAL N`, exactly as for user classes.

enum KernelClasses {
    static let object = ".internal.object"
    static let string = ".internal.string"
    static let array = ".internal.array"
    static let directory = ".internal.directory"
    static let stringBuilder = ".internal.string_builder"
    static let thread = ".internal.thread"
    static let mutex = ".internal.mutex"
    static let boot = ".internal.boot"
    static let int = ".internal.int"
    static let classClass = ".internal.class"
    static let cond = ".internal.cond"

    /// One entry of an internal class's method table.
    private struct Entry {
        let name: String
        let ordinal: Int
        let parameters: [ValueType]
        let result: ValueType
        var kind: MethodKind = .call
        var variadic = false
    }

    /// The internal classes of this VM (docs/internal-classes.md), with the
    /// methods that a program may call by name.
    static func make() -> [ClassSymbol] {
        let table: [(String, Bool, [Entry])] = [
            (object, true, []),
            (int, true, []),
            (classClass, false, []),
            (".internal.code", false, []),
            (".internal.call_frame", false, []),
            (string, true, [
                Entry(name: "length", ordinal: 8, parameters: [], result: .int),
                Entry(name: "concat", ordinal: 9, parameters: [.any], result: .string),
                Entry(name: "charAt", ordinal: 10, parameters: [.int], result: .int),
                Entry(name: "substring", ordinal: 11, parameters: [.int, .int], result: .string),
            ]),
            (array, true, [
                Entry(name: "get", ordinal: 8, parameters: [.int], result: .any),
                Entry(name: "set", ordinal: 9, parameters: [.int, .any], result: .void),
                Entry(name: "size", ordinal: 10, parameters: [], result: .int),
                Entry(name: "append", ordinal: 11, parameters: [.any], result: .void),
            ]),
            (directory, true, [
                Entry(name: "put", ordinal: 8, parameters: [.any, .any], result: .any),
                Entry(name: "get", ordinal: 9, parameters: [.any], result: .any),
                Entry(name: "remove", ordinal: 10, parameters: [.any], result: .any),
                Entry(name: "size", ordinal: 11, parameters: [], result: .int),
                Entry(name: "containsKey", ordinal: 12, parameters: [.any], result: .int),
                Entry(name: "keys", ordinal: 13, parameters: [], result: .object(array)),
            ]),
            (stringBuilder, true, [
                Entry(name: "append", ordinal: 8, parameters: [.any], result: .object(stringBuilder)),
                Entry(name: "toString", ordinal: 9, parameters: [], result: .string),
                Entry(name: "length", ordinal: 10, parameters: [], result: .int),
                Entry(name: "clear", ordinal: 11, parameters: [], result: .object(stringBuilder)),
            ]),
            (".internal.long", false, []),
            (".internal.float", false, []),
            (".internal.double", false, []),
            (thread, false, [
                Entry(name: "join", ordinal: 8, parameters: [], result: .any),
                Entry(name: "state", ordinal: 9, parameters: [], result: .int),
                Entry(name: "sleep", ordinal: 10, parameters: [.int], result: .void),
            ]),
            (cond, true, [
                Entry(name: "wait", ordinal: 8, parameters: [.object(mutex)], result: .void),
                Entry(name: "signal", ordinal: 9, parameters: [], result: .void),
                Entry(name: "broadcast", ordinal: 10, parameters: [], result: .void),
            ]),
            (mutex, true, [
                Entry(name: "lock", ordinal: -1, parameters: [], result: .void, kind: .lock),
                Entry(name: "unlock", ordinal: -1, parameters: [], result: .void, kind: .unlock),
            ]),
            (boot, true, [
                Entry(name: "print", ordinal: 16, parameters: [], result: .void, variadic: true),
                Entry(name: "putws", ordinal: 16, parameters: [.string], result: .void),
                Entry(name: "spawn", ordinal: 17, parameters: [.any, .string], result: .object(thread)),
            ]),
            // Kernel classes (docs/connections.md).
            (".internal.connection", true, [
                Entry(name: "connect", ordinal: 8, parameters: [.string], result: .void),
                Entry(name: "disconnect", ordinal: 9, parameters: [], result: .void),
                Entry(name: "block", ordinal: 13, parameters: [.any, .int], result: .any),
                Entry(name: "read", ordinal: 14, parameters: [], result: .any),
                Entry(name: "write", ordinal: 15, parameters: [.any], result: .void),
                Entry(name: "restarts", ordinal: 16, parameters: [], result: .int),
                Entry(name: "name", ordinal: 17, parameters: [], result: .string),
            ]),
            (".internal.namespace", true, [
                Entry(name: "bind", ordinal: 8, parameters: [.string, .any], result: .any),
                Entry(name: "lookup", ordinal: 9, parameters: [.string], result: .any),
                Entry(name: "unbind", ordinal: 10, parameters: [.string], result: .any),
                Entry(name: "list", ordinal: 11, parameters: [.string], result: .any),
            ]),
        ]
        return table.map { name, instantiable, entries in
            let cls = ClassSymbol(name: name, isInternal: true, declaration: nil, instantiable: instantiable)
            for entry in entries {
                cls.add(MethodSymbol(name: entry.name, ordinal: entry.ordinal, parameters: entry.parameters, returnType: entry.result,
                                     owner: cls, kind: entry.kind, variadic: entry.variadic))
            }
            cls.laidOut = true
            return cls
        }
    }

    /// The universal methods (ordinals 0-6) that every object answers.
    static func universal(named name: String, arity: Int, owner: ClassSymbol) -> MethodSymbol? {
        let entry: (Int, [ValueType], ValueType)?
        switch (name, arity) {
        case ("construct", _): entry = (0, Array(repeating: .any, count: arity), .any)
        case ("destruct", _): entry = (1, Array(repeating: .any, count: arity), .any)
        case ("getClass", 0): entry = (2, [], .object(classClass))
        case ("clone", 0): entry = (3, [], .any)
        case ("equals", 1): entry = (4, [.any], .int)
        case ("toString", 0): entry = (5, [], .string)
        case ("hashCode", 0): entry = (6, [], .int)
        default: entry = nil
        }
        guard let (ordinal, parameters, result) = entry else { return nil }
        return MethodSymbol(name: name, ordinal: ordinal, parameters: parameters, returnType: result, owner: owner)
    }

    /// The ordinal a user method takes when it overrides a universal one
    /// (`string toString()` is ordinal 5, so the VM finds it).
    static func universalOrdinal(name: String, arity: Int) -> Int? {
        switch (name, arity) {
        case ("getClass", 0): 2
        case ("clone", 0): 3
        case ("equals", 1): 4
        case ("toString", 0): 5
        case ("hashCode", 0): 6
        default: nil
        }
    }
}
