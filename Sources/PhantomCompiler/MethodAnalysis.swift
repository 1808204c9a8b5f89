// Syntactic facts about a method body that the code generator needs before
// it emits anything: how parameters are used (to unbox an int parameter once
// in the prologue or read it in place), and which count-down loop can keep
// its counter on top of the integer stack to end each iteration with `djnz`.

/// How often each name is read, whether it is assigned, and whether it is used in a loop.
struct UsageCounter {
    struct Usage {
        var count = 0
        var assigned = false
        var inLoop = false
    }
    private(set) var usage: [String: Usage] = [:]

    mutating func visit(_ statement: Stmt, inLoop: Bool) {
        switch statement.kind {
        case .empty, .breakLoop, .continueLoop: break
        case let .block(statements): statements.forEach { visit($0, inLoop: inLoop) }
        case let .variables(declarations): declarations.forEach { if let value = $0.initializer { visit(value, inLoop: inLoop) } }
        case let .expression(value), let .throwValue(value): visit(value, inLoop: inLoop)
        case let .returnValue(value): if let value { visit(value, inLoop: inLoop) }
        case let .ifElse(condition, then, otherwise):
            visit(condition, inLoop: inLoop)
            visit(then, inLoop: inLoop)
            if let otherwise { visit(otherwise, inLoop: inLoop) }
        case let .whileLoop(condition, body):
            visit(condition, inLoop: true)
            visit(body, inLoop: true)
        case let .doWhile(body, condition, step):
            visit(body, inLoop: true)
            visit(condition, inLoop: true)
            visit(step, inLoop: true)
        case let .forLoop(initializers, condition, updates, body):
            initializers.forEach { visit($0, inLoop: inLoop) }
            if let condition { visit(condition, inLoop: true) }
            updates.forEach { visit($0, inLoop: true) }
            visit(body, inLoop: true)
        case let .switchCase(value, cases):
            visit(value, inLoop: inLoop)
            for group in cases { group.body.forEach { visit($0, inLoop: inLoop) } }
        case let .tryCatch(body, clauses, finally):
            visit(body, inLoop: inLoop)
            clauses.forEach { visit($0.body, inLoop: inLoop) }
            if let finally { visit(finally, inLoop: inLoop) }
        case let .synchronized(lock, body):
            visit(lock, inLoop: inLoop)
            visit(body, inLoop: inLoop)
        }
    }

    mutating func visit(_ expression: Expr, inLoop: Bool) {
        switch expression.kind {
        case .intLiteral, .longLiteral, .floatLiteral, .doubleLiteral, .stringLiteral, .null, .this, .className: break
        case let .name(name):
            usage[name, default: Usage()].count += 1
            if inLoop { usage[name]!.inLoop = true }
        case let .member(receiver, _): visit(receiver, inLoop: inLoop)
        case let .call(receiver, _, arguments):
            if let receiver { visit(receiver, inLoop: inLoop) }
            arguments.forEach { visit($0, inLoop: inLoop) }
        case let .ordinalCall(receiver, _, arguments):
            visit(receiver, inLoop: inLoop)
            arguments.forEach { visit($0, inLoop: inLoop) }
        case let .superCall(_, arguments), let .new(_, arguments): arguments.forEach { visit($0, inLoop: inLoop) }
        case let .index(array, index):
            visit(array, inLoop: inLoop)
            visit(index, inLoop: inLoop)
        case let .newArray(_, size): if let size { visit(size, inLoop: inLoop) }
        case let .unary(_, inner), let .cast(_, inner), let .instanceOf(inner, _): visit(inner, inLoop: inLoop)
        case let .binary(_, left, right):
            visit(left, inLoop: inLoop)
            visit(right, inLoop: inLoop)
        case let .assign(_, target, value):
            if case let .name(name) = target.kind { usage[name, default: Usage()].assigned = true }
            visit(target, inLoop: inLoop)
            visit(value, inLoop: inLoop)
        case let .increment(_, _, target):
            if case let .name(name) = target.kind { usage[name, default: Usage()].assigned = true }
            visit(target, inLoop: inLoop)
        case let .conditional(a, b, c):
            visit(a, inLoop: inLoop)
            visit(b, inLoop: inLoop)
            visit(c, inLoop: inLoop)
        }
    }
}

/// Finds the count-down loops whose counter can be decremented by `djnz`:
/// ```
/// for (...; i > 0; i--) body        while (i != 0) { ...; i = i - 1; }
/// ```
/// where the condition is `i > 0`, `i != 0` or `i`, the step is the last
/// thing each iteration does, and nothing else in the loop assigns `i`.
/// After the first test `i >= 1`, so "decrement, loop while not zero" is the
/// same test. The deepest such loop wins.
struct CounterLoopFinder {
    private(set) var best: (Stmt, String)? = nil
    private var bestDepth = -1

