// The declaration pass: every class of the compilation (and the VM's internal
// classes) with its fields and methods, class names resolved through the
// package and the imports, and method ordinals assigned parents first:
// - universal names take their universal ordinal (`toString()` is 5);
// - an override (same name and argument count as a parent's method) takes
//   the parent's ordinal, so calls reach it through the VM's lookup;
// - interface methods have one ordinal in the whole compilation; a class
//   takes it for its implementation, or gets a stub there that forwards;
// - everything else takes the next free ordinal from 8 up, after the
//   parents' ordinals and the interfaces'.

/// All the classes a compilation can see.
final class SymbolTable {
    let sources: [SourceFile]
    let files: [FileSyntax]
    /// Every class by full name: internal and user.
    private(set) var classes: [String: ClassSymbol] = [:]
    /// User classes and interfaces in source order.
    private(set) var userClasses: [ClassSymbol] = []
    /// Names used as `object.name`: fields with that name get accessor methods.
    let memberNames: Set<String>
    var sink: DiagnosticSink
    /// The next ordinal for an interface method (shared by the compilation).
    private var nextInterfaceOrdinal = 8
    private var interfaceOrdinals = Set<Int>()

    init(sources: [SourceFile], files: [FileSyntax], memberNames: Set<String>, sink: DiagnosticSink) {
        self.sources = sources
        self.files = files
        self.memberNames = memberNames
        self.sink = sink
        for cls in KernelClasses.make() { classes[cls.name] = cls }
    }

    func error(_ message: String, at offset: Int, file: Int) {
        sink.error(message, at: offset, in: sources[file])
    }

    /// Builds every symbol; reports duplicate and unknown names.
    func declare() {
        for file in files {
            for declaration in file.classes {
                if declaration.name.hasPrefix(".internal.") {
                    error("class names starting with .internal. belong to the VM", at: declaration.position, file: declaration.fileIndex)
                    continue
                }
                if let existing = classes[declaration.name] {
                    error("class \(declaration.name) is declared twice\(existing.isInternal ? "" : " (see the first declaration)")",
                          at: declaration.position, file: declaration.fileIndex)
                    continue
                }
                let cls = ClassSymbol(name: declaration.name, isInternal: false, isInterface: declaration.isInterface, declaration: declaration)
                classes[declaration.name] = cls
                userClasses.append(cls)
            }
        }
        // Parents and interfaces.
        for cls in userClasses {
            let declaration = cls.declaration!
            if let (parentType, at) = declaration.parent {
                if let parent = classSymbol(parentType, file: declaration.fileIndex, at: at) {
                    if cls.isInterface {
                        if parent.isInterface { cls.interfaces.append(parent) }
                        else { error("an interface can only extend interfaces; \(parent.name) is a class", at: at, file: declaration.fileIndex) }
                    } else if parent.isInterface {
                        error("\(parent.name) is an interface: use 'implements'", at: at, file: declaration.fileIndex)
                    } else if parent.isInternal && parent.name != KernelClasses.object {
                        // Internal kinds are not inherited by the VM: a subclass of
                        // .internal.string would not have length() or concat().
                        error("cannot extend \(parent.name): the VM's internal classes pass on no methods to subclasses", at: at, file: declaration.fileIndex)
                    } else {
                        cls.parent = parent
                    }
                }
            }
            for (interfaceType, at) in declaration.interfaces {
                guard let interface = classSymbol(interfaceType, file: declaration.fileIndex, at: at) else { continue }
                if interface.isInterface { cls.interfaces.append(interface) }
                else { error("\(interface.name) is a class, not an interface", at: at, file: declaration.fileIndex) }
            }
        }
        // Interfaces first: their ordinals are reserved in every class.
        for cls in userClasses where cls.isInterface { layOutInterface(cls) }
        for cls in userClasses where !cls.isInterface { layOut(cls) }
    }

    // MARK: - Names

    /// The class a type names, or nil (with an error).
    func classSymbol(_ type: TypeSyntax, file: Int, at: Int) -> ClassSymbol? {
        switch type {
        case let .named(name):
            if let found = lookupClass(name, file: file) { return found }
            error("unknown class '\(name)'\(importHint(name))", at: at, file: file)
            return nil
        case .string:
            return classes[KernelClasses.string]
        default:
            error("expected a class, found \(type.spelling)", at: at, file: file)
            return nil
        }
    }

