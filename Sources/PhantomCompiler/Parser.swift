// The parser: hand-written recursive descent over the tokens, with the
// grammar of docs/language.md. A syntax error is reported and unwinds (a
// typed throw) to the enclosing statement or class member, which skips to
// the next ';' or '}' and goes on: one run reports several errors.

/// Unwinds to the nearest recovery point after an error was reported.
struct SyntaxError: Error {}

/// Parses one file.
struct Parser {
    private let file: SourceFile
    private let fileIndex: Int
    private let tokens: [Token]
    private let strings: [String]
    private var index = 0
    private var package: String? = nil
    private var imports: [String: String] = [:]
    /// Names used after a '.' outside calls (`node.next`): fields that need accessor methods.
    private(set) var memberNames: Set<String> = []
    /// Variable ids within the current method.
    private var nextVariable = 0
    /// Nesting depth, to bound the recursion of later passes.
    private var depth = 0
    static let maxDepth = 200
    /// Set when nesting overflows: the rest of the file is skipped.
    private var abandoned = false
    private var sink: DiagnosticSink

    init(lexer: Lexer, fileIndex: Int, sink: DiagnosticSink) {
        self.file = lexer.file
        self.fileIndex = fileIndex
        self.tokens = lexer.tokens
        self.strings = lexer.strings
        self.sink = sink
    }

    /// The diagnostics so far (the caller's plus this parser's).
    var diagnostics: DiagnosticSink { sink }

    // MARK: - Tokens

    private var current: Token { tokens[index] }
    private var kind: TokenKind { tokens[index].kind }
    private func peekKind(_ ahead: Int) -> TokenKind {
        let at = index + ahead
        return at < tokens.count ? tokens[at].kind : .endOfFile
    }
    private var position: Int { Int(tokens[index].start) }
    /// Just after the previous token: where a missing ';' belongs.
    private var afterPrevious: Int { index > 0 ? Int(tokens[index - 1].end) : 0 }

    private mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    private mutating func accept(_ expected: TokenKind) -> Bool {
        if kind == expected { advance(); return true }
        return false
    }

    private func text(_ token: Token) -> String {
        String(decoding: file.bytes[Int(token.start)..<Int(token.end)], as: UTF8.self)
    }

    private mutating func error(_ message: String, at offset: Int) {
        sink.syntaxError(message, at: offset, in: file)
    }

    /// Reports "expected X [after Y]" and unwinds.
    private mutating func expect(_ expected: TokenKind, _ context: String) throws(SyntaxError) {
        if kind == expected { advance(); return }
        fail(expected: expected.spelling, context)
        throw SyntaxError()
    }

    private mutating func fail(expected: String, _ context: String) {
        // A missing ';' or ')' is reported where it belongs: after the previous token.
        let closing: Set<TokenKind> = [.semicolon, .rightParen, .rightBracket, .colon]
        let found = kind == .endOfFile ? "end of file" : "'\(text(current))'"
        let at = closing.contains(kindFor(expected)) && index > 0 ? afterPrevious : position
        error("expected \(expected)\(context.isEmpty ? "" : " " + context), found \(found)", at: at)
    }

    private func kindFor(_ spelling: String) -> TokenKind {
        switch spelling {
        case "';'": .semicolon
        case "')'": .rightParen
        case "']'": .rightBracket
        case "':'": .colon
        default: .endOfFile
        }
    }

    private mutating func identifier(_ context: String) throws(SyntaxError) -> (String, Int) {
        guard kind == .identifier else {
            fail(expected: "a name", context)
            throw SyntaxError()
        }
        let token = current
        advance()
        return (text(token), Int(token.start))
    }

    private mutating func enter() throws(SyntaxError) {
        depth += 1
        if depth > Self.maxDepth {
            if !abandoned { error("nesting is too deep (more than \(Self.maxDepth) levels)", at: position) }
            abandoned = true
            index = tokens.count - 1
            throw SyntaxError()
        }
    }

    private mutating func leave() { depth -= 1 }

    // MARK: - Files and classes