    /// The counter a condition tests, if it has one of the accepted shapes.
    static func counterName(_ condition: Expr) -> String? {
        switch condition.kind {
        case let .name(name): return name
        case let .binary(op, left, right):
            if case let .name(name) = left.kind, case .intLiteral(0) = right.kind, op == .greater || op == .notEqual { return name }
            if case let .name(name) = right.kind, case .intLiteral(0) = left.kind, op == .less || op == .notEqual { return name }
            return nil
        default: return nil
        }
    }

    /// Whether an expression only decrements `name` by one.
    static func isDecrement(_ expression: Expr, of name: String) -> Bool {
        switch expression.kind {
        case let .increment(_, -1, target):
            if case let .name(target) = target.kind { return target == name }
        case let .assign(.subtract, target, value):
            if case let .name(target) = target.kind, case .intLiteral(1) = value.kind { return target == name }
        case let .assign(nil, target, value):
            if case let .name(target) = target.kind, target == name, case let .binary(.subtract, left, right) = value.kind,
               case let .name(read) = left.kind, read == name, case .intLiteral(1) = right.kind { return true }
        default: break
        }
        return false
    }

    mutating func visit(_ statement: Stmt, depth: Int) {
        switch statement.kind {
        case let .block(statements): statements.forEach { visit($0, depth: depth) }
        case let .ifElse(_, then, otherwise):
            visit(then, depth: depth)
            if let otherwise { visit(otherwise, depth: depth) }
        case let .whileLoop(condition, body):
            if let name = Self.counterName(condition), case let .block(statements) = body.kind, let last = statements.last,
               case let .expression(step) = last.kind, Self.isDecrement(step, of: name) {
                var usage = UsageCounter()
                statements.dropLast().forEach { usage.visit($0, inLoop: true) }
                if !(usage.usage[name]?.assigned ?? false) && !statements.dropLast().contains(where: Self.containsContinue) {
                    consider(statement, name, depth)
                }
            }
            visit(body, depth: depth + 1)
        case let .doWhile(body, _, step):
            visit(body, depth: depth + 1)
            visit(step, depth: depth + 1)
        case let .forLoop(_, condition, updates, body):
            if let condition, let name = Self.counterName(condition), updates.count == 1, Self.isDecrement(updates[0], of: name) {
                var usage = UsageCounter()
                usage.visit(body, inLoop: true)
                if !(usage.usage[name]?.assigned ?? false) { consider(statement, name, depth) }
            }
            visit(body, depth: depth + 1)
        case let .switchCase(_, cases):
            for group in cases { group.body.forEach { visit($0, depth: depth) } }
        case let .tryCatch(body, clauses, finally):
            visit(body, depth: depth)
            clauses.forEach { visit($0.body, depth: depth) }
            if let finally { visit(finally, depth: depth) }
        case let .synchronized(_, body):
            visit(body, depth: depth)
        default: break
        }
    }

    private mutating func consider(_ loop: Stmt, _ name: String, _ depth: Int) {
        if depth > bestDepth {
            best = (loop, name)
            bestDepth = depth
        }
    }

    /// A `continue` that would reach this loop (not one inside a nested loop).
    static func containsContinue(_ statement: Stmt) -> Bool {
        switch statement.kind {
        case .continueLoop: return true
        case let .block(statements): return statements.contains(where: containsContinue)
        case let .ifElse(_, then, otherwise): return containsContinue(then) || (otherwise.map(containsContinue) ?? false)
        case let .switchCase(_, cases): return cases.contains { $0.body.contains(where: containsContinue) }
        case let .tryCatch(body, clauses, finally):
            return containsContinue(body) || clauses.contains { containsContinue($0.body) } || (finally.map(containsContinue) ?? false)
        case let .synchronized(_, body): return containsContinue(body)
        default: return false
        }
    }
}

/// Finds the declarations of a local name in a method body.
struct DeclarationFinder {
    let name: String
    private(set) var count = 0
    private(set) var id: Int? = nil
    private(set) var type: TypeSyntax? = nil

    init(name: String) { self.name = name }

    private mutating func found(_ declaration: VariableDeclaration) {
        guard declaration.name == name else { return }
        count += 1
        id = declaration.id
        var declared = declaration.type
        if declared == .untyped, let initializer = declaration.initializer, case .intLiteral = initializer.kind { declared = .int }
        type = declared
    }

    mutating func visit(_ statement: Stmt) {
        switch statement.kind {
        case let .block(statements): statements.forEach { visit($0) }
        case let .variables(declarations): declarations.forEach { found($0) }
        case let .ifElse(_, then, otherwise):
            visit(then)
            if let otherwise { visit(otherwise) }
        case let .whileLoop(_, body): visit(body)
        case let .doWhile(body, _, step): visit(body); visit(step)
        case let .forLoop(initializers, _, _, body):
            initializers.forEach { visit($0) }
            visit(body)
        case let .switchCase(_, cases): for group in cases { group.body.forEach { visit($0) } }
        case let .tryCatch(body, clauses, finally):
            visit(body)
            for clause in clauses { found(clause.variable); visit(clause.body) }
            if let finally { visit(finally) }
        case let .synchronized(_, body): visit(body)
        default: break
        }
    }
}