    private func importHint(_ name: String) -> String {
        guard !name.hasPrefix(".") else { return "" }
        let candidates = classes.keys.filter { $0.hasSuffix("." + name) }.sorted()
        return candidates.isEmpty ? "" : "; did you mean \(candidates[0]) (import it or write the full name)?"
    }

    /// Resolves a class name as written in file `file`.
    func lookupClass(_ name: String, file: Int) -> ClassSymbol? {
        if name.hasPrefix(".") { return classes[name] }
        let syntax = files[file]
        if let imported = syntax.imports[name] { return classes[imported] }
        if let package = syntax.package, let found = classes[package + "." + name] { return found }
        return classes[name]
    }

    /// The value type of a type as written.
    func resolve(_ type: TypeSyntax, file: Int, at: Int) -> ValueType {
        switch type {
        case .untyped: return .any
        case .void: return .void
        case .int, .boolean: return .int
        case .long: return .long
        case .float: return .float
        case .double: return .double
        case .string: return .string
        case .named:
            guard let cls = classSymbol(type, file: file, at: at) else { return .any }
            return .object(cls.name)
        case let .array(element):
            let resolved = resolve(element, file: file, at: at)
            return .array(resolved == .void ? .any : resolved)
        }
    }

    /// `resolve` without diagnostics (for type inference before code is emitted).
    func resolveQuietly(_ type: TypeSyntax, file: Int) -> ValueType {
        switch type {
        case .untyped: return .any
        case .void: return .void
        case .int, .boolean: return .int
        case .long: return .long
        case .float: return .float
        case .double: return .double
        case .string: return .string
        case let .named(name):
            guard let cls = lookupClass(name, file: file) else { return .any }
            return .object(cls.name)
        case let .array(element):
            let resolved = resolveQuietly(element, file: file)
            return .array(resolved == .void ? .any : resolved)
        }
    }

    // MARK: - Layout

    private func layOutInterface(_ cls: ClassSymbol) {
        guard !cls.laidOut else { return }
        guard !cls.layoutInProgress else {
            error("interface \(cls.name) extends itself", at: cls.declaration!.position, file: cls.declaration!.fileIndex)
            return
        }
        cls.layoutInProgress = true
        defer { cls.layoutInProgress = false; cls.laidOut = true }
        for parent in cls.interfaces { layOutInterface(parent) }
        let declaration = cls.declaration!
        for field in declaration.fields {
            error("interfaces have no fields", at: field.position, file: declaration.fileIndex)
        }
        for method in declaration.methods {
            if method.isConstructor { error("interfaces have no constructors", at: method.position, file: declaration.fileIndex); continue }
            let parameters = method.parameters.map { resolve($0.type, file: declaration.fileIndex, at: $0.position) }
            let result = resolve(method.returnType, file: declaration.fileIndex, at: method.position)
            if cls.methods.contains(where: { $0.name == method.name && $0.arity == parameters.count }) {
                error("method \(method.name) with \(parameters.count) arguments is declared twice", at: method.position, file: declaration.fileIndex)
                continue
            }
            // An interface method that a parent interface already has keeps its ordinal.
            let inherited = cls.interfaces.lazy.compactMap { $0.method(named: method.name, arity: parameters.count) }.first
            let ordinal: Int
            if let inherited, inherited.owner.isInterface { ordinal = inherited.ordinal }
            else if let universal = KernelClasses.universalOrdinal(name: method.name, arity: parameters.count) { ordinal = universal }
            else { ordinal = nextInterfaceOrdinal; nextInterfaceOrdinal += 1; interfaceOrdinals.insert(ordinal) }
            cls.methods.append(MethodSymbol(name: method.name, ordinal: ordinal, parameters: parameters, returnType: result,
                                            owner: cls, declaration: method))
        }
    }