    /// Parses the whole file.
    mutating func parseFile() -> FileSyntax {
        var classes: [ClassDeclaration] = []
        if kind == .kwPackage {
            advance()
            do {
                let (name, _) = try qualifiedName("after 'package'")
                package = name
                try expect(.semicolon, "after the package name")
            } catch { synchronizeTopLevel() }
        }
        while kind == .kwImport {
            advance()
            do {
                let (name, at) = try qualifiedName("after 'import'")
                let simple = name.split(separator: ".").last.map(String.init) ?? name
                if let earlier = imports[simple], earlier != name {
                    error("'\(simple)' is already imported as \(earlier)", at: at)
                }
                imports[simple] = name
                try expect(.semicolon, "after the imported name")
            } catch { synchronizeTopLevel() }
        }
        while kind != .endOfFile {
            skipModifiers()
            if kind == .kwClass || kind == .kwInterface {
                do { classes.append(try classDeclaration()) } catch { synchronizeTopLevel() }
            } else {
                if kind == .kwPackage || kind == .kwImport {
                    error("'\(text(current))' must come before the classes", at: position)
                } else {
                    error("expected 'class' or 'interface', found \(kind == .endOfFile ? "end of file" : "'\(text(current))'")", at: position)
                }
                advance()
                synchronizeTopLevel()
            }
        }
        return FileSyntax(package: package, imports: imports, classes: classes)
    }

    /// Skips to the next `class` or `interface` at the top level.
    private mutating func synchronizeTopLevel() {
        while kind != .endOfFile && kind != .kwClass && kind != .kwInterface { advance() }
    }

    private mutating func skipModifiers() {
        while [.kwPublic, .kwPrivate, .kwProtected, .kwFinal].contains(kind) { advance() }
    }

    /// A name or a keyword: what may follow a dot in a qualified name.
    static func isNamePart(_ kind: TokenKind) -> Bool {
        kind == .identifier || kind.rawValue >= TokenKind.kwPackage.rawValue
    }

    /// `.a.b.c` or `a` (or `a.b.c`, taken as `.a.b.c`).
    private mutating func qualifiedName(_ context: String) throws(SyntaxError) -> (String, Int) {
        let start = position
        var name = ""
        if kind == .dot {
            advance()
            let (first, _) = try identifier(context)
            name = "." + first
        } else {
            let (first, _) = try identifier(context)
            name = first
        }
        // Later parts may be keywords: `.internal.string`, `.internal.int`.
        while kind == .dot && Self.isNamePart(peekKind(1)) {
            advance()
            name += "." + text(current)
            advance()
        }
        if !name.hasPrefix(".") && name.contains(".") { name = "." + name }
        return (name, start)
    }

    private mutating func classDeclaration() throws(SyntaxError) -> ClassDeclaration {
        let isInterface = kind == .kwInterface
        advance()
        let (written, at) = try qualifiedName("after '\(isInterface ? "interface" : "class")'")
        let name: String
        if written.hasPrefix(".") || package == nil { name = written } else { name = package! + "." + written }
        var parent: (TypeSyntax, Int)? = nil
        var interfaces: [(TypeSyntax, Int)] = []
        if accept(.kwExtends) {
            let start = position
            parent = (try type("after 'extends'"), start)
            // An interface may extend several interfaces.
            while isInterface && accept(.comma) {
                let next = position
                interfaces.append((try type("after ','"), next))
            }
        }
        if accept(.kwImplements) {
            repeat {
                let start = position
                interfaces.append((try type("after 'implements'"), start))
            } while accept(.comma)
        }
        try expect(.leftBrace, "to start the body of \(written)")
        let simpleName = String(written.split(separator: ".").last ?? Substring(written))
        var declaration = ClassDeclaration(name: name, position: at, isInterface: isInterface, parent: parent,
                                           interfaces: interfaces, fields: [], methods: [], fileIndex: fileIndex)
        while kind != .rightBrace && kind != .endOfFile {
            let before = index
            do {
                try member(of: &declaration, simpleName: simpleName)
            } catch {
                synchronizeMember()
            }
            if index == before { advance() }
        }
        try expect(.rightBrace, "to end the body of \(written)")
        _ = accept(.semicolon)
        return declaration
    }

    /// Skips to the end of a member: past a ';', past a balanced '{...}', or to the class's '}'.
    private mutating func synchronizeMember() {
        var braces = 0
        while kind != .endOfFile {
            switch kind {
            case .semicolon where braces == 0:
                advance()
                return
            case .leftBrace:
                braces += 1
            case .rightBrace:
                if braces == 0 { return }
                braces -= 1
                if braces == 0 { advance(); return }
            case .kwClass where braces == 0, .kwInterface where braces == 0:
                return
            default: break
            }
            advance()
        }
    }

