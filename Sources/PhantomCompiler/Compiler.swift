// The compiler's entry point: Phantom source files in, class files out.
//
//   lex + parse each file  ->  declare classes, fields, ordinals (SymbolTable)
//   ->  check and generate every method (MethodCompiler)  ->  verify (PVM Verifier)
//
// Every phase reports what it finds and goes on, so one run lists as many
// errors as it can; class files are returned only when there is no error.

import PhantomVM

/// Options of a compilation.
public struct CompileOptions: Sendable {
    /// Run the PVM verifier on every generated class (a check of the compiler itself).
    public var verify: Bool

    public init(verify: Bool = true) {
        self.verify = verify
    }
}

/// What a compilation produced.
public struct CompileResult: Sendable {
    /// The classes, parents before children; empty when there are errors.
    public let classes: [ClassFile]
    /// Errors and warnings, in the order found.
    public let diagnostics: [Diagnostic]
    /// The number of errors (some may not be listed past the limit).
    public let errorCount: Int
    /// How many symbol-table entries the compilation's lookups looked at: a
    /// measure of the compiler's own work that grows in proportion to the
    /// program (tests check that it does not grow with its square).
    public let lookupWork: Int

    public var succeeded: Bool { errorCount == 0 }
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
}

/// The Phantom language compiler.
public enum Compiler {
    /// Compiles source files together (classes may refer to each other across files).
    public static func compile(_ sources: [SourceFile], options: CompileOptions = CompileOptions()) -> CompileResult {
        var sink = DiagnosticSink()
        var files: [FileSyntax] = []
        var memberNames = Set<String>()
        for (index, source) in sources.enumerated() {
            var lexer = Lexer(file: source)
            lexer.tokenize(into: &sink)
            var parser = Parser(lexer: lexer, fileIndex: index, sink: sink)
            files.append(parser.parseFile())
            sink = parser.diagnostics
            memberNames.formUnion(parser.memberNames)
        }
        let table = SymbolTable(sources: sources, files: files, memberNames: memberNames, sink: sink)
        table.declare()
        var classes: [ClassFile] = []
        let ordered = orderedClasses(table)
        for cls in ordered {
            var file = ClassFile(name: cls.name, parent: cls.parent?.name ?? "", fields: cls.fields.map(\.name))
            let fileIndex = cls.declaration?.fileIndex ?? 0
            for method in cls.methods.sorted(by: { $0.ordinal < $1.ordinal }) {
                let compiler = MethodCompiler(table: table, cls: cls, method: method, file: fileIndex)
                if let compiled = compiler.compile() { file.methods.append(compiled) }
            }
            classes.append(file)
        }
        if options.verify && !table.sink.hasErrors {
            for (file, cls) in zip(classes, ordered) {
                do {
                    try Verifier.verify(file, inheritedFields: cls.inheritedFieldCount)
                } catch {
                    table.error("internal compiler error: the PVM verifier rejects the code generated for \(error)",
                                at: cls.declaration?.position ?? 0, file: cls.declaration?.fileIndex ?? 0)
                }
            }
        }
        let final = table.sink
        // In file order, then by position (the parser's errors come first otherwise).
        let order = Dictionary(sources.enumerated().map { ($0.element.name, $0.offset) }, uniquingKeysWith: { first, _ in first })
        let sorted = final.diagnostics.enumerated().sorted { a, b in
            let left = (order[a.element.file] ?? 0, a.element.line, a.element.column, a.offset)
            let right = (order[b.element.file] ?? 0, b.element.line, b.element.column, b.offset)
            return left < right
        }.map(\.element)
        return CompileResult(classes: final.hasErrors ? [] : classes, diagnostics: sorted, errorCount: final.errorCount,
                             lookupWork: table.counter.steps)
    }

    /// Compiles one source text (for tests and tools).
    public static func compile(_ text: String, file: String = "<input>", options: CompileOptions = CompileOptions()) -> CompileResult {
        compile([SourceFile(name: file, text: text)], options: options)
    }

    /// User classes (not interfaces), every parent before its children.
    static func orderedClasses(_ table: SymbolTable) -> [ClassSymbol] {
        var ordered: [ClassSymbol] = []
        var placed = Set<ObjectIdentifier>()
        for start in table.userClasses {
            // The chain of not yet placed classes above `start`, placed top down
            // (a loop: chains may be thousands deep; the layout has cut cycles).
            var chain: [ClassSymbol] = []
            var current: ClassSymbol? = start
            while let cls = current, !cls.isInternal, !cls.isInterface, placed.insert(ObjectIdentifier(cls)).inserted {
                chain.append(cls)
                current = cls.parent
            }
            ordered += chain.reversed()
        }
        return ordered
    }

    /// The class file name for a class: `.ru.dz.counter` -> `ru.dz.counter.pc` (as `phantom asm` names them).
    public static func classFileName(_ name: String) -> String {
        var trimmed = Substring(name)
        while trimmed.hasPrefix(".") { trimmed = trimmed.dropFirst() }
        return trimmed.replacingOccurrences(of: "/", with: "_") + ".pc"
    }
}

private extension Substring {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
