// Types of values as the checker and the code generator see them, and the
// symbols of classes, fields and methods (user classes and the VM's internal
// ones alike).

/// The static type of a value.
indirect enum ValueType: Hashable, Sendable, CustomStringConvertible {
    /// No value (a void method's result).
    case void
    /// The integer-stack types: one slot each.
    case int, long, float, double
    /// An object of any class (an untyped `var`).
    case any
    /// The type of `null`: fits every object type.
    case null
    /// An object of a class, by full name (`.internal.string` for strings).
    case object(String)
    /// A growable array (`T []`).
    case array(ValueType)

    static let string = ValueType.object(KernelClasses.string)

    /// Values kept on the integer stack.
    var isNumeric: Bool {
        switch self {
        case .int, .long, .float, .double: true
        default: false
        }
    }

    /// Values kept on the object stack.
    var isObject: Bool {
        switch self {
        case .any, .null, .object, .array: true
        default: false
        }
    }

    var isString: Bool { self == .string }

    public var description: String {
        switch self {
        case .void: "void"
        case .int: "int"
        case .long: "long"
        case .float: "float"
        case .double: "double"
        case .any: "var"
        case .null: "null"
        case let .object(name): name == KernelClasses.string ? "string" : name
        case let .array(element): "\(element)[]"
        }
    }

    /// The numeric type of a binary operation on two numeric types (Java's rules).
    static func promoted(_ a: ValueType, _ b: ValueType) -> ValueType {
        if a == .double || b == .double { return .double }
        if a == .float || b == .float { return .float }
        if a == .long || b == .long { return .long }
        return .int
    }
}

/// What a method call turns into.
enum MethodKind: Equatable {
    /// `call ORDINAL N`: bytecode, or an internal method of the VM.
    case call
    /// `general_lock` on the receiver (`mutex.lock()`).
    case lock
    /// `general_unlock` on the receiver.
    case unlock
}

/// A method of a class (user or internal).
final class MethodSymbol {
    let name: String
    var ordinal: Int
    let parameters: [ValueType]
    let returnType: ValueType
    let kind: MethodKind
    /// Takes any number of arguments (`boot.print(a, b, ...)`).
    let variadic: Bool
    /// The class that declares it.
    unowned let owner: ClassSymbol
    /// The declaration, for user methods.
    let declaration: MethodDeclaration?
    let isConstructor: Bool
    /// A generated accessor: the field it reads (`get`) or writes.
    var accessorField: FieldSymbol? = nil
    var accessorIsSetter = false
    /// A generated interface stub: calls this ordinal with the same arguments.
    var forwardsTo: Int? = nil

    init(name: String, ordinal: Int, parameters: [ValueType], returnType: ValueType, owner: ClassSymbol,
         kind: MethodKind = .call, variadic: Bool = false, declaration: MethodDeclaration? = nil, isConstructor: Bool = false) {
        self.name = name
        self.ordinal = ordinal
        self.parameters = parameters
        self.returnType = returnType
        self.owner = owner
        self.kind = kind
        self.variadic = variadic
        self.declaration = declaration
        self.isConstructor = isConstructor
    }

    var arity: Int { parameters.count }
}

/// A field of a user class.
final class FieldSymbol {
    let name: String
    let type: ValueType
    /// Field number in instances: inherited fields first.
    let index: Int
    unowned let owner: ClassSymbol
    let declaration: FieldDeclaration
    /// Ordinals of the accessor methods that other objects use (`node.next`).
    var getter: Int? = nil
    var setter: Int? = nil

    init(name: String, type: ValueType, index: Int, owner: ClassSymbol, declaration: FieldDeclaration) {
        self.name = name
        self.type = type
        self.index = index
        self.owner = owner
        self.declaration = declaration
    }
}

/// A class: user-defined (from source) or internal (the VM's).
final class ClassSymbol {
    let name: String
    let isInternal: Bool
    let isInterface: Bool
    var parent: ClassSymbol? = nil
    var interfaces: [ClassSymbol] = []
    /// Own fields, in declaration order.
    var fields: [FieldSymbol] = []
    /// Own methods (overrides included) and generated ones.
    var methods: [MethodSymbol] = []
    /// The declaration, for user classes.
    let declaration: ClassDeclaration?
    /// Whether `new` may make one (internal classes made only by the VM may not).
    let instantiable: Bool
    /// Ordinals are assigned (parents first).
    var laidOut = false
    var layoutInProgress = false
    /// The highest ordinal used by this class or its parents.
    var highestOrdinal = 7
    /// `new` must call a constructor: one is declared, a field has an
    /// initializer (or is long/float/double, which start at 0), or a parent needs one.
    var needsConstruction = false

    init(name: String, isInternal: Bool, isInterface: Bool = false, declaration: ClassDeclaration?, instantiable: Bool = true) {
        self.name = name
        self.isInternal = isInternal
        self.isInterface = isInterface
        self.declaration = declaration
        self.instantiable = instantiable
    }

    /// Fields of the parents (numbered before this class's own).
    var inheritedFieldCount: Int { parent.map { $0.inheritedFieldCount + $0.fields.count } ?? 0 }

    /// A field by name, here or in a parent.
    func field(named name: String) -> FieldSymbol? {
        var cls: ClassSymbol? = self
        while let current = cls {
            if let found = current.fields.first(where: { $0.name == name }) { return found }
            cls = current.parent
        }
        return nil
    }

    /// Methods named `name`, nearest class first (overrides hide their
    /// parents'), then those only declared by the interfaces.
    func methods(named name: String) -> [MethodSymbol] {
        var found: [MethodSymbol] = []
        var arities = Set<Int>()
        var cls: ClassSymbol? = self
        var interfaces: [ClassSymbol] = []
        while let current = cls {
            for method in current.methods where method.name == name && !method.isConstructor && method.forwardsTo == nil {
                if method.variadic || arities.insert(method.arity).inserted { found.append(method) }
            }
            interfaces += current.interfaces
            cls = current.parent
        }
        while let interface = interfaces.popLast() {
            for method in interface.methods where method.name == name && arities.insert(method.arity).inserted { found.append(method) }
            interfaces += interface.interfaces
        }
        return found
    }

    /// The method called by `name(args)` with `arity` arguments, if any.
    func method(named name: String, arity: Int) -> MethodSymbol? {
        let candidates = methods(named: name)
        if let exact = candidates.first(where: { $0.arity == arity && !$0.variadic }) { return exact }
        if let variadic = candidates.first(where: { $0.variadic }) { return variadic }
        return KernelClasses.universal(named: name, arity: arity, owner: self)
    }

    /// The constructor declared by this class itself.
    var constructor: MethodSymbol? { methods.first { $0.isConstructor } }

    /// True if this class is `other` or inherits from it (or implements it).
    func isSubclass(of other: ClassSymbol) -> Bool {
        var cls: ClassSymbol? = self
        while let current = cls {
            if current === other { return true }
            if current.interfaces.contains(where: { $0.isSubclass(of: other) }) { return true }
            cls = current.parent
        }
        return false
    }

    /// Ordinals already taken by this class or its parents.
    func usedOrdinals() -> Set<Int> {
        var used = Set<Int>()
        var cls: ClassSymbol? = self
        while let current = cls {
            for method in current.methods { used.insert(method.ordinal) }
            cls = current.parent
        }
        return used
    }
}
