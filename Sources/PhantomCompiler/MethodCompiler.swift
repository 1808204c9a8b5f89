// Type checking and code generation for one method body, in one walk over
// its syntax tree (the declaration pass, `SymbolTable`, has resolved every
// class, field and method ordinal before).
//
// The frame of a compiled method (docs/bytecode.md):
// ```
// object stack:  args 0..n-1 | object locals (stack_reserve) | temporaries ...
// integer stack: int locals (stack_reserve) [| the count-down loop counter] | temporaries ...
// ```
// Values of type int, long, float and double live on the integer stack (one
// slot each); everything else on the object stack. Arguments arrive as
// objects: an int parameter used often is unboxed once into an integer slot
// by the prologue, otherwise read with `os_get k; o2i`.

import PhantomVM

/// A local variable (or parameter) in scope.
struct Local {
    let name: String
    let type: ValueType
    /// Object-stack slot, or integer-stack slot for numeric types.
    let slot: Int
    /// The value is on the integer stack.
    let onIntegerStack: Bool
    /// The count-down loop counter: its slot is the top integer slot, filled in at the end.
    let isCounter: Bool
    /// A parameter read in place (`os_get k; o2i` for numeric ones).
    let isParameterInPlace: Bool
}

/// What `break`, `continue` and `return` must undo on their way out.
enum ControlEntry {
    case loop(breakLabel: Label, continueLabel: Label)
    case switchBlock(breakLabel: Label)
    /// Catchers pushed by a try block.
    case catchers(Int)
    /// A finally block to run; its catch-all catcher is active.
    case finally(Stmt)
    /// A mutex held by `synchronized`, in this object slot; its catch-all catcher is active.
    case mutex(slot: Int)
}

final class MethodCompiler {
    let table: SymbolTable
    /// The class whose code this is.
    let cls: ClassSymbol
    let method: MethodSymbol
    let file: Int
    let source: SourceFile
    var emitter = Emitter()
    private var scopes: [[String: Local]] = [[:]]
    private let argumentCount: Int
    private var nextObjectSlot: Int
    private var nextIntegerSlot = 0
    private var highestObjectSlot: Int
    private var highestIntegerSlot = 0
    private var control: [ControlEntry] = []
    private var loopDepth = 0
    /// Parameters unboxed into integer slots by the prologue: (argument, slot, type).
    private var parameterCopies: [(Int, Int, ValueType)] = []
    /// The variable (declaration id) kept on top of the integer stack for `djnz`.
    private var counterVariable: Int? = nil
    private var counterLoop: Stmt? = nil
    private var usesCounter = false
    private var temporaryNumber = 0
    private(set) var failed = false

    init(table: SymbolTable, cls: ClassSymbol, method: MethodSymbol, file: Int) {
        self.table = table
        self.cls = cls
        self.method = method
        self.file = file
        self.source = table.sources[file]
        argumentCount = method.parameters.count
        nextObjectSlot = argumentCount
        highestObjectSlot = argumentCount
    }

    // MARK: - Diagnostics

    func error(_ message: String, at offset: Int) {
        failed = true
        table.sink.error(message, at: offset, in: source)
    }

    func warning(_ message: String, at offset: Int) {
        table.sink.add(.warning, message, at: offset, in: source)
    }

    private func line(of offset: Int) -> Int { source.location(of: offset).line }

    // MARK: - Methods

    /// Compiles the method; nil if an error was found.
    func compile() -> MethodFile? {
        if let field = method.accessorField {
            if method.accessorIsSetter {
                emitter.osGet(0)
                emitter.osSave(field.index)
                emitter.osGet(0)
            } else {
                emitter.osLoad(field.index)
            }
            emitter.op(.ret)
            return finish()
        }
        if let target = method.forwardsTo {
            for index in 0..<argumentCount { emitter.osGet(index) }
            emitter.op(.summonThis)
            emitter.call(target, arguments: argumentCount)
            emitter.op(.ret)
            return finish()
        }
        let declaration = method.declaration
        let body: [Stmt]
        if let block = declaration?.body, case let .block(statements) = block.kind { body = statements } else { body = [] }
        if let declaration {
            emitter.mark(line: line(of: declaration.position))
            planParameters(declaration, body: body)
            planCounter(declaration, body: body)
        }
        if method.isConstructor {
            compileConstructorStart(body)
        } else {
            body.forEach(statement)
        }
        if emitter.reachable {
            if method.isConstructor {
                emitter.op(.summonThis)
            } else if method.returnType != .void {
                error("missing return statement in method '\(method.name)', which returns \(method.returnType)",
                      at: endOfBody(declaration))
                emitter.op(.summonNull)
            } else {
                emitter.op(.summonNull)
            }
            emitter.op(.ret)
        }
        return finish()
    }

    private func endOfBody(_ declaration: MethodDeclaration?) -> Int {
        guard let declaration else { return 0 }
        // The closing brace: the last byte of the body's last line is good enough.
        var offset = declaration.position
        if let body = declaration.body { offset = lastPosition(body) }
        return offset
    }

    private func lastPosition(_ statement: Stmt) -> Int {
        if case let .block(statements) = statement.kind, let last = statements.last { return lastPosition(last) }
        return statement.position
    }

    private func finish() -> MethodFile? {
        // After an error, code generation went on past a node it could not
        // compile: inconsistent stacks are its consequence, not a compiler
        // bug (and nothing is written anyway).
        let checked = !failed && !table.sink.hasErrors
        if checked, let problem = emitter.inconsistency {
            error("internal compiler error in \(cls.name).\(method.name): \(problem)", at: method.declaration?.position ?? 0)
        }
        if checked && emitter.hasUnplacedLabels {
            error("internal compiler error in \(cls.name).\(method.name): a jump to an unplaced label", at: method.declaration?.position ?? 0)
        }
        guard !failed else { return nil }
        let objectLocals = highestObjectSlot - argumentCount
        let integerLocals = highestIntegerSlot + (usesCounter ? 1 : 0)
        var prologue: [UInt8] = []
        var objectsLeft = objectLocals
        var integersLeft = integerLocals
        while objectsLeft > 0 || integersLeft > 0 {
            let objects = min(objectsLeft, 255)
            let integers = min(integersLeft, 255)
            prologue += [Opcode.stackReserve.rawValue, UInt8(objects), UInt8(integers)]
            objectsLeft -= objects
            integersLeft -= integers
        }
        for (argument, slot, type) in parameterCopies {
            prologue.append(Opcode.osGet32.rawValue)
            prologue += bigEndian(argument)
            if let prefix = prefixOpcode(type) { prologue.append(prefix.rawValue) }
            prologue.append(Opcode.o2i.rawValue)
            prologue.append(Opcode.isSet32.rawValue)
            prologue += bigEndian(slot)
        }
        let (code, lines) = emitter.finish(prologue: prologue, counterSlot: highestIntegerSlot)
        let copies = parameterCopies.isEmpty ? 0 : 1
        return MethodFile(name: method.isConstructor ? "<init>" : method.name, ordinal: method.ordinal, arguments: argumentCount,
                          maxObjectStack: argumentCount + objectLocals + max(emitter.maxObjects, copies),
                          maxIntegerStack: integerLocals + max(emitter.maxIntegers, copies),
                          code: code, constants: emitter.constants, lines: lines)
    }