    private mutating func member(of declaration: inout ClassDeclaration, simpleName: String) throws(SyntaxError) {
        skipModifiers()
        if kind == .kwStatic {
            error("static members are not supported: Phantom objects are persistent, use a field of an object instead", at: position)
            advance()
        }
        switch kind {
        case .semicolon:
            advance()
        case .kwAttribute:
            // `attribute ...;` declarations of the original are accepted and ignored.
            while kind != .semicolon && kind != .endOfFile && kind != .rightBrace { advance() }
            _ = accept(.semicolon)
        case .kwVar where peekKind(1) == .identifier && peekKind(2) == .leftParen:
            // `var name(...)`: a method returning an untyped object.
            advance()
            try method(into: &declaration, returnType: .untyped)
        case .kwVar:
            advance()
            repeat {
                let (name, at) = try identifier("after 'var'")
                var fieldType = TypeSyntax.untyped
                if accept(.colon) { fieldType = try type("after ':'") }
                var initializer: Expr? = nil
                if accept(.assign) { initializer = try expression() }
                declaration.fields.append(FieldDeclaration(name: name, position: at, type: fieldType, initializer: initializer))
            } while accept(.comma)
            try expect(.semicolon, "after the field declaration")
        case .identifier where peekKind(1) == .leftParen && text(current) == simpleName:
            let at = position
            advance()
            nextVariable = 0
            let parameters = try parameterList()
            let body = try block()
            declaration.methods.append(MethodDeclaration(name: "<init>", position: at, returnType: .void, parameters: parameters,
                                                         body: body, isConstructor: true, variableCount: nextVariable))
        default:
            let returnType = try type("to start a field or method declaration")
            if kind == .identifier && peekKind(1) == .leftParen {
                try method(into: &declaration, returnType: returnType)
                return
            }
            let (name, at) = try identifier("after the type")
            if kind == .leftParen {
                // (not reached: handled above)
                throw SyntaxError()
            } else {
                // A Java-style field: `int n;`, `string a, b = "x";`.
                if returnType == .void { error("a field cannot be void", at: at) }
                var fieldName = name
                var fieldAt = at
                while true {
                    var initializer: Expr? = nil
                    if accept(.assign) { initializer = try expression() }
                    declaration.fields.append(FieldDeclaration(name: fieldName, position: fieldAt, type: returnType, initializer: initializer))
                    guard accept(.comma) else { break }
                    (fieldName, fieldAt) = try identifier("after ','")
                }
                try expect(.semicolon, "after the field declaration")
            }
        }
    }

    /// `name(parameters) { body }` after the return type.
    private mutating func method(into declaration: inout ClassDeclaration, returnType: TypeSyntax) throws(SyntaxError) {
        let (name, at) = try identifier("after the type")
        nextVariable = 0
        let parameters = try parameterList()
        var body: Stmt? = nil
        if declaration.isInterface {
            if kind == .leftBrace { error("interface methods have no body", at: position); body = try block() }
            else { try expect(.semicolon, "after an interface method") }
        } else {
            guard kind == .leftBrace else {
                fail(expected: "'{'", "to start the body of method '\(name)'")
                throw SyntaxError()
            }
            body = try block()
        }
        declaration.methods.append(MethodDeclaration(name: name, position: at, returnType: returnType, parameters: parameters,
                                                     body: body, isConstructor: false, variableCount: nextVariable))
    }

    private mutating func parameterList() throws(SyntaxError) -> [Parameter] {
        try expect(.leftParen, "to start the parameters")
        var parameters: [Parameter] = []
        if accept(.rightParen) { return parameters }
        repeat {
            let parameterType: TypeSyntax
            let name: String
            let at: Int
            if accept(.kwVar) {
                (name, at) = try identifier("after 'var'")
                parameterType = accept(.colon) ? try type("after ':'") : .untyped
            } else {
                parameterType = try type("for the parameter")
                (name, at) = try identifier("after the parameter's type")
            }
            var attributes: [String] = []
            while accept(.at) {
                let (attribute, _) = try identifier("after '@'")
                attributes.append(attribute)
            }
            if parameters.contains(where: { $0.name == name }) { error("parameter '\(name)' is declared twice", at: at) }
            parameters.append(Parameter(name: name, position: at, type: parameterType, attributes: attributes, id: nextVariable))
            nextVariable += 1
        } while accept(.comma)
        try expect(.rightParen, "after the parameters")
        return parameters
    }

    // MARK: - Types

