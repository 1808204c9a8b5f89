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

    static let string = ValueType.object(InternalClassTable.string)

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
        case let .object(name): name == InternalClassTable.string ? "string" : name
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

/// Counts the entries that the symbol lookups look at (`CompileResult.lookupWork`):
/// with the lookups by name, it grows with the program, not with its square.
/// Also the fields of the whole compilation by name, so that a field is found
/// without walking a deep parent chain.
final class LookupCounter {
    private(set) var steps = 0
    func count(_ entries: Int = 1) { steps += entries }
    private var fieldsByName: [String: [FieldSymbol]] = [:]
    private var methodsByName: [String: [MethodSymbol]] = [:]
    func register(_ field: FieldSymbol) { fieldsByName[field.name, default: []].append(field) }
    func register(_ method: MethodSymbol) { methodsByName[method.name, default: []].append(method) }
    /// The methods named `name` of user classes, or nil if there are more than `limit`.
    func methods(named name: String, atMost limit: Int) -> [MethodSymbol]? {
        count()
        let found = methodsByName[name] ?? []
        guard found.count <= limit else { return nil }
        count(found.count)
        return found
    }
    /// The fields named `name` anywhere, or nil if there are more than `limit`.
    func fields(named name: String, atMost limit: Int) -> [FieldSymbol]? {
        count()
        let found = fieldsByName[name] ?? []
        guard found.count <= limit else { return nil }
        count(found.count)
        return found
    }
}

/// A method's name and argument count: what a call or an override matches.
struct Signature: Hashable {
    let name: String
    let arity: Int
}

/// A class: user-defined (from source) or internal (the VM's).
///
/// Members are kept in declaration order (`fields`, `methods`) and indexed by
/// name, so that a lookup costs the same in a class of 10 members as in one of
/// 70 000; the parent chain is walked with a loop, never by recursion (a chain
/// may be thousands of classes deep).
final class ClassSymbol {
    let name: String
    let isInternal: Bool
    let isInterface: Bool
    var parent: ClassSymbol? = nil
    var interfaces: [ClassSymbol] = []
    /// Own fields, in declaration order.
    private(set) var fields: [FieldSymbol] = []
    /// Own methods (overrides included) and generated ones, in the order added.
    private(set) var methods: [MethodSymbol] = []
    private var fieldsByName: [String: FieldSymbol] = [:]
    private var methodsByName: [String: [MethodSymbol]] = [:]
    /// The constructor declared (or generated) by this class itself.
    private(set) var constructor: MethodSymbol? = nil
    /// Ordinals taken by this class or its parents (the layout starts it from the parent's).
    var usedOrdinals = Set<Int>()
    /// Every interface implemented here or by a parent (`SymbolTable.allInterfaces`, once laid out).
    var allInterfaces: [ClassSymbol]? = nil
    /// Fields of the parents (numbered before this class's own); set by the layout.
    var inheritedFieldCount = 0
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
    /// No ordinal below this one is free in this class (where the next class's search starts).
    var lowestFreeOrdinal = 8
    /// Parents above this class (0: its parent is internal or none); set by the layout.
    var depth = 0
    /// The class's interval in a depth-first numbering of the inheritance
    /// forest: an ancestor's interval contains its descendants' (set by the layout).
    var treeEnter = 0
    var treeExit = -1
    /// Where lookups count their work (the compilation's counter).
    var counter = LookupCounter()

    init(name: String, isInternal: Bool, isInterface: Bool = false, declaration: ClassDeclaration?, instantiable: Bool = true) {
        self.name = name
        self.isInternal = isInternal
        self.isInterface = isInterface
        self.declaration = declaration
        self.instantiable = instantiable
    }

    /// Adds an own field (its name not yet used here).
    func add(_ field: FieldSymbol) {
        fields.append(field)
        fieldsByName[field.name] = field
        counter.register(field)
    }

    /// Adds an own method.
    func add(_ method: MethodSymbol) {
        methods.append(method)
        methodsByName[method.name, default: []].append(method)
        usedOrdinals.insert(method.ordinal)
        if !isInternal { counter.register(method) }
        if method.isConstructor && constructor == nil { constructor = method }
    }