    private func layOut(_ cls: ClassSymbol) {
        guard !cls.laidOut, let declaration = cls.declaration else { return }
        guard !cls.layoutInProgress else {
            error("class \(cls.name) inherits from itself", at: declaration.position, file: declaration.fileIndex)
            cls.parent = nil
            return
        }
        cls.layoutInProgress = true
        defer { cls.layoutInProgress = false; cls.laidOut = true }
        if let parent = cls.parent {
            layOut(parent)
            if parent.layoutInProgress { cls.parent = nil }
        }
        let file = declaration.fileIndex
        // Fields: the parents' first.
        var index = cls.inheritedFieldCount
        for field in declaration.fields {
            if cls.fields.contains(where: { $0.name == field.name }) {
                error("field '\(field.name)' is declared twice", at: field.position, file: file)
                continue
            }
            if let inherited = cls.parent?.field(named: field.name) {
                error("field '\(field.name)' is already declared in \(inherited.owner.name)", at: field.position, file: file)
                continue
            }
            var type = resolve(field.type, file: file, at: field.position)
            if type == .void { type = .any }
            cls.fields.append(FieldSymbol(name: field.name, type: type, index: index, owner: cls, declaration: field))
            index += 1
        }
        if index > 256 {
            error("class \(cls.name) has \(index) fields; the VM reaches at most 256", at: declaration.position, file: file)
        }
        var used = cls.parent?.usedOrdinals() ?? []
        used.formUnion(interfaceOrdinals)
        func nextFree() -> Int {
            var ordinal = 8
            while used.contains(ordinal) { ordinal += 1 }
            used.insert(ordinal)
            return ordinal
        }
        let interfaceMethods = allInterfaces(of: cls).flatMap(\.methods)
        for method in declaration.methods {
            let parameters = method.parameters.map { resolve($0.type, file: file, at: $0.position) }
            if method.isConstructor {
                if cls.constructor != nil {
                    error("a class has at most one constructor (the VM has no overloading by argument types)", at: method.position, file: file)
                    continue
                }
                cls.methods.append(MethodSymbol(name: "<init>", ordinal: nextFree(), parameters: parameters, returnType: .void,
                                                owner: cls, declaration: method, isConstructor: true))
                continue
            }
            let result = resolve(method.returnType, file: file, at: method.position)
            if cls.methods.contains(where: { $0.name == method.name && $0.arity == parameters.count && !$0.isConstructor }) {
                error("method '\(method.name)' with \(parameters.count) argument\(parameters.count == 1 ? "" : "s") is declared twice in \(cls.name)",
                      at: method.position, file: file)
                continue
            }
            let ordinal: Int
            if let universal = KernelClasses.universalOrdinal(name: method.name, arity: parameters.count) {
                ordinal = universal
            } else if let overridden = cls.parent?.methods(named: method.name).first(where: { $0.arity == parameters.count && !$0.variadic }) {
                ordinal = overridden.ordinal
                if overridden.returnType != result && !(overridden.returnType.isObject && result.isObject) {
                    error("'\(method.name)' overrides a method of \(overridden.owner.name) that returns \(overridden.returnType), not \(result)",
                          at: method.position, file: file)
                }
            } else if let fromInterface = interfaceMethods.first(where: { $0.name == method.name && $0.arity == parameters.count }),
                      !cls.usedOrdinals().contains(fromInterface.ordinal) {
                ordinal = fromInterface.ordinal
                used.insert(ordinal)
            } else {
                ordinal = nextFree()
            }
            cls.methods.append(MethodSymbol(name: method.name, ordinal: ordinal, parameters: parameters, returnType: result,
                                            owner: cls, declaration: method))
        }
        // A constructor is needed for field initializers and for the parents'.
        cls.needsConstruction = cls.constructor != nil || (cls.parent?.needsConstruction ?? false)
            || cls.fields.contains { $0.declaration.initializer != nil || $0.type == .long || $0.type == .float || $0.type == .double }
        if cls.needsConstruction && cls.constructor == nil {
            if let parentConstructor = cls.parent?.constructor, parentConstructor.arity > 0, cls.parent!.needsConstruction {
                error("class \(cls.name) needs a constructor that calls super(...): the constructor of \(cls.parent!.name) takes arguments",
                      at: declaration.position, file: file)
            }
            cls.methods.append(MethodSymbol(name: "<init>", ordinal: nextFree(), parameters: [], returnType: .void,
                                            owner: cls, isConstructor: true))
        }
        // Accessors for fields that other objects read or write (`node.next`).
        for field in cls.fields where memberNames.contains(field.name) {
            let getter = MethodSymbol(name: "get$" + field.name, ordinal: nextFree(), parameters: [], returnType: field.type, owner: cls)
            getter.accessorField = field
            let setter = MethodSymbol(name: "set$" + field.name, ordinal: nextFree(), parameters: [field.type], returnType: field.type, owner: cls)
            setter.accessorField = field
            setter.accessorIsSetter = true
            field.getter = getter.ordinal
            field.setter = setter.ordinal
            cls.methods += [getter, setter]
        }
        // Interface methods: implemented at the interface's ordinal, or by a stub there.
        var stubbed = Set<Int>()
        for required in interfaceMethods where !stubbed.contains(required.ordinal) {
            stubbed.insert(required.ordinal)
            // Interface ordinals are reserved: whoever has one implements it
            // (this class, a parent, or a parent's stub).
            if cls.usedOrdinals().contains(required.ordinal) { continue }
            guard let implementation = cls.methods(named: required.name).first(where: { $0.arity == required.arity && !$0.owner.isInterface }) else {
                error("class \(cls.name) does not implement \(required.name)(\(required.arity) argument\(required.arity == 1 ? "" : "s")) of interface \(required.owner.name)",
                      at: declaration.position, file: file)
                continue
            }
            guard implementation.ordinal != required.ordinal else { continue }
            let stub = MethodSymbol(name: required.name, ordinal: required.ordinal, parameters: required.parameters,
                                    returnType: required.returnType, owner: cls)
            stub.forwardsTo = implementation.ordinal
            cls.methods.append(stub)
        }
        cls.highestOrdinal = max(cls.parent?.highestOrdinal ?? 7, cls.methods.map(\.ordinal).max() ?? 7)
        if cls.highestOrdinal > 255 {
            error("class \(cls.name) needs method ordinals up to \(cls.highestOrdinal); the VM's call reaches at most 255",
                  at: declaration.position, file: file)
        }
    }