    /// A base type and any number of `[]`.
    private mutating func type(_ context: String) throws(SyntaxError) -> TypeSyntax {
        var base: TypeSyntax
        switch kind {
        case .kwVoid: base = .void; advance()
        case .kwInt: base = .int; advance()
        case .kwLong: base = .long; advance()
        case .kwFloat: base = .float; advance()
        case .kwDouble: base = .double; advance()
        case .kwString: base = .string; advance()
        case .kwBoolean: base = .boolean; advance()
        case .identifier, .dot:
            let (name, _) = try qualifiedName(context)
            base = .named(name)
        default:
            fail(expected: "a type", context)
            throw SyntaxError()
        }
        while kind == .leftBracket && peekKind(1) == .rightBracket {
            advance(); advance()
            base = .array(base)
        }
        return base
    }

    /// Whether a declaration (`T name`, `T[] name`, `.a.b name`) starts here.
    private func declarationStartsHere() -> Bool {
        var ahead = 0
        switch kind {
        case .kwInt, .kwLong, .kwFloat, .kwDouble, .kwString, .kwBoolean, .kwVoid:
            ahead = 1
        case .identifier:
            ahead = 1
            while peekKind(ahead) == .dot && peekKind(ahead + 1) == .identifier { ahead += 2 }
        case .dot:
            guard peekKind(1) == .identifier else { return false }
            ahead = 2
            while peekKind(ahead) == .dot && Self.isNamePart(peekKind(ahead + 1)) { ahead += 2 }
        default:
            return false
        }
        while peekKind(ahead) == .leftBracket && peekKind(ahead + 1) == .rightBracket { ahead += 2 }
        return peekKind(ahead) == .identifier
    }

    // MARK: - Statements

    private mutating func block() throws(SyntaxError) -> Stmt {
        let at = position
        try expect(.leftBrace, "to start a block")
        try enter()
        defer { leave() }
        var statements: [Stmt] = []
        while kind != .rightBrace && kind != .endOfFile {
            let before = index
            if let parsed = recoveringStatement() { statements.append(parsed) }
            if index == before { advance() }
            if abandoned { throw SyntaxError() }
        }
        try expect(.rightBrace, "to end the block")
        return Stmt(.block(statements), at: at)
    }

    /// A statement; on a syntax error, skips to the next ';' or '}' and returns nil.
    private mutating func recoveringStatement() -> Stmt? {
        do {
            return try statement()
        } catch {
            synchronizeStatement()
            return nil
        }
    }

    private mutating func synchronizeStatement() {
        while kind != .endOfFile {
            if kind == .semicolon { advance(); return }
            if kind == .rightBrace || kind == .leftBrace { return }
            advance()
        }
    }

    private mutating func statement() throws(SyntaxError) -> Stmt {
        let at = position
        try enter()
        defer { leave() }
        switch kind {
        case .leftBrace:
            return try block()
        case .semicolon:
            advance()
            return Stmt(.empty, at: at)
        case .kwVar:
            advance()
            let declarations = try varDeclarations()
            try expect(.semicolon, "after the variable declaration")
            return Stmt(.variables(declarations), at: at)
        case .kwIf:
            advance()
            try expect(.leftParen, "after 'if'")
            let condition = try expression()
            try expect(.rightParen, "after the condition")
            let then = try statement()
            var otherwise: Stmt? = nil
            if accept(.kwElse) { otherwise = try statement() }
            return Stmt(.ifElse(condition, then, otherwise), at: at)
        case .kwWhile:
            advance()
            try expect(.leftParen, "after 'while'")
            let condition = try expression()
            try expect(.rightParen, "after the condition")
            return Stmt(.whileLoop(condition, try statement()), at: at)
        case .kwDo:
            advance()
            let body = try statement()
            try expect(.kwWhile, "after the body of 'do'")
            try expect(.leftParen, "after 'while'")
            let condition = try expression()
            try expect(.rightParen, "after the condition")
            // `do B while (C) S;`: S runs after each true test (`;` alone: nothing).
            let step = try statement()
            return Stmt(.doWhile(body, condition, step), at: at)
        case .kwFor:
            advance()
            try expect(.leftParen, "after 'for'")
            var initializers: [Stmt] = []
            if kind != .semicolon {
                let start = position
                if accept(.kwVar) {
                    initializers.append(Stmt(.variables(try varDeclarations()), at: start))
                } else if declarationStartsHere() {
                    initializers.append(Stmt(.variables(try javaDeclarations()), at: start))
                } else {
                    repeat {
                        let expressionAt = position
                        initializers.append(Stmt(.expression(try expression()), at: expressionAt))
                    } while accept(.comma)
                }
            }
            try expect(.semicolon, "after the loop's initializer")
            let condition: Expr? = kind == .semicolon ? nil : try expression()
            try expect(.semicolon, "after the loop's condition")
            var updates: [Expr] = []
            if kind != .rightParen {
                repeat { updates.append(try expression()) } while accept(.comma)
            }
            try expect(.rightParen, "after the loop's update")
            return Stmt(.forLoop(initializers, condition, updates, try statement()), at: at)
        case .kwSwitch:
            return try switchStatement()
        case .kwBreak:
            advance()
            try expect(.semicolon, "after 'break'")
            return Stmt(.breakLoop, at: at)
        case .kwContinue:
            advance()
            try expect(.semicolon, "after 'continue'")
            return Stmt(.continueLoop, at: at)
        case .kwReturn:
            advance()
            let value: Expr? = kind == .semicolon ? nil : try expression()
            try expect(.semicolon, "after the return value")
            return Stmt(.returnValue(value), at: at)
        case .kwThrow:
            advance()
            let value = try expression()
            try expect(.semicolon, "after the thrown value")
            return Stmt(.throwValue(value), at: at)
        case .kwTry:
            return try tryStatement()
        case .kwSynchronized:
            advance()
            try expect(.leftParen, "after 'synchronized'")
            let lock = try expression()
            try expect(.rightParen, "after the mutex")
            return Stmt(.synchronized(lock, try block()), at: at)
        case .kwElse:
            error("'else' without 'if'", at: at)
            throw SyntaxError()
        case .kwCase, .kwDefault:
            error("'\(text(current))' outside a switch", at: at)
            throw SyntaxError()
        default:
            if declarationStartsHere() {
                let declarations = try javaDeclarations()
                try expect(.semicolon, "after the variable declaration")
                return Stmt(.variables(declarations), at: at)
            }
            let value = try expression()
            try expect(.semicolon, "after expression")
            return Stmt(.expression(value), at: at)
        }
    }

