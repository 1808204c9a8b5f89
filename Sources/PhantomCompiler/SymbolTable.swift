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
//
// Members are found by name through dictionaries and the layout walks the
// inheritance graph with loops, not recursion: a class of 70 000 methods or
// a chain of 10 000 classes costs time in proportion to its size, and a
// cycle (`a extends b`, `b extends a`) is reported and cut.

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
    /// The most arguments a method takes or a call passes (`call ORD N`: N is 0...255).
    static let maximumArguments = 255
    /// Counts what the lookups look at (`CompileResult.lookupWork`).
    let counter = LookupCounter()
    /// Methods and fields of every class by name, for calls and field reads on
    /// untyped values (built at the first use, after the layout).
    private var methodsByName: [String: [MethodSymbol]]? = nil
    private var untypedCalls: [Signature: [MethodSymbol]] = [:]
    private var fieldsByName: [String: [FieldSymbol]]? = nil

    init(sources: [SourceFile], files: [FileSyntax], memberNames: Set<String>, sink: DiagnosticSink) {
        self.sources = sources
        self.files = files
        self.memberNames = memberNames
        self.sink = sink
        for cls in InternalClassTable.make() {
            cls.counter = counter
            classes[cls.name] = cls
        }
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
                cls.counter = counter
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
                    } else if parent.isInternal && parent.name != InternalClassTable.object {
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
        layOutInterfaces()
        layOutClasses()
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
            return classes[InternalClassTable.string]
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

    /// Lays out every interface after the interfaces it extends (a
    /// depth-first walk with its own stack); an `extends` that leads back to
    /// an interface being laid out is reported and dropped.
    private func layOutInterfaces() {
        for root in userClasses where root.isInterface && !root.laidOut {
            root.layoutInProgress = true
            var stack: [(interface: ClassSymbol, next: Int)] = [(root, 0)]
            while let (interface, next) = stack.last {
                guard next < interface.interfaces.count else {
                    stack.removeLast()
                    layOutInterfaceMembers(interface)
                    interface.layoutInProgress = false
                    interface.laidOut = true
                    continue
                }
                let parent = interface.interfaces[next]
                if parent.layoutInProgress {
                    error("interface \(parent.name) extends itself", at: parent.declaration!.position, file: parent.declaration!.fileIndex)
                    interface.interfaces.remove(at: next)
                    continue
                }
                stack[stack.count - 1].next += 1
                if parent.laidOut { continue }
                parent.layoutInProgress = true
                stack.append((parent, 0))
            }
        }
    }

    private func layOutInterfaceMembers(_ cls: ClassSymbol) {
        let declaration = cls.declaration!
        for field in declaration.fields {
            error("interfaces have no fields", at: field.position, file: declaration.fileIndex)
        }
        for method in declaration.methods {
            if method.isConstructor { error("interfaces have no constructors", at: method.position, file: declaration.fileIndex); continue }
            let parameters = method.parameters.map { resolve($0.type, file: declaration.fileIndex, at: $0.position) }
            checkParameterCount(method, file: declaration.fileIndex)
            let result = resolve(method.returnType, file: declaration.fileIndex, at: method.position)
            if cls.ownMethods(named: method.name).contains(where: { $0.arity == parameters.count }) {
                error("method \(method.name) with \(parameters.count) arguments is declared twice", at: method.position, file: declaration.fileIndex)
                continue
            }
            // An interface method that a parent interface already has keeps its ordinal.
            let inherited = cls.interfaces.lazy.compactMap { $0.method(named: method.name, arity: parameters.count) }.first
            let ordinal: Int
            if let inherited, inherited.owner.isInterface { ordinal = inherited.ordinal }
            else if let universal = InternalClassTable.universalOrdinal(name: method.name, arity: parameters.count) { ordinal = universal }
            else { ordinal = nextInterfaceOrdinal; nextInterfaceOrdinal += 1; interfaceOrdinals.insert(ordinal) }
            cls.add(MethodSymbol(name: method.name, ordinal: ordinal, parameters: parameters, returnType: result,
                                 owner: cls, declaration: method))
        }
    }

    /// Lays out every class after its parents: the chain above a class is
    /// followed with a loop up to a class already laid out, then laid out top
    /// down. A chain that comes back to a class on it is a cycle: reported at
    /// that class, and every class of the cycle loses its parent.
    private func layOutClasses() {
        var order: [ClassSymbol] = []
        for start in userClasses where !start.isInterface && !start.laidOut {
            var chain: [ClassSymbol] = []
            var current: ClassSymbol? = start
            while let cls = current, !cls.laidOut, cls.declaration != nil {
                if cls.layoutInProgress {
                    let declaration = cls.declaration!
                    error("class \(cls.name) inherits from itself", at: declaration.position, file: declaration.fileIndex)
                    for member in chain[chain.firstIndex { $0 === cls }!...] { member.parent = nil }
                    break
                }
                cls.layoutInProgress = true
                chain.append(cls)
                current = cls.parent
            }
            for cls in chain.reversed() {
                cls.layoutInProgress = false
                cls.laidOut = true
                order.append(cls)
            }
        }
        numberInheritanceForest(order)
        for cls in order { layOut(cls) }
    }

    /// Depth and a depth-first interval for each class (parents before
    /// children in `order`): `a.isAncestorOrSelf(of: b)` in constant time.
    private func numberInheritanceForest(_ order: [ClassSymbol]) {
        var children: [ObjectIdentifier: [ClassSymbol]] = [:]
        var roots: [ClassSymbol] = []
        for cls in order {
            if let parent = cls.parent, !parent.isInternal {
                cls.depth = parent.depth + 1
                children[ObjectIdentifier(parent), default: []].append(cls)
            } else {
                roots.append(cls)
            }
        }
        var number = 0
        for root in roots {
            // (class, entered): a class is pushed to be entered, then again to be left.
            var stack: [(ClassSymbol, Bool)] = [(root, false)]
            while let (cls, entered) = stack.popLast() {
                number += 1
                if entered { cls.treeExit = number; continue }
                cls.treeEnter = number
                stack.append((cls, true))
                for child in children[ObjectIdentifier(cls)] ?? [] { stack.append((child, false)) }
            }
        }
    }

    /// Fields, ordinals, accessors and interface stubs of one class whose parent is laid out.
    private func layOut(_ cls: ClassSymbol) {
        guard let declaration = cls.declaration else { return }
        let file = declaration.fileIndex
        // Fields: the parents' first.
        cls.inheritedFieldCount = cls.parent.map { $0.inheritedFieldCount + $0.fields.count } ?? 0
        var index = cls.inheritedFieldCount
        for field in declaration.fields {
            if cls.ownField(named: field.name) != nil {
                error("field '\(field.name)' is declared twice", at: field.position, file: file)
                continue
            }
            if let inherited = cls.parent?.field(named: field.name) {
                error("field '\(field.name)' is already declared in \(inherited.owner.name)", at: field.position, file: file)
                continue
            }
            var type = resolve(field.type, file: file, at: field.position)
            if type == .void { type = .any }
            cls.add(FieldSymbol(name: field.name, type: type, index: index, owner: cls, declaration: field))
            index += 1
        }
        if index > 256 {
            error("class \(cls.name) has \(index) fields; the VM reaches at most 256", at: declaration.position, file: file)
        }
        // `usedOrdinals`: taken here or by a parent; `used` adds the interfaces' reserved ones.
        cls.usedOrdinals = cls.parent?.usedOrdinals ?? []
        var used = cls.usedOrdinals.union(interfaceOrdinals)
        // `used` only grows, so the lowest free ordinal never goes down.
        // (Everything below the parent's lowest free ordinal is used here too.)
        var lowestFree = cls.parent?.lowestFreeOrdinal ?? 8
        func nextFree() -> Int {
            while used.contains(lowestFree) { counter.count(); lowestFree += 1 }
            used.insert(lowestFree)
            return lowestFree
        }
        defer { cls.lowestFreeOrdinal = lowestFree }
        let interfaceMethods = allInterfaces(of: cls).flatMap(\.methods)
        var interfaceMethodsBySignature: [Signature: MethodSymbol] = [:]
        for method in interfaceMethods where interfaceMethodsBySignature[Signature(name: method.name, arity: method.arity)] == nil {
            interfaceMethodsBySignature[Signature(name: method.name, arity: method.arity)] = method
        }
        for method in declaration.methods {
            let parameters = method.parameters.map { resolve($0.type, file: file, at: $0.position) }
            checkParameterCount(method, file: file)
            if method.isConstructor {
                if cls.constructor != nil {
                    error("a class has at most one constructor (the VM has no overloading by argument types)", at: method.position, file: file)
                    continue
                }
                cls.add(MethodSymbol(name: "<init>", ordinal: nextFree(), parameters: parameters, returnType: .void,
                                     owner: cls, declaration: method, isConstructor: true))
                continue
            }
            let result = resolve(method.returnType, file: file, at: method.position)
            if cls.ownMethods(named: method.name).contains(where: { $0.arity == parameters.count && !$0.isConstructor }) {
                error("method '\(method.name)' with \(parameters.count) argument\(parameters.count == 1 ? "" : "s") is declared twice in \(cls.name)",
                      at: method.position, file: file)
                continue
            }
            let ordinal: Int
            if let universal = InternalClassTable.universalOrdinal(name: method.name, arity: parameters.count) {
                ordinal = universal
            } else if let overridden = cls.parent?.overridable(named: method.name, arity: parameters.count) {
                ordinal = overridden.ordinal
                if overridden.returnType != result && !(overridden.returnType.isObject && result.isObject) {
                    error("'\(method.name)' overrides a method of \(overridden.owner.name) that returns \(overridden.returnType), not \(result)",
                          at: method.position, file: file)
                }
            } else if let fromInterface = interfaceMethodsBySignature[Signature(name: method.name, arity: parameters.count)],
                      !cls.usedOrdinals.contains(fromInterface.ordinal) {
                ordinal = fromInterface.ordinal
                used.insert(ordinal)
            } else {
                ordinal = nextFree()
            }
            cls.add(MethodSymbol(name: method.name, ordinal: ordinal, parameters: parameters, returnType: result,
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
            cls.add(MethodSymbol(name: "<init>", ordinal: nextFree(), parameters: [], returnType: .void,
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
            cls.add(getter)
            cls.add(setter)
        }
        // Interface methods: implemented at the interface's ordinal, or by a stub there.
        var stubbed = Set<Int>()
        for required in interfaceMethods where !stubbed.contains(required.ordinal) {
            stubbed.insert(required.ordinal)
            // Interface ordinals are reserved: whoever has one implements it
            // (this class, a parent, or a parent's stub).
            if cls.usedOrdinals.contains(required.ordinal) { continue }
            guard let implementation = cls.methods(named: required.name).first(where: { $0.arity == required.arity && !$0.owner.isInterface }) else {
                error("class \(cls.name) does not implement \(required.name)(\(required.arity) argument\(required.arity == 1 ? "" : "s")) of interface \(required.owner.name)",
                      at: declaration.position, file: file)
                continue
            }
            guard implementation.ordinal != required.ordinal else { continue }
            let stub = MethodSymbol(name: required.name, ordinal: required.ordinal, parameters: required.parameters,
                                    returnType: required.returnType, owner: cls)
            stub.forwardsTo = implementation.ordinal
            cls.add(stub)
        }
        cls.highestOrdinal = max(cls.parent?.highestOrdinal ?? 7, cls.methods.map(\.ordinal).max() ?? 7)
        if cls.highestOrdinal > 255 {
            error("class \(cls.name) needs method ordinals up to \(cls.highestOrdinal); the VM's call reaches at most 255",
                  at: declaration.position, file: file)
        }
    }

    private func checkParameterCount(_ method: MethodDeclaration, file: Int) {
        guard method.parameters.count > Self.maximumArguments else { return }
        let what = method.isConstructor ? "the constructor" : "method '\(method.name)'"
        error("\(what) has \(method.parameters.count) parameters; the VM passes at most \(Self.maximumArguments) arguments",
              at: method.position, file: file)
    }

    /// Every interface a class implements, through its parents and the interfaces' parents
    /// (kept with the class: a chain of 10 000 classes is not walked again for each).
    func allInterfaces(of cls: ClassSymbol) -> [ClassSymbol] {
        if let known = cls.allInterfaces { return known }
        // Own interfaces first, then the parent's (as a walk up the chain finds them).
        let inherited = cls.parent.map(allInterfaces) ?? []
        guard !cls.interfaces.isEmpty else { cls.allInterfaces = inherited; return inherited }
        var result: [ClassSymbol] = []
        var seen = Set<ObjectIdentifier>()
        // Depth first, in declaration order, with a stack of its own.
        var pending = Array(cls.interfaces.reversed())
        while let interface = pending.popLast() {
            guard seen.insert(ObjectIdentifier(interface)).inserted else { continue }
            result.append(interface)
            pending += interface.interfaces.reversed()
        }
        for interface in inherited where seen.insert(ObjectIdentifier(interface)).inserted { result.append(interface) }
        cls.allInterfaces = result
        return result
    }

    /// Methods named `name` with `arity` arguments in any class: for calls on untyped values.
    func methodsAnywhere(named name: String, arity: Int) -> [MethodSymbol] {
        let signature = Signature(name: name, arity: arity)
        if let known = untypedCalls[signature] { counter.count(); return known }
        if methodsByName == nil {
            var index: [String: [MethodSymbol]] = [:]
            // .internal.array's methods are reached with a[i], a[i] = v and a.length.
            for cls in classes.values where cls.name != InternalClassTable.array {
                for method in cls.methods where !method.isConstructor && method.forwardsTo == nil && method.accessorField == nil {
                    index[method.name, default: []].append(method)
                }
            }
            methodsByName = index
        }
        let named = methodsByName?[name] ?? []
        counter.count(named.count)
        let found = named.filter { $0.arity == arity || $0.variadic }
        untypedCalls[signature] = found
        return found
    }

    /// The fields named `name` of the user classes, in source order: for field reads on untyped values.
    func fieldsAnywhere(named name: String) -> [FieldSymbol] {
        if fieldsByName == nil {
            var index: [String: [FieldSymbol]] = [:]
            for cls in userClasses {
                for field in cls.fields { index[field.name, default: []].append(field) }
            }
            fieldsByName = index
        }
        let found = fieldsByName?[name] ?? []
        counter.count(found.count + 1)
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
        case (.array, .object(InternalClassTable.object)), (.object, .object(InternalClassTable.object)): return true
        case (.array, .object(InternalClassTable.array)), (.object(InternalClassTable.array), .array): return true
        case let (.array(a), .array(b)): return a == b || b == .any
        case let (.object(a), .object(b)):
            guard let source = classes[a], let target = classes[b] else { return false }
            return source.isSubclass(of: target)
        default: return false
        }
    }
}