    /// The field `name` declared by this class itself.
    func ownField(named name: String) -> FieldSymbol? {
        counter.count()
        return fieldsByName[name]
    }

    /// The methods named `name` declared (or generated) by this class itself.
    func ownMethods(named name: String) -> [MethodSymbol] {
        counter.count()
        let found = methodsByName[name] ?? []
        counter.count(found.count)
        return found
    }

    /// Whether `method` is one of this class's own methods.
    func owns(_ method: MethodSymbol) -> Bool {
        method.owner === self && ownMethods(named: method.name).contains { $0 === method }
    }

    /// Whether this user class is `other` or one of its parents.
    func isAncestorOrSelf(of other: ClassSymbol) -> Bool {
        treeEnter <= other.treeEnter && other.treeExit <= treeExit
    }

    /// A field by name, here or in a parent.
    func field(named name: String) -> FieldSymbol? {
        // In a deep chain, the few classes that declare the name are fewer than the parents.
        if depth > 8 && !isInternal {
            if let declared = counter.fields(named: name, atMost: depth) { return declared.first { $0.owner.isAncestorOrSelf(of: self) } }
        }
        var cls: ClassSymbol? = self
        while let current = cls {
            if let found = current.ownField(named: name) { return found }
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
            for method in current.ownMethods(named: name) where !method.isConstructor && method.forwardsTo == nil {
                if method.variadic || arities.insert(method.arity).inserted { found.append(method) }
            }
            interfaces += current.interfaces
            cls = current.parent
        }
        // Interfaces may share parents: each is looked at once.
        var seen = Set<ObjectIdentifier>()
        while let interface = interfaces.popLast() {
            guard seen.insert(ObjectIdentifier(interface)).inserted else { continue }
            for method in interface.ownMethods(named: name) where arities.insert(method.arity).inserted { found.append(method) }
            interfaces += interface.interfaces
        }
        return found
    }

    /// The method that a method `name` with `arity` arguments declared in a
    /// subclass overrides: the nearest of this class and its parents (or, if
    /// none, of their interfaces), not variadic.
    func overridable(named name: String, arity: Int) -> MethodSymbol? {
        if depth > 8 && !isInternal && (allInterfaces?.isEmpty ?? false) {
            if let declared = counter.methods(named: name, atMost: depth) {
                return declared.filter {
                    $0.arity == arity && !$0.variadic && !$0.isConstructor && $0.forwardsTo == nil && $0.owner.isAncestorOrSelf(of: self)
                }.max { $0.owner.depth < $1.owner.depth }
            }
        }
        // The nearest class first: an override of an override is found one step up.
        var cls: ClassSymbol? = self
        while let current = cls {
            if let found = current.ownMethods(named: name).first(where: {
                $0.arity == arity && !$0.variadic && !$0.isConstructor && $0.forwardsTo == nil
            }) { return found }
            cls = current.parent
        }
        return methods(named: name).first { $0.arity == arity && !$0.variadic }
    }

    /// The method called by `name(args)` with `arity` arguments, if any.
    func method(named name: String, arity: Int) -> MethodSymbol? {
        let candidates = methods(named: name)
        if let exact = candidates.first(where: { $0.arity == arity && !$0.variadic }) { return exact }
        if let variadic = candidates.first(where: { $0.variadic }) { return variadic }
        return InternalClassTable.universal(named: name, arity: arity, owner: self)
    }

    /// True if this class is `other` or inherits from it (or implements it).
    func isSubclass(of other: ClassSymbol) -> Bool {
        var pending: [ClassSymbol] = []
        var cls: ClassSymbol? = self
        while let current = cls {
            if current === other { return true }
            pending += current.interfaces
            cls = current.parent
        }
        // Interfaces may share parents: each is looked at once.
        var seen = Set<ObjectIdentifier>()
        while let current = pending.popLast() {
            guard seen.insert(ObjectIdentifier(current)).inserted else { continue }
            if current === other { return true }
            pending += current.interfaces
        }
        return false
    }
}