    /// After `var`: `name [: type] [= value] {, ...}`.
    private mutating func varDeclarations() throws(SyntaxError) -> [VariableDeclaration] {
        var declarations: [VariableDeclaration] = []
        repeat {
            let (name, at) = try identifier("after 'var'")
            let declared = accept(.colon) ? try type("after ':'") : .untyped
            let initializer: Expr? = accept(.assign) ? try expression() : nil
            declarations.append(VariableDeclaration(name: name, position: at, type: declared, initializer: initializer, id: nextVariable))
            nextVariable += 1
        } while accept(.comma)
        return declarations
    }

    /// `type name [= value] {, name [= value]}`.
    private mutating func javaDeclarations() throws(SyntaxError) -> [VariableDeclaration] {
        let declared = try type("for the variable")
        if declared == .void { error("a variable cannot be void", at: afterPrevious) }
        var declarations: [VariableDeclaration] = []
        repeat {
            let (name, at) = try identifier("after the type")
            let initializer: Expr? = accept(.assign) ? try expression() : nil
            declarations.append(VariableDeclaration(name: name, position: at, type: declared, initializer: initializer, id: nextVariable))
            nextVariable += 1
        } while accept(.comma)
        return declarations
    }

    private mutating func switchStatement() throws(SyntaxError) -> Stmt {
        let at = position
        advance()
        try expect(.leftParen, "after 'switch'")
        let value = try expression()
        try expect(.rightParen, "after the switch value")
        try expect(.leftBrace, "to start the switch body")
        var cases: [SwitchCase] = []
        while kind != .rightBrace && kind != .endOfFile {
            var labels: [(Expr?, Int)] = []
            while kind == .kwCase || kind == .kwDefault {
                let labelAt = position
                if accept(.kwDefault) {
                    labels.append((nil, labelAt))
                } else {
                    advance()
                    labels.append((try expression(), labelAt))
                }
                try expect(.colon, "after the case label")
            }
            if labels.isEmpty {
                // Statements before the first label: reported once, then skipped.
                error("expected 'case' or 'default' in the switch body, found \(kind == .endOfFile ? "end of file" : "'\(text(current))'")", at: position)
                while kind != .kwCase && kind != .kwDefault && kind != .rightBrace && kind != .endOfFile {
                    let before = index
                    _ = recoveringStatement()
                    if index == before { advance() }
                    if abandoned { throw SyntaxError() }
                }
                continue
            }
            var body: [Stmt] = []
            while kind != .kwCase && kind != .kwDefault && kind != .rightBrace && kind != .endOfFile {
                let before = index
                if let parsed = recoveringStatement() { body.append(parsed) }
                if index == before { advance() }
                if abandoned { throw SyntaxError() }
            }
            cases.append(SwitchCase(labels: labels, body: body))
        }
        try expect(.rightBrace, "to end the switch body")
        return Stmt(.switchCase(value, cases), at: at)
    }

