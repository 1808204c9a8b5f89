// The VM's internal classes as the compiler sees them: built from the VM's
// one table (`PhantomVM/InternalMethods.swift`: names, ordinals,
// signatures), plus the universal methods (ordinals 0-6) every object has.
// A call by name on an internal object compiles to `call ORDINAL N`,
// exactly as for user classes.

import PhantomVM

enum InternalClassTable {
    static let object = InternalMethods.object
    static let string = InternalMethods.string
    static let array = InternalMethods.array
    static let directory = InternalMethods.directory
    static let stringBuilder = InternalMethods.stringBuilder
    static let thread = InternalMethods.thread
    static let mutex = InternalMethods.mutex
    static let boot = InternalMethods.boot
    static let int = InternalMethods.int
    static let classClass = InternalMethods.classClass
    static let cond = InternalMethods.cond

    /// The compiler's type for a type of the VM's table.
    private static func type(_ type: InternalValueType) -> ValueType {
        switch type {
        case .void: .void
        case .int: .int
        case .any: .any
        case let .object(name): .object(name)
        }
    }

    /// The internal classes of this VM (docs/internal-classes.md), with the
    /// methods that a program may call by name. A method that the VM's
    /// table compiles to an instruction (`mutex.lock()`) has no ordinal here.
    static func make() -> [ClassSymbol] {
        InternalMethods.classes.map { entry in
            let cls = ClassSymbol(name: entry.name, isInternal: true, declaration: nil, instantiable: entry.instantiable)
            for method in entry.methods {
                let kind: MethodKind = switch method.instruction {
                case .generalLock: .lock
                case .generalUnlock: .unlock
                default: .call
                }
                cls.add(MethodSymbol(name: method.name, ordinal: kind == .call ? method.ordinal : -1,
                                     parameters: method.parameters.map(type), returnType: type(method.result),
                                     owner: cls, kind: kind, variadic: method.variadic))
            }
            cls.laidOut = true
            return cls
        }
    }

    /// The universal methods (ordinals 0-6) that every object answers.
    static func universal(named name: String, arity: Int, owner: ClassSymbol) -> MethodSymbol? {
        let entry: (Int, [ValueType], ValueType)?
        switch (name, arity) {
        case ("construct", _): entry = (UniversalMethod.construct.rawValue, Array(repeating: .any, count: arity), .any)
        case ("destruct", _): entry = (UniversalMethod.destruct.rawValue, Array(repeating: .any, count: arity), .any)
        case ("getClass", 0): entry = (UniversalMethod.getClass.rawValue, [], .object(classClass))
        case ("clone", 0): entry = (UniversalMethod.clone.rawValue, [], .any)
        case ("equals", 1): entry = (UniversalMethod.equals.rawValue, [.any], .int)
        case ("toString", 0): entry = (UniversalMethod.toString.rawValue, [], .string)
        case ("hashCode", 0): entry = (UniversalMethod.hashCode.rawValue, [], .int)
        default: entry = nil
        }
        guard let (ordinal, parameters, result) = entry else { return nil }
        return MethodSymbol(name: name, ordinal: ordinal, parameters: parameters, returnType: result, owner: owner)
    }

    /// The ordinal a user method takes when it overrides a universal one
    /// (`string toString()` is ordinal 5, so the VM finds it).
    static func universalOrdinal(name: String, arity: Int) -> Int? {
        switch (name, arity) {
        case ("getClass", 0): UniversalMethod.getClass.rawValue
        case ("clone", 0): UniversalMethod.clone.rawValue
        case ("equals", 1): UniversalMethod.equals.rawValue
        case ("toString", 0): UniversalMethod.toString.rawValue
        case ("hashCode", 0): UniversalMethod.hashCode.rawValue
        default: nil
        }
    }
}