    private func bigEndian(_ value: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// Parameters go in scope; numeric ones that are assigned, used in a
    /// loop or used often are unboxed into an integer slot once (the copy
    /// costs four instructions and a bigger frame: fib's `n`, read three
    /// times on any path, is cheaper read in place).
    private func planParameters(_ declaration: MethodDeclaration, body: [Stmt]) {
        var uses = UsageCounter()
        body.forEach { uses.visit($0, inLoop: false) }
        for (index, parameter) in declaration.parameters.enumerated() {
            let type = index < method.parameters.count ? method.parameters[index] : .any
            if type.isNumeric {
                let usage = uses.usage[parameter.name] ?? UsageCounter.Usage()
                if usage.assigned || usage.inLoop || usage.count > 6 {
                    let slot = allocateIntegerSlot()
                    parameterCopies.append((index, slot, type))
                    scopes[0][parameter.name] = Local(name: parameter.name, type: type, slot: slot, onIntegerStack: true,
                                                      isCounter: false, isParameterInPlace: false)
                    continue
                }
            }
            scopes[0][parameter.name] = Local(name: parameter.name, type: type, slot: index, onIntegerStack: false,
                                              isCounter: false, isParameterInPlace: type.isNumeric)
        }
    }

    /// Picks a count-down loop whose counter can live on top of the integer stack (`djnz`).
    private func planCounter(_ declaration: MethodDeclaration, body: [Stmt]) {
        var finder = CounterLoopFinder()
        body.forEach { finder.visit($0, depth: 0) }
        guard let (loop, name) = finder.best else { return }
        // The counter must be a local declared in this method (or a parameter copy): find its declaration id.
        var declarations = DeclarationFinder(name: name)
        body.forEach { declarations.visit($0) }
        if declarations.count == 1, let id = declarations.id, declarations.type.map(isIntType) ?? false {
            counterVariable = id
            counterLoop = loop
        }
    }

    private func isIntType(_ syntax: TypeSyntax) -> Bool { syntax == .int || syntax == .boolean }

    private func compileConstructorStart(_ body: [Stmt]) {
        var rest = body[...]
        if let first = rest.first, case let .expression(expression) = first.kind, case let .superCall(nil, arguments) = expression.kind {
            emitter.mark(line: line(of: first.position))
            superConstructor(arguments, at: expression.position)
            rest = rest.dropFirst()
        } else if let parent = cls.parent, parent.needsConstruction {
            superConstructor([], at: method.declaration?.position ?? cls.declaration?.position ?? 0)
        }
        // Field initializers (and 0 for long/float/double fields).
        for field in cls.fields {
            if let initializer = field.declaration.initializer {
                emitter.mark(line: line(of: field.declaration.position))
                storeField(field, initializer)
            } else if field.type == .long || field.type == .float || field.type == .double {
                storeField(field, Expr(.intLiteral(0), at: field.declaration.position))
            }
        }
        rest.forEach(statement)
    }

    private func storeField(_ field: FieldSymbol, _ value: Expr) {
        push(value, as: field.type, context: "field '\(field.name)'")
        writeThisField(field)
    }

    private func superConstructor(_ arguments: [Expr], at position: Int) {
        guard let parent = cls.parent, parent.needsConstruction, let constructor = parent.constructor else {
            if !arguments.isEmpty { error("the parent class has no constructor that takes arguments", at: position) }
            return
        }
        // A generated constructor: the declaration pass has reported a mismatch.
        if method.declaration == nil && constructor.arity != arguments.count { failed = true; return }
        guard constructor.arity == arguments.count else {
            error("the constructor of \(parent.name) takes \(constructor.arity) argument\(constructor.arity == 1 ? "" : "s"), not \(arguments.count)\(arguments.isEmpty ? "; call super(...) first in the constructor" : "")", at: position)
            return
        }
        for (argument, type) in zip(arguments, constructor.parameters) { pushArgument(argument, as: type) }
        emitter.op(.summonThis)
        emitter.call(constructor.ordinal, arguments: arguments.count)
        emitter.op(.osDrop)
    }

    // MARK: - Slots and scopes

    private func allocateIntegerSlot() -> Int {
        let slot = nextIntegerSlot
        nextIntegerSlot += 1
        highestIntegerSlot = max(highestIntegerSlot, nextIntegerSlot)
        return slot
    }

    private func allocateObjectSlot() -> Int {
        let slot = nextObjectSlot
        nextObjectSlot += 1
        highestObjectSlot = max(highestObjectSlot, nextObjectSlot)
        return slot
    }

    private func pushScope() { scopes.append([:]) }

    private func popScope(objects: Int, integers: Int) {
        scopes.removeLast()
        nextObjectSlot = objects
        nextIntegerSlot = integers
    }

    private func withScope(_ body: () -> Void) {
        let saved = (nextObjectSlot, nextIntegerSlot)
        pushScope()
        body()
        popScope(objects: saved.0, integers: saved.1)
    }

    private func lookup(_ name: String) -> Local? {
        for scope in scopes.reversed() { if let found = scope[name] { return found } }
        return nil
    }

    /// Declares a local; returns it and whether its slot is fresh (still holds its initial null or 0).
    private func declare(_ name: String, type: ValueType, at position: Int, isCounter: Bool = false) -> (Local, Bool) {
        if lookup(name) != nil && !name.hasPrefix("$") {
            error("variable '\(name)' is already declared in this method", at: position)
        }
        let local: Local
        var fresh = false
        if isCounter {
            usesCounter = true
            local = Local(name: name, type: type, slot: -1, onIntegerStack: true, isCounter: true, isParameterInPlace: false)
        } else if type.isNumeric {
            fresh = nextIntegerSlot == highestIntegerSlot
            local = Local(name: name, type: type, slot: allocateIntegerSlot(), onIntegerStack: true, isCounter: false, isParameterInPlace: false)
        } else {
            fresh = nextObjectSlot == highestObjectSlot
            local = Local(name: name, type: type, slot: allocateObjectSlot(), onIntegerStack: false, isCounter: false, isParameterInPlace: false)
        }
        scopes[scopes.count - 1][name] = local
        return (local, fresh && loopDepth == 0)
    }

    /// A hidden local holding a value computed once (a receiver used twice, ...).
    private func temporary(_ type: ValueType) -> (Local, Expr) {
        temporaryNumber += 1
        let name = "$t\(temporaryNumber)"
        let (local, _) = declare(name, type: type == .null ? .any : type, at: 0)
        return (local, Expr(.name(name), at: 0))
    }

    private func load(_ local: Local) {
        if local.onIntegerStack {
            emitter.isGet(local.slot, counter: local.isCounter)
        } else {
            emitter.osGet(local.slot)
            if local.isParameterInPlace { unbox(local.type) }
        }
    }

    private func store(_ local: Local) {
        if local.onIntegerStack {
            emitter.isSet(local.slot, counter: local.isCounter)
        } else {
            emitter.osSet(local.slot)
        }
    }

    // MARK: - Numeric types

    func prefixOpcode(_ type: ValueType) -> Opcode? {
        switch type {
        case .long: Opcode.prefix(for: .long)
        case .float: Opcode.prefix(for: .float)
        case .double: Opcode.prefix(for: .double)
        default: nil
        }
    }

    /// Emits the type prefix for an integer-stack operation on `type`.
    private func prefix(_ type: ValueType, at position: Int) {
        guard let opcode = prefixOpcode(type) else { return }
        emitter.op(opcode)
    }

    private func unbox(_ type: ValueType, at position: Int = 0) {
        prefix(type, at: position)
        emitter.op(.o2i)
    }

    private func box(_ type: ValueType, at position: Int = 0) {
        // `o2i; i2o` is a no-op on an int object: drop both.
        if type == .int && emitter.removeTrailingUnbox() { return }
        prefix(type, at: position)
        emitter.op(.i2o)
    }

    /// Converts the value on top of its stack from one type to another
    /// (widening, boxing, unboxing); reports what cannot be converted.
    func convert(_ from: ValueType, to: ValueType, at position: Int, context: String) {
        if from == to || to == .void && from == .void { return }
        switch (from, to) {
        case (.void, _):
            error("a void method's result has no value (\(context))", at: position)
            emitter.op(.osDrop)
            if to.isNumeric { emitter.iconst(0) } else { emitter.op(.summonNull) }
        case (_, .void):
            // Value discarded.
            if from.isNumeric { emitter.op(.isDrop) } else { emitter.op(.osDrop) }
        case (.int, .long), (.int, .float), (.int, .double):
            prefix(to, at: position)
            emitter.op(.fromi)
        case (.long, .float), (.long, .double):
            prefix(to, at: position)
            emitter.op(.froml)
        case (.float, .double):
            prefix(to, at: position)
            emitter.op(.fromf)
        case (.long, .int), (.float, .int), (.double, .int), (.float, .long), (.double, .long), (.double, .float):
            error("\(from) cannot be used as \(to) without a cast (\(context)): write (\(to))", at: position)
        case (_, .any), (_, .object(InternalClassTable.object)):
            if from.isNumeric { box(from, at: position) }
        case (.int, .object(InternalClassTable.int)):
            box(.int)
        case (.any, _) where to.isNumeric, (.object(InternalClassTable.int), .int):
            unbox(to, at: position)
        case (.null, _) where to.isNumeric:
            error("null cannot be \(to) (\(context))", at: position)
            emitter.op(.osDrop)
            emitter.iconst(0)
        default:
            if from.isObject && to.isObject {
                if !table.isAssignable(from, to: to) {
                    error("\(context) needs \(to), found \(from)\(from.isObject && to.isObject ? " (use a cast)" : "")", at: position)
                }
            } else {
                error("\(context) needs \(to), found \(from)", at: position)
                if from.isNumeric { emitter.op(.isDrop) } else { emitter.op(.osDrop) }
                if to.isNumeric { emitter.iconst(0) } else { emitter.op(.summonNull) }
            }
        }
    }

    // MARK: - Statements

    func statement(_ statement: Stmt) {
        emitter.mark(line: line(of: statement.position))
        let heights = (emitter.objects, emitter.integers)
        defer {
            // After an error the heights may be off; keep later code consistent.
            if failed && emitter.reachable { emitter.restore(objects: heights.0, integers: heights.1) }
        }
        switch statement.kind {
        case .empty:
            break
        case let .block(statements):
            withScope { statements.forEach(self.statement) }
        case let .variables(declarations):
            for declaration in declarations { declareVariable(declaration) }
        case let .expression(expression):
            expressionStatement(expression)
        case let .ifElse(condition, then, otherwise):
            ifStatement(condition, then, otherwise)
        case let .whileLoop(condition, body):
            whileLoop(statement, condition, body)
        case let .doWhile(body, condition, step):
            doWhileLoop(body, condition, step)
        case let .forLoop(initializers, condition, updates, body):
            forLoop(statement, initializers, condition, updates, body)
        case let .switchCase(value, cases):
            switchStatement(value, cases, at: statement.position)
        case .breakLoop:
            jumpOut(isContinue: false, at: statement.position)
        case .continueLoop:
            jumpOut(isContinue: true, at: statement.position)
        case let .returnValue(value):
            returnStatement(value, at: statement.position)
        case let .throwValue(value):
            let type = self.value(value)
            if type.isNumeric { box(type, at: value.position) }
            else if type == .void { error("a void method's result cannot be thrown", at: value.position) }
            emitter.op(.throw)
        case let .tryCatch(body, clauses, finally):
            tryStatement(body, clauses, finally)
        case let .synchronized(lock, body):
            synchronizedStatement(lock, body)
        }
    }

    private func declareVariable(_ declaration: VariableDeclaration) {
        var type = table.resolve(declaration.type, file: file, at: declaration.position)
        if declaration.type == .untyped, let initializer = declaration.initializer {
            // `var x = 5;` takes the initializer's type (`var x;` alone is untyped).
            let inferred = typeOf(initializer)
            type = inferred == .null || inferred == .void ? .any : inferred
        }
        if type == .void { error("a variable cannot be void", at: declaration.position); type = .any }
        let isCounter = declaration.id == counterVariable && type == .int
        if let initializer = declaration.initializer {
            // The initializer cannot see the variable (`var x = x;` is an error).
            push(initializer, as: type, context: "the initial value of '\(declaration.name)'")
            let (local, _) = declare(declaration.name, type: type, at: declaration.position, isCounter: isCounter)
            store(local)
        } else {
            let (local, fresh) = declare(declaration.name, type: type, at: declaration.position, isCounter: isCounter)
            if !fresh || isCounter {
                pushZero(type)
                store(local)
            }
        }
    }

    private func pushZero(_ type: ValueType) {
        switch type {
        case .int: emitter.iconst(0)
        case .long, .double: prefix(type, at: 0); emitter.iconst64(0)
        case .float: prefix(type, at: 0); emitter.iconst32(0)
        default: emitter.op(.summonNull)
        }
    }

    private func expressionStatement(_ expression: Expr) {
        switch expression.kind {
        case .call, .ordinalCall, .superCall, .assign, .increment, .new:
            break
        default:
            warning("the value of this expression is not used", at: expression.position)
        }
        discard(expression)
    }

    private func ifStatement(_ condition: Expr, _ then: Stmt, _ otherwise: Stmt?) {
        if let constant = constantInt(condition) {
            // `if (0)`, `if (1)`: only the branch that runs is compiled... but both are checked.
            if constant != 0 { statement(then); if let otherwise { checkOnly(otherwise) } }
            else { checkOnly(then); if let otherwise { statement(otherwise) } }
            return
        }
        let elseLabel = emitter.newLabel()
        let end = emitter.newLabel()
        jumpIfFalse(condition, elseLabel)
        statement(then)
        if let otherwise {
            if emitter.reachable { emitter.jump(end) }
            emitter.place(elseLabel)
            statement(otherwise)
        } else {
            emitter.place(elseLabel)
        }
        emitter.place(end)
    }

    /// Compiles a statement that cannot run (for its errors), then drops its code.
    private func checkOnly(_ dead: Stmt) {
        let end = emitter.newLabel()
        emitter.jump(end)
        statement(dead)
        emitter.place(end)
    }

    private func loopBody(_ body: Stmt, breakLabel: Label, continueLabel: Label) {
        control.append(.loop(breakLabel: breakLabel, continueLabel: continueLabel))
        loopDepth += 1
        statement(body)
        loopDepth -= 1
        control.removeLast()
    }

    private func whileLoop(_ loop: Stmt, _ condition: Expr, _ body: Stmt) {
        let top = emitter.newLabel()
        let test = emitter.newLabel()
        let end = emitter.newLabel()
        if loop === counterLoop, let counter = counterLocal(in: condition), case let .block(statements) = body.kind, statements.count >= 1 {
            // while (i > 0) { ...; i = i - 1; }  ->  test once, then djnz.
            jumpIfFalse(condition, end)
            emitter.place(top)
            control.append(.loop(breakLabel: end, continueLabel: test))
            loopDepth += 1
            withScope { statements.dropLast().forEach(self.statement) }
            loopDepth -= 1
            control.removeLast()
            emitter.place(test)
            emitter.mark(line: line(of: statements.last!.position))
            if emitter.reachable { emitter.decrementAndJumpIfNotZero(top) }
            _ = counter
            emitter.place(end)
            return
        }
        if let constant = constantInt(condition) {
            if constant == 0 { checkOnly(body); return }
            emitter.place(top)
            loopBody(body, breakLabel: end, continueLabel: top)
            if emitter.reachable { emitter.jump(top) }
            emitter.place(end)
            return
        }
        emitter.jump(test)
        emitter.placeLoopTop(top)
        loopBody(body, breakLabel: end, continueLabel: test)
        emitter.place(test)
        jumpIfTrue(condition, top)
        emitter.place(end)
    }

    private func doWhileLoop(_ body: Stmt, _ condition: Expr, _ step: Stmt) {
        let top = emitter.newLabel()
        let test = emitter.newLabel()
        let end = emitter.newLabel()
        emitter.place(top)
        loopBody(body, breakLabel: end, continueLabel: test)
        emitter.place(test)
        emitter.mark(line: line(of: condition.position))
        if case .empty = step.kind {
            if let constant = constantInt(condition) {
                if constant != 0 { emitter.jump(top) }
            } else {
                jumpIfTrue(condition, top)
            }
        } else {
            // do B while (C) S;  S runs after each true test, before B again.
            jumpIfFalse(condition, end)
            control.append(.loop(breakLabel: end, continueLabel: test))
            loopDepth += 1
            statement(step)
            loopDepth -= 1
            control.removeLast()
            if emitter.reachable { emitter.jump(top) }
        }
        emitter.place(end)
    }

    private func forLoop(_ loop: Stmt, _ initializers: [Stmt], _ condition: Expr?, _ updates: [Expr], _ body: Stmt) {
        withScope {
            initializers.forEach(statement)
            let top = emitter.newLabel()
            let next = emitter.newLabel()
            let end = emitter.newLabel()
            if loop === counterLoop, let condition, counterLocal(in: condition) != nil {
                // for (...; i > 0; i--) body  ->  test once, then djnz.
                jumpIfFalse(condition, end)
                emitter.place(top)
                loopBody(body, breakLabel: end, continueLabel: next)
                emitter.place(next)
                if emitter.reachable { emitter.decrementAndJumpIfNotZero(top) }
                emitter.place(end)
                return
            }
            let test = emitter.newLabel()
            if let condition, constantInt(condition) == nil {
                emitter.jump(test)
            } else if let condition, constantInt(condition) == 0 {
                emitter.jump(end)
            }
            if emitter.reachable { emitter.place(top) } else { emitter.placeLoopTop(top) }
            loopBody(body, breakLabel: end, continueLabel: next)
            emitter.place(next)
            for update in updates { discard(update) }
            emitter.place(test)
            if let condition, constantInt(condition) == nil {
                jumpIfTrue(condition, top)
            } else if emitter.reachable {
                emitter.jump(top)
            }
            emitter.place(end)
        }
    }

    /// The counter local if `condition` tests the planned count-down counter.
    private func counterLocal(in condition: Expr) -> Local? {
        guard let name = CounterLoopFinder.counterName(condition), let local = lookup(name), local.isCounter else { return nil }
        return local
    }

    private func switchStatement(_ value: Expr, _ cases: [SwitchCase], at position: Int) {
        let type = typeOf(value)
        let isString = type == .string
        withScope {
            let slot: Local
            if isString {
                let (local, _) = temporary(.string)
                push(value, as: .string, context: "the switch value")
                store(local)
                slot = local
            } else {
                let (local, _) = temporary(.int)
                push(value, as: .int, context: "the switch value")
                store(local)
                slot = local
            }
            let end = emitter.newLabel()
            var labels: [Label] = []
            var defaultLabel: Label? = nil
            var seenInts = Set<Int32>()
            var seenStrings = Set<String>()
            for group in cases {
                let label = emitter.newLabel()
                labels.append(label)
                for (labelExpression, labelAt) in group.labels {
                    guard let labelExpression else {
                        if defaultLabel != nil { error("the switch has two 'default' labels", at: labelAt) }
                        defaultLabel = label
                        continue
                    }
                    if isString {
                        guard case let .stringLiteral(text) = labelExpression.kind else {
                            error("a case of a string switch must be a string literal", at: labelExpression.position)
                            continue
                        }
                        if !seenStrings.insert(text).inserted { error("duplicate case \"\(text)\"", at: labelExpression.position) }
                        load(slot)
                        emitter.string(text)
                        emitter.call(4, arguments: 1)  // equals
                        emitter.op(.o2i)
                        emitter.op(.logNot)
                        emitter.jumpIfZero(label)
                    } else {
                        guard let constant = constantInt(labelExpression) else {
                            error("a case label must be a constant int (a number or a character)", at: labelExpression.position)
                            continue
                        }
                        if !seenInts.insert(constant).inserted { error("duplicate case \(constant)", at: labelExpression.position) }
                        load(slot)
                        if constant != 0 {
                            emitter.iconst(constant)
                            emitter.op(.isublu)
                        }
                        emitter.jumpIfZero(label)
                    }
                }
            }
            emitter.jump(defaultLabel ?? end)
            control.append(.switchBlock(breakLabel: end))
            for (group, label) in zip(cases, labels) {
                emitter.place(label)
                group.body.forEach(statement)
            }
            control.removeLast()
            emitter.place(end)
        }
    }

    /// `break` / `continue`: undoes what lies between here and the loop, then jumps.
    private func jumpOut(isContinue: Bool, at position: Int) {
        for index in stride(from: control.count - 1, through: 0, by: -1) {
            switch control[index] {
            case let .loop(breakLabel, continueLabel):
                cleanUp(downTo: index + 1)
                emitter.jump(isContinue ? continueLabel : breakLabel)
                return
            case let .switchBlock(breakLabel) where !isContinue:
                cleanUp(downTo: index + 1)
                emitter.jump(breakLabel)
                return
            default:
                continue
            }
        }
        error(isContinue ? "'continue' outside a loop" : "'break' outside a loop or switch", at: position)
    }

    /// Emits what leaving the control entries from the innermost down to `level` needs.
    private func cleanUp(downTo level: Int) {
        var index = control.count - 1
        while index >= level {
            switch control[index] {
            case let .catchers(count):
                for _ in 0..<count { emitter.op(.popCatcher) }
            case let .finally(block):
                emitter.op(.popCatcher)
                // The finally block runs outside the entries it is part of.
                let saved = control
                control = Array(control[0..<index])
                statement(block)
                control = saved
            case let .mutex(slot):
                emitter.op(.popCatcher)
                emitter.osGet(slot)
                emitter.op(.generalUnlock)
            case .loop, .switchBlock:
                break
            }
            index -= 1
        }
    }

    private func returnStatement(_ value: Expr?, at position: Int) {
        if method.isConstructor {
            if let value { error("a constructor cannot return a value", at: value.position) }
            cleanUp(downTo: 0)
            emitter.op(.summonThis)
            emitter.op(.ret)
            return
        }
        if let value {
            if method.returnType == .void {
                error("method '\(method.name)' is void and cannot return a value", at: value.position)
                discard(value)
                emitter.op(.summonNull)
            } else {
                push(value, as: method.returnType, context: "the return value")
                if method.returnType.isNumeric { box(method.returnType, at: value.position) }
            }
        } else {
            if method.returnType != .void { error("method '\(method.name)' must return \(method.returnType)", at: position) }
            emitter.op(.summonNull)
        }
        cleanUp(downTo: 0)
        emitter.op(.ret)
    }

    private func tryStatement(_ body: Stmt, _ clauses: [CatchClause], _ finally: Stmt?) {
        let afterCatches = emitter.newLabel()
        let finallyHandler = emitter.newLabel()
        let end = emitter.newLabel()
        if finally != nil {
            emitter.op(.summonNull)
            emitter.pushCatcher(finallyHandler)
            control.append(.finally(finally!))
        }
        // Catchers are examined newest first: push the last clause first.
        let handlers = clauses.map { _ in emitter.newLabel() }
        var caughtTypes: [ValueType] = []
        for clause in clauses {
            var type = table.resolve(clause.variable.type, file: file, at: clause.variable.position)
            if type == .void { type = .any }
            caughtTypes.append(type)
        }
        for (index, clause) in clauses.enumerated().reversed() {
            pushClass(of: caughtTypes[index], at: clause.variable.position)
            emitter.pushCatcher(handlers[index])
        }
        if !clauses.isEmpty { control.append(.catchers(clauses.count)) }
        statement(body)
        if !clauses.isEmpty { control.removeLast() }
        if emitter.reachable {
            for _ in clauses { emitter.op(.popCatcher) }
            emitter.jump(afterCatches)
        }
        for (index, clause) in clauses.enumerated() {
            emitter.place(handlers[index])
            // This clause's catcher and the newer ones are gone; drop the older ones of this try.
            for _ in (index + 1)..<clauses.count { emitter.op(.popCatcher) }
            withScope {
                let type = caughtTypes[index]
                let (local, _) = declare(clause.variable.name, type: type, at: clause.variable.position)
                if type.isNumeric { unbox(type, at: clause.variable.position) }
                store(local)
                emitter.mark(line: line(of: clause.body.position))
                statement(clause.body)
            }
            if emitter.reachable { emitter.jump(afterCatches) }
        }
        emitter.place(afterCatches)
        if let finally {
            control.removeLast()
            if emitter.reachable || emitter.isTargeted(afterCatches) {
                emitter.op(.popCatcher)
                statement(finally)
                if emitter.reachable { emitter.jump(end) }
            }
            // Any exception: run the finally block, then throw it on.
            emitter.place(finallyHandler)
            withScope {
                let (saved, _) = temporary(.any)
                store(saved)
                statement(finally)
                if emitter.reachable {
                    load(saved)
                    emitter.op(.throw)
                }
            }
        }
        emitter.place(end)
    }

    /// Pushes the class a catcher catches (`null`: everything).
    private func pushClass(of type: ValueType, at position: Int) {
        switch type {
        case .any, .object(InternalClassTable.object): emitter.op(.summonNull)
        case .int: emitter.summon(className: InternalClassTable.int)
        case let .object(name): emitter.summon(className: name)
        default:
            error("cannot catch \(type)", at: position)
            emitter.op(.summonNull)
        }
    }

    private func synchronizedStatement(_ lock: Expr, _ body: Stmt) {
        withScope {
            let type = typeOf(lock)
            if type != .object(InternalClassTable.mutex) && type != .any {
                error("synchronized needs a .internal.mutex, found \(type)", at: lock.position)
            }
            let (local, _) = temporary(.object(InternalClassTable.mutex))
            push(lock, as: .any, context: "the mutex")
            emitter.op(.osDup)
            store(local)
            emitter.op(.generalLock)
            let handler = emitter.newLabel()
            let end = emitter.newLabel()
            emitter.op(.summonNull)
            emitter.pushCatcher(handler)
            control.append(.mutex(slot: local.slot))
            statement(body)
            control.removeLast()
            if emitter.reachable {
                emitter.op(.popCatcher)
                load(local)
                emitter.op(.generalUnlock)
                emitter.jump(end)
            }
            emitter.place(handler)
            load(local)
            emitter.op(.generalUnlock)
            emitter.op(.throw)
            emitter.place(end)
        }
    }

    // MARK: - Conditions

    /// Evaluates a condition and jumps to `label` if it is false (0).
    func jumpIfFalse(_ condition: Expr, _ label: Label) {
        switch condition.kind {
        case let .unary(.not, inner):
            jumpIfTrue(inner, label)
        case let .binary(.logicalAnd, left, right):
            jumpIfFalse(left, label)
            jumpIfFalse(right, label)
        case let .binary(.logicalOr, left, right):
            let skip = emitter.newLabel()
            jumpIfTrue(left, skip)
            jumpIfFalse(right, label)
            emitter.place(skip)
        case let .binary(op, left, right) where op.isComparison:
            comparisonJump(op, left, right, whenTrue: false, label, at: condition.position)
        default:
            if let constant = constantInt(condition) {
                if constant == 0 { emitter.jump(label) }
                return
            }
            truthValue(condition)
            emitter.jumpIfZero(label)
        }
    }

    /// Evaluates a condition and jumps to `label` if it is true (non-zero).
    func jumpIfTrue(_ condition: Expr, _ label: Label) {
        switch condition.kind {
        case let .unary(.not, inner):
            jumpIfFalse(inner, label)
        case let .binary(.logicalAnd, left, right):
            let skip = emitter.newLabel()
            jumpIfFalse(left, skip)
            jumpIfTrue(right, label)
            emitter.place(skip)
        case let .binary(.logicalOr, left, right):
            jumpIfTrue(left, label)
            jumpIfTrue(right, label)
        case let .binary(op, left, right) where op.isComparison:
            comparisonJump(op, left, right, whenTrue: true, label, at: condition.position)
        default:
            if let constant = constantInt(condition) {
                if constant != 0 { emitter.jump(label) }
                return
            }
            truthValue(condition)
            emitter.op(.logNot)
            emitter.jumpIfZero(label)
        }
    }

    /// Pushes an int that is non-zero when the condition holds.
    private func truthValue(_ condition: Expr) {
        let type = value(condition)
        switch type {
        case .int: break
        case .any: unbox(.int, at: condition.position)
        case .void: error("a void method's result cannot be a condition", at: condition.position); emitter.op(.osDrop); emitter.iconst(0)
        default:
            error("a condition must be an int (or a comparison), found \(type)\(type.isObject ? "; compare with null" : "")", at: condition.position)
            if type.isNumeric { emitter.op(.isDrop) } else { emitter.op(.osDrop) }
            emitter.iconst(0)
        }
    }

    /// A comparison used as a condition: jumps when it is `whenTrue`.
    private func comparisonJump(_ op: BinaryOperator, _ left: Expr, _ right: Expr, whenTrue: Bool, _ label: Label, at position: Int) {
        let leftType = typeOf(left)
        let rightType = typeOf(right)
        if leftType == .int && rightType == .int {
            // Ints: equality through the difference (exact with wrapping), order through the opposite test.
            pushOperands(left, right, as: .int)
            switch (op, whenTrue) {
            case (.equal, true), (.notEqual, false):
                emitter.op(.isublu)
            case (.equal, false), (.notEqual, true):
                emitter.op(.isublu)
                emitter.op(.logNot)
            default:
                // jz jumps on 0: to jump when `a < b` holds, compute `a >= b`.
                let test = whenTrue ? opposite(op) : op
                emitter.op(comparisonOpcode(test))
            }
            emitter.jumpIfZero(label)
            return
        }
        comparisonValue(op, left, right, at: position)
        if whenTrue { emitter.op(.logNot) }
        emitter.jumpIfZero(label)
    }

    private func opposite(_ op: BinaryOperator) -> BinaryOperator {
        switch op {
        case .less: .greaterEqual
        case .lessEqual: .greater
        case .greater: .lessEqual
        case .greaterEqual: .less
        case .equal: .notEqual
        default: .equal
        }
    }

    private func comparisonOpcode(_ op: BinaryOperator) -> Opcode {
        switch op {
        case .less: .ilt
        case .lessEqual: .ile
        case .greater: .igt
        default: .ige
        }
    }

    /// Pushes a comparison's 0/1 result.
    private func comparisonValue(_ op: BinaryOperator, _ left: Expr, _ right: Expr, at position: Int) {
        let leftType = typeOf(left)
        let rightType = typeOf(right)
        if leftType.isNumeric && rightType.isNumeric {
            let type = ValueType.promoted(leftType, rightType)
            pushOperands(left, right, as: type)
            switch op {
            case .equal, .notEqual:
                prefix(type, at: position)
                emitter.op(op == .equal ? .ieq : .ineq)
            default:
                prefix(type, at: position)
                emitter.op(comparisonOpcode(op))
            }
            return
        }
        guard op == .equal || op == .notEqual else {
            error("'\(op.spelling)' compares numbers, not \(leftType) and \(rightType)", at: position)
            discard(left); discard(right)
            emitter.iconst(0)
            return
        }
        // Objects: null tests and identity (tagged ints compare by value).
        if case .null = right.kind {
            push(left, as: .any, context: "the comparison")
            emitter.op(.osIsNull)
            if op == .notEqual { emitter.op(.logNot) }
            return
        }
        if case .null = left.kind {
            push(right, as: .any, context: "the comparison")
            emitter.op(.osIsNull)
            if op == .notEqual { emitter.op(.logNot) }
            return
        }
        if (leftType.isNumeric && leftType != .int && rightType.isObject) || (rightType.isNumeric && rightType != .int && leftType.isObject) {
            // A long/float/double against an untyped value: compare as numbers.
            let type = leftType.isNumeric ? leftType : rightType
            pushOperands(left, right, as: type)
            prefix(type, at: position)
            emitter.op(op == .equal ? .ieq : .ineq)
            return
        }
        if leftType.isObject && rightType.isObject && !table.isAssignable(leftType, to: rightType) && !table.isAssignable(rightType, to: leftType) {
            error("'\(op.spelling)' between unrelated types \(leftType) and \(rightType)", at: position)
        }
        pushOperands(left, right, as: .any)
        emitter.op(op == .equal ? .osEq : .osNeq)
    }

    // MARK: - Expressions

    /// Evaluates for effect only: nothing is left on the stacks.
    func discard(_ expression: Expr) {
        switch expression.kind {
        case let .assign(op, target, value):
            assign(op, target, value, keep: false, at: expression.position)
        case let .increment(isPrefix, delta, target):
            increment(isPrefix, delta, target, keep: false, at: expression.position)
        case let .call(receiver, name, arguments):
            _ = call(receiver, name, arguments, at: expression.position, keep: false)
        default:
            let type = value(expression)
            if type.isNumeric { emitter.op(.isDrop) } else { emitter.op(.osDrop) }
        }
    }

    /// Evaluates and converts to `type`.
    func push(_ expression: Expr, as type: ValueType, context: String) {
        // Literals straight into the wanted numeric type.
        if type.isNumeric, type != .int, let literal = numericLiteral(expression, as: type) {
            pushConstant(literal, type, at: expression.position)
            return
        }
        let found = value(expression)
        convert(found, to: type, at: expression.position, context: context)
    }

    private enum NumericConstant { case integer(Int64), floating(Double) }

    private func numericLiteral(_ expression: Expr, as type: ValueType) -> NumericConstant? {
        switch expression.kind {
        case let .intLiteral(value): return type == .long ? .integer(Int64(value)) : .floating(Double(value))
        case let .longLiteral(value): return type == .long ? .integer(value) : type == .int ? nil : .floating(Double(value))
        case let .unary(.negate, inner):
            switch numericLiteral(inner, as: type) {
            case let .integer(value)?: return .integer(0 &- value)
            case let .floating(value)?: return .floating(-value)
            case nil: return nil
            }
        default: return nil
        }
    }

    private func pushConstant(_ constant: NumericConstant, _ type: ValueType, at position: Int) {
        prefix(type, at: position)
        switch (constant, type) {
        case let (.integer(value), _): emitter.iconst64(UInt64(bitPattern: value))
        case let (.floating(value), .float): emitter.iconst32(Float(value).bitPattern)
        case let (.floating(value), _): emitter.iconst64(value.bitPattern)
        }
    }

    /// Pushes both operands converted to `type`, in source order when it matters.
    private func pushOperands(_ left: Expr, _ right: Expr, as type: ValueType) {
        push(left, as: type, context: "the left operand")
        push(right, as: type, context: "the right operand")
    }

    /// The value of an expression, pushed on its stack; returns its type.
    @discardableResult
    func value(_ expression: Expr) -> ValueType {
        let at = expression.position
        switch expression.kind {
        case let .intLiteral(value):
            emitter.iconst(value)
            return .int
        case let .longLiteral(value):
            pushConstant(.integer(value), .long, at: at)
            return .long
        case let .floatLiteral(value):
            prefix(.float, at: at)
            emitter.iconst32(value.bitPattern)
            return .float
        case let .doubleLiteral(value):
            pushConstant(.floating(value), .double, at: at)
            return .double
        case let .stringLiteral(text):
            emitter.string(text)
            return .string
        case .null:
            emitter.op(.summonNull)
            return .null
        case .this:
            emitter.op(.summonThis)
            return .object(cls.name)
        case let .name(name):
            if let local = lookup(name) {
                load(local)
                return local.type
            }
            if let field = cls.field(named: name) {
                readThisField(field)
                return field.type
            }
            if let found = table.lookupClass(name, file: file) {
                emitter.summon(className: found.name)
                return .object(InternalClassTable.classClass)
            }
            error("unknown name '\(name)'", at: at)
            emitter.op(.summonNull)
            return .any
        case let .className(name):
            guard let found = table.classes[name] else {
                error("unknown class '\(name)'", at: at)
                emitter.op(.summonNull)
                return .any
            }
            emitter.summon(className: found.name)
            return .object(InternalClassTable.classClass)
        case let .member(receiver, name):
            return member(receiver, name, at: at)
        case let .call(receiver, name, arguments):
            return call(receiver, name, arguments, at: at, keep: true)
        case let .ordinalCall(receiver, ordinal, arguments):
            let receiverType = typeOf(receiver)
            let spill = needsSpill(receiver, before: arguments)
            var saved: Local? = nil
            if spill {
                let (local, _) = temporary(receiverType)
                push(receiver, as: receiverType.isNumeric ? .any : receiverType, context: "the receiver")
                store(local)
                saved = local
            }
            checkArgumentCount(arguments.count, at: at)
            for argument in arguments { push(argument, as: .any, context: "an argument") }
            if let saved { load(saved) } else { pushReceiver(receiver) }
            emitter.call(ordinal, arguments: arguments.count)
            return .any
        case let .superCall(name, arguments):
            return superCall(name, arguments, at: at)
        case let .index(array, index):
            return indexRead(array, index, at: at)
        case let .new(type, arguments):
            return newObject(type, arguments, at: at)
        case let .newArray(element, size):
            return newArray(element, size, at: at)
        case let .unary(op, operand):
            return unary(op, operand, at: at)
        case let .binary(op, left, right):
            return binary(op, left, right, at: at)
        case let .assign(op, target, value):
            return assign(op, target, value, keep: true, at: at)
        case let .increment(isPrefix, delta, target):
            return increment(isPrefix, delta, target, keep: true, at: at)
        case let .conditional(condition, then, otherwise):
            let type = unify(typeOf(then), typeOf(otherwise))
            let elseLabel = emitter.newLabel()
            let end = emitter.newLabel()
            jumpIfFalse(condition, elseLabel)
            push(then, as: type, context: "the conditional's value")
            emitter.jump(end)
            emitter.place(elseLabel)
            push(otherwise, as: type, context: "the conditional's value")
            emitter.place(end)
            return type
        case let .cast(type, operand):
            return cast(type, operand, at: at)
        case let .instanceOf(operand, type):
            let target = table.resolve(type, file: file, at: at)
            let operandType = value(operand)
            if operandType.isNumeric {
                box(operandType, at: at)
            } else if !operandType.isObject {
                error("instanceof needs an object, found \(operandType)", at: at)
                emitter.op(.osDrop)
                emitter.iconst(0)
                return .int
            }
            instanceTest(target, at: at)
            return .int
        }
    }

    /// Pushes the receiver of a call (`this` when implicit).
    private func pushReceiver(_ receiver: Expr?) {
        guard let receiver else { emitter.op(.summonThis); return }
        let type = value(receiver)
        if type.isNumeric { box(type, at: receiver.position) }
    }

    // MARK: - Fields

    private func readThisField(_ field: FieldSymbol) {
        switch field.type {
        case .int: emitter.isLoad(field.index)
        case .long, .float, .double: emitter.osLoad(field.index); unbox(field.type)
        default: emitter.osLoad(field.index)
        }
    }

    private func writeThisField(_ field: FieldSymbol) {
        switch field.type {
        case .int: emitter.isSave(field.index)
        case .long, .float, .double: box(field.type); emitter.osSave(field.index)
        default: emitter.osSave(field.index)
        }
    }

    /// The field `name` of objects of `type` (user classes: through the accessors).
    private func fieldOf(_ type: ValueType, _ name: String, at position: Int) -> FieldSymbol? {
        switch type {
        case let .object(className):
            guard let owner = table.classes[className], !owner.isInternal else {
                error("\(type) has no field '\(name)'\(type.isString && name == "length" ? "; call length()" : "")", at: position)
                return nil
            }
            guard let field = owner.field(named: name) else {
                error("class \(className) has no field '\(name)'", at: position)
                return nil
            }
            return field
        case .any:
            let candidates = table.fieldsAnywhere(named: name)
            guard let first = candidates.first else {
                error("no class has a field '\(name)'", at: position)
                return nil
            }
            guard candidates.count == 1 else {
                error("the field '\(name)' of an untyped value is ambiguous (\(candidates.map(\.owner.name).joined(separator: ", ")) have one); declare the variable's type", at: position)
                return nil
            }
            return first
        default:
            error("\(type) has no field '\(name)'", at: position)
            return nil
        }
    }

    private func member(_ receiver: Expr, _ name: String, at position: Int) -> ValueType {
        if case .this = receiver.kind, let field = cls.field(named: name) {
            readThisField(field)
            return field.type
        }
        let type = typeOf(receiver)
        if name == "length" || name == "size" {
            if case .array = type { pushReceiver(receiver); emitter.call(10, arguments: 0); unbox(.int); return .int }
            if type == .object(InternalClassTable.array) { pushReceiver(receiver); emitter.call(10, arguments: 0); unbox(.int); return .int }
        }
        guard let field = fieldOf(type, name, at: position), let getter = field.getter else {
            value(receiver)
            emitter.op(.osDrop)
            emitter.op(.summonNull)
            return .any
        }
        pushReceiver(receiver)
        emitter.call(getter, arguments: 0)
        if field.type.isNumeric { unbox(field.type) }
        return field.type
    }

    // MARK: - Calls

    /// Finds the method a call names on a receiver of `type` (nil: `this`).
    func resolveMethod(on type: ValueType?, _ name: String, arity: Int, report: Bool, at position: Int) -> MethodSymbol? {
        func fail(_ message: String) -> MethodSymbol? {
            if report { error(message, at: position) }
            return nil
        }
        func describe(_ owner: ClassSymbol) -> String {
            let found = owner.methods(named: name)
            let arities = found.map(\.arity)
            if arities.isEmpty { return "\(owner.isInternal ? "" : "class ")\(owner.name) has no method '\(name)'" }
            return "\(found[0].owner.name).\(name) takes \(arities.map(String.init).joined(separator: " or ")) argument\(arities == [1] ? "" : "s"), not \(arity)"
        }
        guard let type else {
            return cls.method(named: name, arity: arity) ?? fail(describe(cls))
        }
        switch type {
        case let .object(className):
            guard let owner = table.classes[className] else { return fail("unknown class \(className)") }
            return owner.method(named: name, arity: arity) ?? fail(describe(owner))
        case .int, .long, .float, .double:
            guard let owner = table.classes[InternalClassTable.int] else { return nil }
            return InternalClassTable.universal(named: name, arity: arity, owner: owner) ?? fail("\(type) values have no method '\(name)' (only equals, toString and hashCode)")
        case .array:
            guard let owner = table.classes[InternalClassTable.array] else { return nil }
            return owner.method(named: name, arity: arity) ?? fail("arrays have no method '\(name)' with \(arity) argument\(arity == 1 ? "" : "s"); use a[i], a[i] = v, a.length, a.append(v)")
        case .any:
            if let owner = table.classes[InternalClassTable.object], let universal = InternalClassTable.universal(named: name, arity: arity, owner: owner) {
                return universal
            }
            let candidates = table.methodsAnywhere(named: name, arity: arity)
            guard let first = candidates.first else { return fail("no class has a method '\(name)' with \(arity) argument\(arity == 1 ? "" : "s")") }
            let ordinals = Set(candidates.map(\.ordinal))
            let kinds = Set(candidates.map { $0.kind == .call ? 0 : $0.kind == .lock ? 1 : 2 })
            guard ordinals.count == 1, kinds.count == 1 else {
                let owners = candidates.map { "\($0.owner.name) (ordinal \($0.ordinal))" }.sorted()
                return fail("cannot call '\(name)' on an untyped value: \(owners.joined(separator: ", ")) differ; give the variable a type")
            }
            if candidates.count == 1 { return first }
            // Same ordinal everywhere: the parameter and result types may differ, so use objects.
            let results = Set(candidates.map(\.returnType))
            let result = results.count == 1 ? first.returnType : (results.allSatisfy(\.isObject) ? .any : .any)
            let owner = first.owner
            return MethodSymbol(name: name, ordinal: first.ordinal, parameters: first.variadic ? [] : Array(repeating: .any, count: arity),
                                returnType: result == .void ? .void : result.isNumeric && results.count > 1 ? .any : result,
                                owner: owner, kind: first.kind, variadic: first.variadic)
        case .null:
            return fail("cannot call a method on null")
        case .void:
            return fail("a void method's result has no methods")
        }
    }

    /// `call ORD N` carries N in 0...255 (the VM's limit): more is an error, not truncated code.
    private func checkArgumentCount(_ count: Int, at position: Int) {
        if count > SymbolTable.maximumArguments {
            error("a call passes at most \(SymbolTable.maximumArguments) arguments (the VM's limit); this one passes \(count)", at: position)
        }
    }

    /// A call by name: arguments first, then the receiver on top, then `call ORD N`.
    @discardableResult
    func call(_ receiver: Expr?, _ name: String, _ arguments: [Expr], at position: Int, keep: Bool) -> ValueType {
        checkArgumentCount(arguments.count, at: position)
        let receiverType = receiver.map(typeOf)
        if receiver != nil, case .array = receiverType!, name == "length", arguments.isEmpty {
            pushReceiver(receiver)
            emitter.call(10, arguments: 0)
            return finishCall(.int, keep: keep)
        }
        guard let target = resolveMethod(on: receiverType, name, arity: arguments.count, report: true, at: position) else {
            for argument in arguments { discard(argument) }
            if let receiver { discard(receiver) }
            if keep { emitter.op(.summonNull) }
            return .any
        }
        if target.kind != .call {
            // mutex.lock() / unlock(): the VM's instructions.
            pushReceiver(receiver)
            emitter.op(target.kind == .lock ? .generalLock : .generalUnlock)
            if keep { emitter.op(.summonNull) }
            return .void
        }
        var saved: Local? = nil
        if let receiver, needsSpill(receiver, before: arguments) {
            let (local, _) = temporary(receiverType!.isNumeric ? .any : receiverType!)
            pushReceiver(receiver)
            store(local)
            saved = local
        }
        for (index, argument) in arguments.enumerated() {
            let type = target.variadic || index >= target.parameters.count ? .any : target.parameters[index]
            pushArgument(argument, as: type)
        }
        if let saved { load(saved) } else { pushReceiver(receiver) }
        emitter.call(target.ordinal, arguments: arguments.count)
        return finishCall(target.returnType, keep: keep)
    }

    /// Arguments travel as objects: numbers are boxed.
    private func pushArgument(_ argument: Expr, as type: ValueType) {
        push(argument, as: type, context: "an argument")
        if type.isNumeric { box(type, at: argument.position) }
    }

    /// After `call`: unboxes a numeric result, or drops it.
    private func finishCall(_ result: ValueType, keep: Bool) -> ValueType {
        if !keep { emitter.op(.osDrop); return result }
        if result.isNumeric { unbox(result) }
        return result
    }

    private func superCall(_ name: String?, _ arguments: [Expr], at position: Int) -> ValueType {
        guard let name else {
            error("super(...) must be the first statement of a constructor", at: position)
            arguments.forEach(discard)
            emitter.op(.summonNull)
            return .void
        }
        _ = name
        error("super.\(name)(...) is not supported: the VM has no non-virtual call (static_invoke)", at: position)
        arguments.forEach(discard)
        emitter.op(.summonNull)
        return .any
    }

    // MARK: - Objects and arrays

    private func newObject(_ type: TypeSyntax, _ arguments: [Expr], at position: Int) -> ValueType {
        let resolved = table.resolve(type, file: file, at: position)
        guard case let .object(name) = resolved, let target = table.classes[name] else {
            if resolved != .any { error("cannot make a \(resolved) with new\(resolved.isNumeric ? "; numbers need no new" : "")", at: position) }
            arguments.forEach(discard)
            emitter.op(.summonNull)
            return .any
        }
        if target.isInterface { error("cannot make an instance of interface \(name)", at: position) }
        if target.isInternal {
            if !target.instantiable { error("\(name) objects are made by the VM, not with new", at: position) }
            if !arguments.isEmpty { error("new \(name) takes no arguments", at: position) }
            arguments.forEach(discard)
            emitter.summon(className: name)
            emitter.op(.new)
            return resolved
        }
        let constructor = target.constructor
        if let constructor {
            if constructor.arity != arguments.count {
                error("the constructor of \(name) takes \(constructor.arity) argument\(constructor.arity == 1 ? "" : "s"), not \(arguments.count)", at: position)
                arguments.forEach(discard)
            } else {
                for (argument, type) in zip(arguments, constructor.parameters) { pushArgument(argument, as: type) }
            }
        } else if !arguments.isEmpty {
            error("class \(name) has no constructor that takes arguments", at: position)
            arguments.forEach(discard)
        }
        emitter.summon(className: name)
        emitter.op(.new)
        if let constructor, constructor.arity == arguments.count {
            // The constructor returns `this`.
            emitter.call(constructor.ordinal, arguments: arguments.count)
        }
        return resolved
    }

    /// `new T[]()` / `new T[n]`: a `.internal.array`, which grows when an
    /// element past its end is set; `new T[n]` sets elements n-1 down to 0 to 0 (or null).
    private func newArray(_ element: TypeSyntax, _ size: Expr?, at position: Int) -> ValueType {
        var elementType = table.resolve(element, file: file, at: position)
        if elementType == .void { elementType = .any }
        emitter.summon(className: InternalClassTable.array)
        emitter.op(.new)
        guard let size else { return .array(elementType) }
        // Fill n elements with the default value, from n-1 down to 0.
        withScope {
            let (array, _) = temporary(.array(elementType))
            store(array)
            push(size, as: .int, context: "the array size")
            // A negative size is an error, not an empty array.
            let sizeIsValid = emitter.newLabel()
            emitter.op(.isDup)
            emitter.iconst(0)
            emitter.op(.ilt)
            emitter.jumpIfZero(sizeIsValid)
            emitter.string("negative array size")
            emitter.op(.throw)
            emitter.place(sizeIsValid)
            let test = emitter.newLabel()
            let done = emitter.newLabel()
            emitter.place(test)
            emitter.op(.isDup)
            emitter.iconst(0)
            emitter.op(.igt)
            emitter.jumpIfZero(done)
            emitter.iconst(1)
            emitter.op(.isublu)
            emitter.op(.isDup)
            emitter.op(.i2o)
            if elementType.isNumeric {
                pushZero(elementType)
                box(elementType)
            } else {
                emitter.op(.summonNull)
            }
            load(array)
            emitter.call(9, arguments: 2)  // set(i, 0)
            emitter.op(.osDrop)
            emitter.jump(test)
            emitter.place(done)
            emitter.op(.isDrop)
            load(array)
        }
        return .array(elementType)
    }

    private func elementType(of type: ValueType, at position: Int) -> (ValueType, getOrdinal: Int)? {
        switch type {
        case let .array(element): return (element, 8)
        case .object(InternalClassTable.array): return (.any, 8)
        case .any: return (.any, 8)
        default:
            error("\(type) cannot be indexed", at: position)
            return nil
        }
    }

    private func indexRead(_ array: Expr, _ index: Expr, at position: Int) -> ValueType {
        let arrayType = typeOf(array)
        guard let (element, ordinal) = elementType(of: arrayType, at: position) else {
            discard(array); discard(index)
            emitter.op(.summonNull)
            return .any
        }
        var saved: Local? = nil
        if needsSpill(array, before: [index]) {
            let (local, _) = temporary(arrayType)
            push(array, as: arrayType, context: "the array")
            store(local)
            saved = local
        }
        push(index, as: .int, context: "the index")
        box(.int)
        if let saved { load(saved) } else { push(array, as: arrayType, context: "the array") }
        emitter.call(ordinal, arguments: 1)
        if element.isNumeric { unbox(element, at: position) }
        return element
    }

    // MARK: - Assignment

    /// `target = value` / `target op= value`; leaves the new value if `keep`.
    @discardableResult
    private func assign(_ op: BinaryOperator?, _ target: Expr, _ value: Expr, keep: Bool, at position: Int) -> ValueType {
        switch target.kind {
        case let .name(name):
            if let local = lookup(name) {
                let newValue = op.map { Expr(.binary($0, target, value), at: position) } ?? value
                if let op, local.onIntegerStack, local.type == .int, typeOf(value) == .int, [.add, .subtract, .multiply].contains(op) {
                    // i += k without conversions.
                    load(local)
                    push(value, as: .int, context: "the value")
                    emitter.op(op == .add ? .isum : op == .subtract ? .isublu : .imul)
                } else {
                    push(newValue, as: local.type, context: "the value of '\(name)'")
                }
                if local.isParameterInPlace {
                    error("internal: parameter '\(name)' is assigned but was not copied", at: position)
                }
                if keep { duplicate(local.type) }
                store(local)
                return local.type
            }
            if let field = cls.field(named: name) {
                let newValue = op.map { Expr(.binary($0, target, value), at: position) } ?? value
                push(newValue, as: field.type, context: "the value of field '\(name)'")
                if keep { duplicate(field.type) }
                writeThisField(field)
                return field.type
            }
            error("unknown name '\(name)'", at: target.position)
            discard(value)
            if keep { emitter.op(.summonNull) }
            return .any
        case let .member(receiver, name):
            if case .this = receiver.kind, let field = cls.field(named: name) {
                let newValue = op.map { Expr(.binary($0, target, value), at: position) } ?? value
                push(newValue, as: field.type, context: "the value of field '\(name)'")
                if keep { duplicate(field.type) }
                writeThisField(field)
                return field.type
            }
            let receiverType = typeOf(receiver)
            guard let field = fieldOf(receiverType, name, at: target.position), let setter = field.setter else {
                discard(receiver); discard(value)
                if keep { emitter.op(.summonNull) }
                return .any
            }
            do {
                var receiverExpression = receiver
                if op != nil || needsSpill(receiver, before: [value]) {
                    if !isStable(receiver) || op != nil && !isSimple(receiver) {
                        let (local, name) = temporary(receiverType)
                        push(receiver, as: receiverType, context: "the object")
                        store(local)
                        receiverExpression = name
                    }
                }
                let current = Expr(.member(receiverExpression, field.name), at: target.position)
                let newValue = op.map { Expr(.binary($0, current, value), at: position) } ?? value
                push(newValue, as: field.type, context: "the value of field '\(name)'")
                if field.type.isNumeric { box(field.type) }
                push(receiverExpression, as: receiverType, context: "the object")
                emitter.call(setter, arguments: 1)
                // The setter returns the value it stored.
                if keep { if field.type.isNumeric { unbox(field.type) } } else { emitter.op(.osDrop) }
                return field.type
            }
        case let .index(array, index):
            let arrayType = typeOf(array)
            guard case let .array(element) = arrayType.normalizedArray else {
                error("\(arrayType) cannot be indexed", at: target.position)
                discard(array); discard(index); discard(value)
                if keep { emitter.op(.summonNull) }
                return .any
            }
            var arrayExpression = array
            var indexExpression = index
            if op != nil || keep || needsSpill(array, before: [index, value]) {
                if !isSimple(array) {
                    let (local, name) = temporary(arrayType)
                    push(array, as: arrayType, context: "the array")
                    store(local)
                    arrayExpression = name
                }
                if op != nil && !isSimple(index) || needsSpill(index, before: [value]) {
                    let (local, name) = temporary(.int)
                    push(index, as: .int, context: "the index")
                    store(local)
                    indexExpression = name
                }
            }
            let current = Expr(.index(arrayExpression, indexExpression), at: target.position)
            let newValue = op.map { Expr(.binary($0, current, value), at: position) } ?? value
            // set(index, value): the index first, then the value, then the array.
            push(indexExpression, as: .int, context: "the index")
            box(.int)
            var kept: Local? = nil
            push(newValue, as: element, context: "the element")
            if keep {
                let (local, _) = temporary(element)
                duplicate(element)
                store(local)
                kept = local
            }
            if element.isNumeric { box(element) }
            push(arrayExpression, as: arrayType, context: "the array")
            emitter.call(9, arguments: 2)
            emitter.op(.osDrop)
            if let kept { load(kept) }
            return element
        default:
            // The parser has reported it.
            failed = true
            discard(value)
            if keep { emitter.op(.summonNull) }
            return .any
        }
    }

    private func duplicate(_ type: ValueType) {
        if type.isNumeric { emitter.op(.isDup) } else { emitter.op(.osDup) }
    }

    @discardableResult
    private func increment(_ isPrefix: Bool, _ delta: Int32, _ target: Expr, keep: Bool, at position: Int) -> ValueType {
        let type = typeOf(target)
        guard type.isNumeric else {
            error("'\(delta > 0 ? "++" : "--")' needs a numeric variable, found \(type)", at: position)
            discard(target)
            if keep { emitter.op(.summonNull) }
            return .any
        }
        let one: Expr = type == .int ? Expr(.intLiteral(1), at: position) : Expr(.longLiteral(1), at: position)
        let op: BinaryOperator = delta > 0 ? .add : .subtract
        if case let .name(name) = target.kind, let local = lookup(name), local.onIntegerStack, type == .int {
            load(local)
            if keep && !isPrefix { emitter.op(.isDup) }
            emitter.iconst(1)
            emitter.op(delta > 0 ? .isum : .isublu)
            if keep && isPrefix { emitter.op(.isDup) }
            store(local)
            return .int
        }
        if case let .name(name) = target.kind, lookup(name) == nil, let field = cls.field(named: name), type == .int {
            emitter.isLoad(field.index)
            if keep && !isPrefix { emitter.op(.isDup) }
            emitter.iconst(1)
            emitter.op(delta > 0 ? .isum : .isublu)
            if keep && isPrefix { emitter.op(.isDup) }
            emitter.isSave(field.index)
            return .int
        }
        // Anything else: as `target op= 1`; a postfix value is the new value minus the step.
        let result = assign(op, target, one, keep: keep, at: position)
        if keep && !isPrefix {
            push(one, as: result, context: "the step")
            prefix(result, at: position)
            emitter.op(delta > 0 ? .isublu : .isum)
        }
        return result
    }

    // MARK: - Operators

    private func unary(_ op: UnaryOperator, _ operand: Expr, at position: Int) -> ValueType {
        switch op {
        case .plus:
            let type = value(operand)
            if !type.isNumeric { error("unary '+' needs a number, found \(type)", at: position) }
            return type
        case .negate:
            if let constant = constantInt(Expr(.unary(.negate, operand), at: position)) {
                emitter.iconst(constant)
                return .int
            }
            let type = typeOf(operand)
            guard type.isNumeric || type == .any else {
                error("unary '-' needs a number, found \(type)", at: position)
                discard(operand)
                emitter.iconst(0)
                return .int
            }
            let numeric = type == .any ? ValueType.int : type
            if numeric == .float || numeric == .double {
                push(operand, as: numeric, context: "the operand")
                pushConstant(.floating(-1), numeric, at: position)
                prefix(numeric, at: position)
                emitter.op(.imul)
                return numeric
            }
            if numeric == .long { pushConstant(.integer(0), .long, at: position) } else { emitter.iconst(0) }
            push(operand, as: numeric, context: "the operand")
            prefix(numeric, at: position)
            emitter.op(.isublu)
            return numeric
        case .not:
            truthValue(operand)
            emitter.op(.logNot)
            return .int
        case .bitNot:
            let type = typeOf(operand)
            guard type == .int || type == .long || type == .any else {
                error("'~' needs an int or a long, found \(type)", at: position)
                discard(operand)
                emitter.iconst(0)
                return .int
            }
            let numeric = type == .any ? ValueType.int : type
            push(operand, as: numeric, context: "the operand")
            prefix(numeric, at: position)
            emitter.op(.inot)
            return numeric
        }
    }

    private func binary(_ op: BinaryOperator, _ left: Expr, _ right: Expr, at position: Int) -> ValueType {
        if let constant = constantInt(Expr(.binary(op, left, right), at: position)) {
            emitter.iconst(constant)
            return .int
        }
        switch op {
        case .logicalAnd, .logicalOr:
            let isFalse = emitter.newLabel()
            let end = emitter.newLabel()
            jumpIfFalse(Expr(.binary(op, left, right), at: position), isFalse)
            emitter.iconst(1)
            emitter.jump(end)
            emitter.place(isFalse)
            emitter.iconst(0)
            emitter.place(end)
            return .int
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
            comparisonValue(op, left, right, at: position)
            return .int
        default:
            break
        }
        let leftType = typeOf(left)
        let rightType = typeOf(right)
        if op == .add && (leftType.isString || rightType.isString) {
            return concatenation(left, leftType, right, rightType)
        }
        func numericOperand(_ type: ValueType) -> ValueType? {
            type.isNumeric ? type : type == .any ? .int : nil
        }
        guard let leftNumeric = numericOperand(leftType), let rightNumeric = numericOperand(rightType) else {
            error("'\(op.spelling)' needs numbers, found \(leftType) and \(rightType)", at: position)
            discard(left); discard(right)
            emitter.op(.summonNull)
            return .any
        }
        switch op {
        case .shiftLeft, .shiftRight, .unsignedShiftRight:
            // The value is on top and the count below it.
            guard leftNumeric == .int || leftNumeric == .long, rightNumeric == .int || rightNumeric == .long else {
                error("'\(op.spelling)' needs int or long operands", at: position)
                discard(left); discard(right)
                emitter.iconst(0)
                return .int
            }
            if needsSpill(left, before: [right]) {
                let (local, name) = temporary(leftNumeric)
                push(left, as: leftNumeric, context: "the shifted value")
                store(local)
                push(right, as: .int, context: "the shift count")
                push(name, as: leftNumeric, context: "the shifted value")
            } else {
                if rightNumeric == .long { push(Expr(.cast(.int, right), at: right.position), as: .int, context: "the shift count") }
                else { push(right, as: .int, context: "the shift count") }
                push(left, as: leftNumeric, context: "the shifted value")
            }
            prefix(leftNumeric, at: position)
            emitter.op(op == .shiftLeft ? .ishl : op == .shiftRight ? .ishr : .ushr)
            return leftNumeric
        case .bitAnd, .bitOr, .bitXor:
            let type = ValueType.promoted(leftNumeric, rightNumeric)
            guard type == .int || type == .long else {
                error("'\(op.spelling)' needs int or long operands, found \(leftType) and \(rightType)", at: position)
                discard(left); discard(right)
                emitter.iconst(0)
                return .int
            }
            pushOperands(left, right, as: type)
            prefix(type, at: position)
            emitter.op(op == .bitAnd ? .iand : op == .bitOr ? .ior : .ixor)
            return type
        default:
            let type = ValueType.promoted(leftNumeric, rightNumeric)
            pushOperands(left, right, as: type)
            prefix(type, at: position)
            let opcode: Opcode
            switch op {
            case .add: opcode = .isum
            case .subtract: opcode = .isublu
            case .multiply: opcode = .imul
            case .divide: opcode = .idivlu
            default: opcode = .iremlu
            }
            emitter.op(opcode)
            return type
        }
    }

    /// `a + b` with a string: `a.concat(b)` (the receiver on top: b is pushed first).
    private func concatenation(_ left: Expr, _ leftType: ValueType, _ right: Expr, _ rightType: ValueType) -> ValueType {
        var leftExpression = left
        if needsSpill(left, before: [right]) {
            let (local, name) = temporary(leftType.isNumeric ? leftType : .any)
            value(left)
            store(local)
            leftExpression = name
        }
        pushPiece(right, rightType)
        if leftType.isString {
            push(leftExpression, as: .string, context: "the string")
        } else {
            pushPiece(leftExpression, leftType)
            emitter.string("")
        }
        emitter.call(9, arguments: 1)
        if !leftType.isString { emitter.call(9, arguments: 1) }
        return .string
    }

    /// A piece of a concatenation as an object (user objects through their toString()).
    private func pushPiece(_ piece: Expr, _ type: ValueType) {
        let found = value(piece)
        if found.isNumeric { box(found, at: piece.position); return }
        if found == .void { error("a void method's result cannot be concatenated", at: piece.position); return }
        if case let .object(name) = found, let owner = table.classes[name], !owner.isInternal,
           let method = owner.method(named: "toString", arity: 0), method.owner !== owner || owner.owns(method),
           method.declaration != nil {
            emitter.call(method.ordinal, arguments: 0)
        }
    }

    private func cast(_ type: TypeSyntax, _ operand: Expr, at position: Int) -> ValueType {
        let target = table.resolve(type, file: file, at: position)
        let source = typeOf(operand)
        if target.isNumeric {
            if source.isNumeric {
                value(operand)
                numericCast(from: source, to: target, at: position)
            } else if source == .any || source == .object(InternalClassTable.int) {
                value(operand)
                unbox(target == .int ? .int : target, at: position)
            } else {
                error("cannot cast \(source) to \(target)", at: position)
                discard(operand)
                pushZero(target)
            }
            return target
        }
        if target == .void { error("cannot cast to void", at: position); discard(operand); emitter.op(.summonNull); return .any }
        let found = value(operand)
        if found.isNumeric {
            if target == .any || target == .object(InternalClassTable.object) || target == .object(InternalClassTable.int) && found == .int {
                box(found, at: position)
                return target
            }
            error("cannot cast \(found) to \(target)", at: position)
            emitter.op(.isDrop)
            emitter.op(.summonNull)
            return target
        }
        if table.isAssignable(found, to: target) && found != .any { return target }
        if case .array = target { return target }
        if target == .any { return target }
        // A checked cast: null passes; anything else must be an instance.
        let ok = emitter.newLabel()
        emitter.op(.osDup)
        emitter.op(.osIsNull)
        emitter.op(.logNot)
        emitter.jumpIfZero(ok)
        emitter.op(.osDup)
        instanceTest(target, at: position)
        let bad = emitter.newLabel()
        emitter.jumpIfZero(bad)
        emitter.jump(ok)
        emitter.place(bad)
        emitter.string("cannot cast to \(target)")
        emitter.op(.throw)
        emitter.place(ok)
        return target
    }

    private func numericCast(from source: ValueType, to target: ValueType, at position: Int) {
        guard source != target else { return }
        let conversion: Opcode
        switch source {
        case .int: conversion = .fromi
        case .long: conversion = .froml
        case .float: conversion = .fromf
        default: conversion = .fromd
        }
        prefix(target, at: position)
        emitter.op(conversion)
    }

    /// Pops an object, pushes 1 if it is an instance of `target` (or of a
    /// subclass), else 0 (null: 0). The VM's catchers do the test: throw the
    /// object at a catcher for the class, with a catch-all behind it.
    private func instanceTest(_ target: ValueType, at position: Int) {
        let className: String
        switch target {
        case let .object(name): className = name
        case .int: className = InternalClassTable.int
        case .array: className = InternalClassTable.array
        default:
            error("instanceof needs a class, found \(target)", at: position)
            emitter.op(.osDrop)
            emitter.iconst(0)
            return
        }
        if let symbol = table.classes[className], symbol.isInterface {
            error("instanceof with an interface is not supported (the VM does not record interfaces)", at: position)
        }
        let no = emitter.newLabel()
        let yes = emitter.newLabel()
        let end = emitter.newLabel()
        withScope {
            let (saved, _) = temporary(.any)
            store(saved)
            emitter.op(.summonNull)
            emitter.pushCatcher(no)
            emitter.summon(className: className)
            emitter.pushCatcher(yes)
            load(saved)
            emitter.op(.throw)
            emitter.place(yes)
            emitter.op(.osDrop)
            emitter.op(.popCatcher)
            emitter.iconst(1)
            emitter.jump(end)
            emitter.place(no)
            emitter.op(.osDrop)
            emitter.iconst(0)
            emitter.place(end)
        }
    }

    // MARK: - Static facts about expressions

    /// The value of a constant int expression, if it is one.
    func constantInt(_ expression: Expr) -> Int32? {
        switch expression.kind {
        case let .intLiteral(value): return value
        case let .unary(.negate, inner): return constantInt(inner).map { 0 &- $0 }
        case let .unary(.bitNot, inner): return constantInt(inner).map { ~$0 }
        case let .unary(.not, inner): return constantInt(inner).map { $0 == 0 ? 1 : 0 }
        case let .binary(op, left, right):
            guard let a = constantInt(left), let b = constantInt(right) else { return nil }
            switch op {
            case .add: return a &+ b
            case .subtract: return a &- b
            case .multiply: return a &* b
            case .divide: return b == 0 ? nil : (a == Int32.min && b == -1 ? Int32.min : a / b)
            case .remainder: return b == 0 ? nil : (b == -1 ? 0 : a % b)
            case .bitAnd: return a & b
            case .bitOr: return a | b
            case .bitXor: return a ^ b
            case .shiftLeft: return a << (b & 31)
            case .shiftRight: return a >> (b & 31)
            case .unsignedShiftRight: return Int32(bitPattern: UInt32(bitPattern: a) >> UInt32(b & 31))
            case .equal: return a == b ? 1 : 0
            case .notEqual: return a != b ? 1 : 0
            case .less: return a < b ? 1 : 0
            case .lessEqual: return a <= b ? 1 : 0
            case .greater: return a > b ? 1 : 0
            case .greaterEqual: return a >= b ? 1 : 0
            case .logicalAnd: return a != 0 && b != 0 ? 1 : 0
            case .logicalOr: return a != 0 || b != 0 ? 1 : 0
            }
        default: return nil
        }
    }

    /// Reads only locals and constants: no side effect can change it.
    func isStable(_ expression: Expr) -> Bool {
        switch expression.kind {
        case .intLiteral, .longLiteral, .floatLiteral, .doubleLiteral, .stringLiteral, .null, .this, .className: return true
        case let .name(name): return lookup(name) != nil
        case let .unary(_, inner): return isStable(inner)
        case let .binary(_, left, right): return isStable(left) && isStable(right)
        case let .cast(_, inner): return isStable(inner)
        default: return false
        }
    }

    /// A plain name or constant (cheap to evaluate twice).
    private func isSimple(_ expression: Expr) -> Bool {
        switch expression.kind {
        case .intLiteral, .longLiteral, .stringLiteral, .null, .this: return true
        case let .name(name): return lookup(name) != nil
        default: return false
        }
    }

    /// May change state that other expressions read.
    func hasSideEffects(_ expression: Expr) -> Bool {
        switch expression.kind {
        case .call, .ordinalCall, .superCall, .assign, .increment, .new: return true
        case .intLiteral, .longLiteral, .floatLiteral, .doubleLiteral, .stringLiteral, .null, .this, .name, .className: return false
        case let .member(inner, _): return hasSideEffects(inner)
        case let .index(array, index): return hasSideEffects(array) || hasSideEffects(index)
        case let .newArray(_, size): return size.map(hasSideEffects) ?? false
        case let .unary(_, inner), let .cast(_, inner), let .instanceOf(inner, _): return hasSideEffects(inner)
        case let .binary(_, left, right): return hasSideEffects(left) || hasSideEffects(right)
        case let .conditional(a, b, c): return hasSideEffects(a) || hasSideEffects(b) || hasSideEffects(c)
        }
    }

    /// Whether `first` (which the VM needs pushed last) must be evaluated
    /// into a temporary to keep the source's left-to-right order.
    private func needsSpill(_ first: Expr, before later: [Expr]) -> Bool {
        if isStable(first) { return false }
        if !hasSideEffects(first) && !later.contains(where: hasSideEffects) { return false }
        return true
    }

    private func unify(_ a: ValueType, _ b: ValueType) -> ValueType {
        if a == b { return a }
        if a.isNumeric && b.isNumeric { return ValueType.promoted(a, b) }
        if a == .null && b.isObject { return b }
        if b == .null && a.isObject { return a }
        if a.isObject && b.isObject {
            if table.isAssignable(a, to: b) { return b }
            if table.isAssignable(b, to: a) { return a }
        }
        return .any
    }

    /// The static type of an expression, without emitting code or reporting errors.
    func typeOf(_ expression: Expr) -> ValueType {
        switch expression.kind {
        case .intLiteral: return .int
        case .longLiteral: return .long
        case .floatLiteral: return .float
        case .doubleLiteral: return .double
        case .stringLiteral: return .string
        case .null: return .null
        case .this: return .object(cls.name)
        case let .name(name):
            if let local = lookup(name) { return local.type }
            if let field = cls.field(named: name) { return field.type }
            if table.lookupClass(name, file: file) != nil { return .object(InternalClassTable.classClass) }
            return .any
        case .className: return .object(InternalClassTable.classClass)
        case let .member(receiver, name):
            if case .this = receiver.kind, let field = cls.field(named: name) { return field.type }
            let type = typeOf(receiver)
            if name == "length" || name == "size" {
                if case .array = type { return .int }
                if type == .object(InternalClassTable.array) { return .int }
            }
            if case let .object(className) = type, let owner = table.classes[className], let field = owner.field(named: name) { return field.type }
            if type == .any {
                let candidates = table.fieldsAnywhere(named: name)
                if candidates.count == 1 { return candidates[0].type }
            }
            return .any
        case let .call(receiver, name, arguments):
            let receiverType = receiver.map(typeOf)
            if let receiverType, case .array = receiverType, name == "size" || name == "length" { return .int }
            return resolveMethod(on: receiverType, name, arity: arguments.count, report: false, at: 0)?.returnType ?? .any
        case .ordinalCall: return .any
        case .superCall: return .any
        case let .index(array, _):
            switch typeOf(array) {
            case let .array(element): return element
            default: return .any
            }
        case let .new(type, _): return table.resolveQuietly(type, file: file)
        case let .newArray(element, _):
            let resolved = table.resolveQuietly(element, file: file)
            return .array(resolved == .void ? .any : resolved)
        case let .unary(op, inner):
            if op == .not { return .int }
            let type = typeOf(inner)
            return type == .any ? .int : type
        case let .binary(op, left, right):
            switch op {
            case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .logicalAnd, .logicalOr: return .int
            case .shiftLeft, .shiftRight, .unsignedShiftRight:
                let type = typeOf(left)
                return type == .long ? .long : .int
            default:
                let a = typeOf(left)
                let b = typeOf(right)
                if op == .add && (a.isString || b.isString) { return .string }
                let leftNumeric = a.isNumeric ? a : .int
                let rightNumeric = b.isNumeric ? b : .int
                return ValueType.promoted(leftNumeric, rightNumeric)
            }
        case let .assign(_, target, _): return typeOf(target)
        case let .increment(_, _, target): return typeOf(target)
        case let .conditional(_, a, b): return unify(typeOf(a), typeOf(b))
        case let .cast(type, _): return table.resolveQuietly(type, file: file)
        case .instanceOf: return .int
        }
    }
}

extension ValueType {
    /// Untyped values and the VM's arrays can be indexed as arrays of anything.
    var normalizedArray: ValueType { self == .any || self == .object(InternalClassTable.array) ? .array(.any) : self }
}