    private mutating func tryStatement() throws(SyntaxError) -> Stmt {
        let at = position
        advance()
        let body = try block()
        var clauses: [CatchClause] = []
        while kind == .kwCatch {
            let clauseAt = position
            advance()
            try expect(.leftParen, "after 'catch'")
            let variable: VariableDeclaration
            if accept(.kwVar) {
                let (name, nameAt) = try identifier("after 'var'")
                let caught = accept(.colon) ? try type("after ':'") : .untyped
                variable = VariableDeclaration(name: name, position: nameAt, type: caught, initializer: nil, id: nextVariable)
            } else if kind == .identifier && peekKind(1) == .rightParen {
                let (name, nameAt) = try identifier("in the catch clause")
                variable = VariableDeclaration(name: name, position: nameAt, type: .untyped, initializer: nil, id: nextVariable)
            } else {
                let caught = try type("in the catch clause")
                let (name, nameAt) = try identifier("after the caught type")
                variable = VariableDeclaration(name: name, position: nameAt, type: caught, initializer: nil, id: nextVariable)
            }
            nextVariable += 1
            try expect(.rightParen, "after the catch parameter")
            clauses.append(CatchClause(variable: variable, body: try block(), position: clauseAt))
        }
        var finally: Stmt? = nil
        if accept(.kwFinally) { finally = try block() }
        if clauses.isEmpty && finally == nil {
            error("expected 'catch' or 'finally' after the try block", at: position)
        }
        return Stmt(.tryCatch(body, clauses, finally), at: at)
    }

    // MARK: - Expressions

    mutating func expression() throws(SyntaxError) -> Expr {
        try enter()
        defer { leave() }
        return try assignment()
    }

    private mutating func assignment() throws(SyntaxError) -> Expr {
        let target = try conditional()
        guard kind.isAssignment else { return target }
        let at = position
        let op: BinaryOperator?
        switch kind {
        case .plusAssign: op = .add
        case .minusAssign: op = .subtract
        case .starAssign: op = .multiply
        case .slashAssign: op = .divide
        case .percentAssign: op = .remainder
        case .ampersandAssign: op = .bitAnd
        case .pipeAssign: op = .bitOr
        case .caretAssign: op = .bitXor
        case .shiftLeftAssign: op = .shiftLeft
        case .shiftRightAssign: op = .shiftRight
        case .unsignedShiftRightAssign: op = .unsignedShiftRight
        default: op = nil
        }
        advance()
        switch target.kind {
        case .name, .member, .index: break
        default:
            error("the left side of '\(op.map { $0.spelling + "=" } ?? "=")' must be a variable, a field or an array element", at: target.position)
        }
        try enter()
        defer { leave() }
        let value = try assignment()
        return Expr(.assign(op, target, value), at: at)
    }

    private mutating func conditional() throws(SyntaxError) -> Expr {
        let condition = try binary(0)
        guard kind == .question else { return condition }
        let at = position
        advance()
        try enter()
        defer { leave() }
        let then = try expression()
        try expect(.colon, "in the conditional expression")
        let otherwise = try conditional()
        return Expr(.conditional(condition, then, otherwise), at: at)
    }

    /// Binary operators by precedence level (0 binds loosest).
    private static func binaryOperator(_ kind: TokenKind) -> (BinaryOperator, Int)? {
        switch kind {
        case .orOr: (.logicalOr, 0)
        case .andAnd: (.logicalAnd, 1)
        case .pipe: (.bitOr, 2)
        case .caret: (.bitXor, 3)
        case .ampersand: (.bitAnd, 4)
        case .equal: (.equal, 5)
        case .notEqual: (.notEqual, 5)
        case .less: (.less, 6)
        case .lessEqual: (.lessEqual, 6)
        case .greater: (.greater, 6)
        case .greaterEqual: (.greaterEqual, 6)
        case .shiftLeft: (.shiftLeft, 7)
        case .shiftRight: (.shiftRight, 7)
        case .unsignedShiftRight: (.unsignedShiftRight, 7)
        case .plus: (.add, 8)
        case .minus: (.subtract, 8)
        case .star: (.multiply, 9)
        case .slash: (.divide, 9)
        case .percent: (.remainder, 9)
        default: nil
        }
    }