    /// Every interface a class implements, through its parents and the interfaces' parents.
    func allInterfaces(of cls: ClassSymbol) -> [ClassSymbol] {
        var result: [ClassSymbol] = []
        var seen = Set<ObjectIdentifier>()
        func visit(_ interface: ClassSymbol) {
            guard seen.insert(ObjectIdentifier(interface)).inserted else { return }
            result.append(interface)
            interface.interfaces.forEach(visit)
        }
        var current: ClassSymbol? = cls
        while let each = current {
            each.interfaces.forEach(visit)
            current = each.parent
        }
        return result
    }

    /// Methods named `name` with `arity` arguments in any class: for calls on untyped values.
    func methodsAnywhere(named name: String, arity: Int) -> [MethodSymbol] {
        var found: [MethodSymbol] = []
        // .internal.array's methods are reached with a[i], a[i] = v and a.length.
        for cls in classes.values where cls.name != KernelClasses.array {
            for method in cls.methods where method.name == name && !method.isConstructor && method.forwardsTo == nil
                && method.accessorField == nil && (method.arity == arity || method.variadic) {
                found.append(method)
            }
        }
        return found
    }

    /// The class symbol of an object type.
    func symbol(of type: ValueType) -> ClassSymbol? {
        if case let .object(name) = type { return classes[name] }
        return nil
    }

    /// Whether a value of type `from` may be stored where `to` is expected without a cast.
    func isAssignable(_ from: ValueType, to: ValueType) -> Bool {
        if from == to { return true }
        switch (from, to) {
        case (.null, .any), (.null, .object), (.null, .array): return true
        case (_, .any): return from.isObject || from.isNumeric
        case (.any, .object), (.any, .array): return true
        case (.array, .object(KernelClasses.object)), (.object, .object(KernelClasses.object)): return true
        case (.array, .object(KernelClasses.array)), (.object(KernelClasses.array), .array): return true
        case let (.array(a), .array(b)): return a == b || b == .any
        case let (.object(a), .object(b)):
            guard let source = classes[a], let target = classes[b] else { return false }
            return source.isSubclass(of: target)
        default: return false
        }
    }
}