    /// Precedence climbing; every level is left-associative.
    private mutating func binary(_ level: Int) throws(SyntaxError) -> Expr {
        if level > 9 { return try unary() }
        var left = try binary(level + 1)
        var links = 0
        while true {
            if level == 6 && kind == .kwInstanceof {
                let at = position
                advance()
                left = Expr(.instanceOf(left, try type("after 'instanceof'")), at: at)
            } else if let (op, opLevel) = Self.binaryOperator(kind), opLevel == level {
                let at = position
                advance()
                let right = try binary(level + 1)
                left = Expr(.binary(op, left, right), at: at)
            } else {
                break
            }
            // A long chain nests as deeply as parentheses do.
            links += 1
            if depth + links > Self.maxDepth * 2 {
                error("expression is too long (more than \(Self.maxDepth * 2) operators in a chain)", at: position)
                abandoned = true
                index = tokens.count - 1
                throw SyntaxError()
            }
        }
        depth += links
        defer { depth -= links }
        return left
    }

    private mutating func unary() throws(SyntaxError) -> Expr {
        let at = position
        switch kind {
        case .minus:
            advance()
            // -2147483648 and -9223372036854775808 are literals.
            if kind == .longLiteral && current.value == Int64.min && text(current).last != "L" && text(current).last != "l" {
                advance()
                return Expr(.intLiteral(Int32.min), at: at)
            }
            if kind == .longLiteral && UInt64(bitPattern: current.value) == UInt64(Int32.max) + 1 && text(current).last != "L" && text(current).last != "l" {
                advance()
                return Expr(.intLiteral(Int32.min), at: at)
            }
            try enter()
            defer { leave() }
            return Expr(.unary(.negate, try unary()), at: at)
        case .plus, .bang, .tilde:
            let op: UnaryOperator = kind == .plus ? .plus : kind == .bang ? .not : .bitNot
            advance()
            try enter()
            defer { leave() }
            return Expr(.unary(op, try unary()), at: at)
        case .plusPlus, .minusMinus:
            let delta: Int32 = kind == .plusPlus ? 1 : -1
            advance()
            try enter()
            defer { leave() }
            let target = try unary()
            return Expr(.increment(prefix: true, delta: delta, target), at: at)
        case .leftParen where isCast():
            advance()
            let target = try type("in the cast")
            try expect(.rightParen, "after the cast's type")
            try enter()
            defer { leave() }
            return Expr(.cast(target, try unary()), at: at)
        default:
            return try postfix(try primary())
        }
    }

    /// `(int) x`, `(.a.b) x`, `(Name) x`: a cast, not a parenthesized expression.
    private func isCast() -> Bool {
        switch peekKind(1) {
        case .kwInt, .kwLong, .kwFloat, .kwDouble, .kwString, .kwBoolean:
            return true
        case .dot:
            return peekKind(2) == .identifier
        case .identifier:
            var ahead = 2
            while peekKind(ahead) == .dot && peekKind(ahead + 1) == .identifier { ahead += 2 }
            while peekKind(ahead) == .leftBracket && peekKind(ahead + 1) == .rightBracket { ahead += 2 }
            guard peekKind(ahead) == .rightParen else { return false }
            switch peekKind(ahead + 1) {
            case .identifier, .intLiteral, .longLiteral, .floatLiteral, .doubleLiteral, .stringLiteral, .charLiteral,
                 .leftParen, .kwThis, .kwNew, .kwNull, .kwTrue, .kwFalse, .bang, .tilde, .kwSuper:
                return true
            default:
                return false
            }
        default:
            return false
        }
    }

    private mutating func arguments() throws(SyntaxError) -> [Expr] {
        try expect(.leftParen, "to start the arguments")
        var values: [Expr] = []
        if accept(.rightParen) { return values }
        repeat { values.append(try expression()) } while accept(.comma)
        try expect(.rightParen, "after the arguments")
        return values
    }

    private mutating func postfix(_ base: Expr) throws(SyntaxError) -> Expr {
        var value = base
        var links = 0
        defer { depth -= links }
        while true {
            let at = position
            switch kind {
            case .dot:
                advance()
                if kind == .intLiteral {
                    let ordinal = current.value
                    let ordinalAt = position
                    advance()
                    if ordinal < 0 || ordinal > 255 { error("a method ordinal must be 0...255", at: ordinalAt) }
                    value = Expr(.ordinalCall(value, Int(max(0, min(255, ordinal))), try arguments()), at: ordinalAt)
                } else {
                    let (name, nameAt) = try identifier("after '.'")
                    if kind == .leftParen {
                        value = Expr(.call(value, name, try arguments()), at: nameAt)
                    } else {
                        memberNames.insert(name)
                        value = Expr(.member(value, name), at: nameAt)
                    }
                }
            case .leftBracket:
                advance()
                let subscriptValue = try expression()
                try expect(.rightBracket, "after the index")
                value = Expr(.index(value, subscriptValue), at: at)
            case .plusPlus, .minusMinus:
                let delta: Int32 = kind == .plusPlus ? 1 : -1
                advance()
                value = Expr(.increment(prefix: false, delta: delta, value), at: at)
            default:
                return value
            }
            links += 1
            depth += 1
            if depth > Self.maxDepth * 2 {
                error("expression is too long", at: position)
                abandoned = true
                index = tokens.count - 1
                throw SyntaxError()
            }
        }
    }

    private mutating func primary() throws(SyntaxError) -> Expr {
        let at = position
        let token = current
        switch kind {
        case .intLiteral:
            advance()
            return Expr(.intLiteral(Int32(truncatingIfNeeded: token.value)), at: at)
        case .longLiteral:
            advance()
            let spelled = text(token)
            if spelled.last != "L" && spelled.last != "l" && !spelled.hasPrefix("0x") && !spelled.hasPrefix("0X") {
                error("number is too large for int; add 'L' for a long", at: at)
            }
            return Expr(.longLiteral(token.value), at: at)
        case .floatLiteral:
            advance()
            return Expr(.floatLiteral(Float(bitPattern: UInt32(truncatingIfNeeded: token.value))), at: at)
        case .doubleLiteral:
            advance()
            return Expr(.doubleLiteral(Double(bitPattern: UInt64(bitPattern: token.value))), at: at)
        case .charLiteral:
            advance()
            return Expr(.intLiteral(Int32(truncatingIfNeeded: token.value)), at: at)
        case .stringLiteral:
            advance()
            let index = Int(token.value)
            return Expr(.stringLiteral(index >= 0 && index < strings.count ? strings[index] : ""), at: at)
        case .kwTrue:
            advance()
            return Expr(.intLiteral(1), at: at)
        case .kwFalse:
            advance()
            return Expr(.intLiteral(0), at: at)
        case .kwNull:
            advance()
            return Expr(.null, at: at)
        case .kwThis:
            advance()
            return Expr(.this, at: at)
        case .kwSuper:
            advance()
            if kind == .leftParen { return Expr(.superCall(nil, try arguments()), at: at) }
            try expect(.dot, "after 'super'")
            let (name, _) = try identifier("after 'super.'")
            return Expr(.superCall(name, try arguments()), at: at)
        case .leftParen:
            advance()
            let inner = try expression()
            try expect(.rightParen, "to close the parenthesis")
            return inner
        case .identifier:
            advance()
            let name = text(token)
            if kind == .leftParen { return Expr(.call(nil, name, try arguments()), at: at) }
            return Expr(.name(name), at: at)
        case .dot:
            let (name, _) = try qualifiedName("for a class name")
            return Expr(.className(name), at: at)
        case .kwNew:
            advance()
            return try newExpression(at: at)
        case .kwImport:
            error("'import \"file\"' resources are not supported yet", at: at)
            throw SyntaxError()
        default:
            fail(expected: "an expression", "")
            throw SyntaxError()
        }
    }

    private mutating func newExpression(at: Int) throws(SyntaxError) -> Expr {
        var base: TypeSyntax
        switch kind {
        case .kwVoid: base = .void; advance()
        case .kwInt: base = .int; advance()
        case .kwLong: base = .long; advance()
        case .kwFloat: base = .float; advance()
        case .kwDouble: base = .double; advance()
        case .kwString: base = .string; advance()
        case .kwBoolean: base = .boolean; advance()
        case .identifier, .dot:
            let (name, _) = try qualifiedName("after 'new'")
            base = .named(name)
        default:
            fail(expected: "a class name", "after 'new'")
            throw SyntaxError()
        }
        if kind == .leftBracket {
            advance()
            if accept(.rightBracket) {
                // `new void[]()`: an empty array that grows on assignment; `()` is optional.
                while kind == .leftBracket && peekKind(1) == .rightBracket { advance(); advance(); base = .array(base) }
                if accept(.leftParen) { try expect(.rightParen, "after '(' of the new array") }
                return Expr(.newArray(base, nil), at: at)
            }
            let size = try expression()
            try expect(.rightBracket, "after the array size")
            while kind == .leftBracket && peekKind(1) == .rightBracket { advance(); advance(); base = .array(base) }
            return Expr(.newArray(base, size), at: at)
        }
        return Expr(.new(base, try arguments()), at: at)
    }
}
