// The assembler: the textual form of PVM classes (`.pa` files), so that tests
// and examples can be written by hand. docs/bytecode.md has the syntax:
// ```
// ; a comment
// class counter                 ; or: class .ru.dz.counter extends .internal.object
// field n
// method run 1                  ; name, arguments, [ordinal] (default 8, 9, ...)
//     const "a pool constant"   ; adds to this method's constant pool
//     iconst 0
// loop:
//     jmp loop
// end
// ```

/// An assembler diagnostic: `file:line:column: message`.
public struct AssemblerError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "\(file):\(line):\(column): error: \(message)" }
}

/// Assembles `.pa` text into class files.
public enum Assembler {
    /// Assembles every class in `source`; throws all the errors found.
    public static func assemble(_ source: String, file: String = "<input>") throws(AssemblerErrors) -> [ClassFile] {
        var errors: [AssemblerError] = []
        var classes: [ClassFile] = []
        var current: ClassFile? = nil
        var method: PendingMethod? = nil
        var pendingOrdinals: [Int] = []
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        func error(_ line: Int, _ column: Int, _ message: String) {
            errors.append(AssemblerError(file: file, line: line, column: column, message: message))
        }
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            let tokens: [Token]
            switch tokenize(String(rawLine)) {
            case let .success(found): tokens = found
            case let .failure(problem): error(lineNumber, problem.column, problem.message); continue
            }
            guard var first = tokens.first else { continue }
            var rest = Array(tokens.dropFirst())
            // A label, alone or before an instruction.
            if case let .word(text) = first.kind, text.hasSuffix(":") {
                let label = String(text.dropLast())
                if method == nil { error(lineNumber, first.column, "label '\(label)' outside a method") }
                else if method!.labels[label] != nil { error(lineNumber, first.column, "label '\(label)' is defined twice") }
                else { method!.labels[label] = method!.items.count }
                guard let next = rest.first else { continue }
                first = next
                rest.removeFirst()
            }
            guard case let .word(keyword) = first.kind else { error(lineNumber, first.column, "expected a directive or an instruction"); continue }
            switch keyword {
            case "class":
                if method != nil { error(lineNumber, first.column, "'class' inside a method (missing 'end')") }
                if let finished = current { classes.append(finished) }
                pendingOrdinals = []
                guard let name = rest.first, case let .word(text) = name.kind else { error(lineNumber, first.column, "'class' needs a name"); current = nil; continue }
                var parent = ""
                if rest.count >= 3, case .word("extends") = rest[1].kind, case let .word(base) = rest[2].kind { parent = base }
                else if rest.count != 1 { error(lineNumber, first.column, "expected 'class NAME [extends PARENT]'") }
                current = ClassFile(name: text, parent: parent)
            case "field":
                guard current != nil, method == nil else { error(lineNumber, first.column, "'field' belongs in a class, outside methods"); continue }
                guard rest.count == 1, case let .word(name) = rest[0].kind else { error(lineNumber, first.column, "expected 'field NAME'"); continue }
                current!.fields.append(name)
            case "method":
                guard current != nil else { error(lineNumber, first.column, "'method' outside a class"); continue }
                if method != nil { error(lineNumber, first.column, "'method' inside a method (missing 'end')") }
                guard rest.count == 2 || rest.count == 3, case let .word(name) = rest[0].kind,
                      case let .number(arguments) = rest[1].kind, (0...255).contains(arguments) else {
                    error(lineNumber, first.column, "expected 'method NAME ARGUMENTS [ORDINAL]'"); continue
                }
                let used = Set(current!.methods.map(\.ordinal) + pendingOrdinals)
                var ordinal = 8
                while used.contains(ordinal) { ordinal += 1 }
                if rest.count == 3 {
                    guard case let .number(explicit) = rest[2].kind, (0..<Int64(ClassFile.maxMethods)).contains(explicit) else {
                        error(lineNumber, rest[2].column, "the ordinal must be a number below \(ClassFile.maxMethods)"); continue
                    }
                    ordinal = Int(explicit)
                    if current!.methods.contains(where: { $0.ordinal == ordinal }) || pendingOrdinals.contains(ordinal) {
                        error(lineNumber, rest[2].column, "ordinal \(ordinal) is already used in this class"); continue
                    }
                }
                pendingOrdinals.append(ordinal)
                method = PendingMethod(name: name, ordinal: ordinal, arguments: Int(arguments), line: lineNumber)
            case "end":
                guard let finished = method, current != nil else { error(lineNumber, first.column, "'end' without a method"); continue }
                method = nil
                // Fields are numbered after the parent's; a parent from another
                // file is unknown here, so its fields are not checked (the
                // loader verifies again with the real numbers).
                var inherited = 0
                var parentName = current!.parent
                var knownChain = true
                while !parentName.isEmpty {
                    guard let parent = classes.first(where: { $0.name == parentName }) else { knownChain = false; break }
                    inherited += parent.fields.count
                    parentName = parent.parent
                }
                let fieldLimit = knownChain ? inherited + current!.fields.count : 255
                switch finished.build(className: current!.name, fieldCount: fieldLimit, file: file) {
                case let .success(built): current!.methods.append(built)
                case let .failure(found): errors += found.errors
                }
            case "const":
                guard method != nil else { error(lineNumber, first.column, "'const' outside a method"); continue }
                guard rest.count == 1, case let .string(bytes) = rest[0].kind, let text = String(validating: bytes, as: UTF8.self) else {
                    error(lineNumber, first.column, "expected 'const \"TEXT\"'"); continue
                }
                method!.constants.append(text)
            default:
                guard method != nil else { error(lineNumber, first.column, "instruction '\(keyword)' outside a method"); continue }
                guard let opcode = Opcode.byMnemonic[keyword] else { error(lineNumber, first.column, "unknown instruction '\(keyword)'"); continue }
                method!.items.append(PendingInstruction(opcode: opcode, operands: rest, line: lineNumber, column: first.column))
            }
        }
        if method != nil { error(lines.count, 1, "missing 'end' of method '\(method!.name)'") }
        if let finished = current { classes.append(finished) }
        if classes.isEmpty && errors.isEmpty { error(1, 1, "no class in the file") }
        guard errors.isEmpty else { throw AssemblerErrors(errors: errors) }
        return classes
    }

    struct PendingInstruction {
        let opcode: Opcode
        let operands: [Token]
        let line: Int
        let column: Int
    }

    struct PendingMethod {
        let name: String
        let ordinal: Int
        let arguments: Int
        let line: Int
        var items: [PendingInstruction] = []
        var labels: [String: Int] = [:]
        var constants: [String] = []

        func build(className: String, fieldCount: Int, file: String) -> Result<MethodFile, AssemblerErrors> {
            var errors: [AssemblerError] = []
            // Pass 1: offsets.
            var offsets: [Int] = []
            var offset = 0
            for item in items {
                offsets.append(offset)
                var size = 1 + item.opcode.operandSize
                if item.opcode.operands == .string, case let .string(bytes)? = item.operands.first?.kind { size += bytes.count }
                offset += size
            }
            offsets.append(offset)
            // Pass 2: encode.
            var code: [UInt8] = []
            var lines: [(ip: Int, line: Int)] = []
            func put(_ value: Int64, bytes: Int) { for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) { code.append(UInt8(truncatingIfNeeded: value >> Int64(shift))) } }
            for item in items {
                func error(_ message: String) { errors.append(AssemblerError(file: file, line: item.line, column: item.column, message: message)) }
                if lines.last?.line != item.line { lines.append((code.count, item.line)) }
                let name = item.opcode.mnemonic
                func number(_ index: Int, _ range: ClosedRange<Int64>) -> Int64? {
                    guard index < item.operands.count, case let .number(value) = item.operands[index].kind else { error("\(name) needs a number as operand \(index + 1)"); return nil }
                    guard range.contains(value) else { error("\(name): \(value) is out of range \(range.lowerBound)...\(range.upperBound)"); return nil }
                    return value
                }
                let expected: Int
                switch item.opcode.operands {
                case .none: expected = 0
                case .call8, .reserve: expected = 2
                default: expected = 1
                }
                guard item.operands.count == expected else { error("\(name) takes \(expected) operand(s), not \(item.operands.count)"); continue }
                code.append(item.opcode.rawValue)
                switch item.opcode.operands {
                case .none: break
                case .u8: put(number(0, item.opcode == .iconst8 ? -128...127 : 0...255) ?? 0, bytes: 1)
                case .i32: put(number(0, Int64(Int32.min)...Int64(Int32.max)) ?? 0, bytes: 4)
                case .i64: put(number(0, Int64.min...Int64.max) ?? 0, bytes: 8)
                case .constant: put(number(0, 0...Int64(Int32.max)) ?? 0, bytes: 4)
                case .call8:
                    put(number(0, 0...255) ?? 0, bytes: 1)
                    put(number(1, 0...255) ?? 0, bytes: 4)
                case .reserve:
                    put(number(0, 0...255) ?? 0, bytes: 1)
                    put(number(1, 0...255) ?? 0, bytes: 1)
                case .target:
                    guard case let .word(label) = item.operands[0].kind, let target = labels[label] else {
                        error("\(name) needs a label defined in this method"); put(0, bytes: 4); continue
                    }
                    put(Int64(offsets[target]), bytes: 4)
                case .string:
                    guard case let .string(bytes) = item.operands[0].kind else { error("\(name) needs a \"string\""); put(0, bytes: 4); continue }
                    put(Int64(bytes.count), bytes: 4)
                    code += bytes
                }
            }
            guard errors.isEmpty else { return .failure(AssemblerErrors(errors: errors)) }
            var built = MethodFile(name: name, ordinal: ordinal, arguments: arguments, code: code, constants: constants, lines: lines)
            do {
                let depths = try Verifier.analyze(built, className: className, fieldCount: fieldCount)
                built.maxObjectStack = depths.maxObjectStack
                built.maxIntegerStack = depths.maxIntegerStack
            } catch {
                let sourceLine = built.line(at: error.offset) ?? line
                return .failure(AssemblerErrors(errors: [AssemblerError(file: file, line: sourceLine, column: 1, message: "\(name): \(error.reason)")]))
            }
            return .success(built)
        }
    }

    struct Token {
        enum Kind { case word(String), number(Int64), string([UInt8]) }
        let kind: Kind
        let column: Int
    }

    struct TokenProblem: Error { let column: Int; let message: String }

    static func tokenize(_ line: String) -> Result<[Token], TokenProblem> {
        var tokens: [Token] = []
        let chars = Array(line.unicodeScalars)
        var index = 0
        while index < chars.count {
            let char = chars[index]
            if char == " " || char == "\t" || char == "\r" || char == "," { index += 1; continue }
            if char == ";" || char == "#" { break }
            let column = index + 1
            if char == "\"" {
                var bytes: [UInt8] = []
                index += 1
                var closed = false
                while index < chars.count {
                    let c = chars[index]
                    if c == "\"" { closed = true; index += 1; break }
                    if c == "\\" && index + 1 < chars.count {
                        index += 1
                        switch chars[index] {
                        case "n": bytes.append(10)
                        case "t": bytes.append(9)
                        case "0": bytes.append(0)
                        case "\\": bytes.append(92)
                        case "\"": bytes.append(34)
                        default: return .failure(TokenProblem(column: index, message: "unknown escape '\\\(chars[index])'"))
                        }
                    } else {
                        bytes += Array(String(c).utf8)
                    }
                    index += 1
                }
                guard closed else { return .failure(TokenProblem(column: column, message: "unterminated string")) }
                tokens.append(Token(kind: .string(bytes), column: column))
                continue
            }
            var text = ""
            while index < chars.count, !" \t\r,;#\"".unicodeScalars.contains(chars[index]) {
                text.unicodeScalars.append(chars[index])
                index += 1
            }
            if let value = parseNumber(text) {
                tokens.append(Token(kind: .number(value), column: column))
            } else {
                tokens.append(Token(kind: .word(text), column: column))
            }
        }
        return .success(tokens)
    }

    static func parseNumber(_ text: String) -> Int64? {
        var body = Substring(text)
        var negative = false
        if body.hasPrefix("-") { negative = true; body = body.dropFirst() }
        guard let first = body.first, first.isNumber else { return nil }
        let magnitude: UInt64?
        if body.hasPrefix("0x") || body.hasPrefix("0X") { magnitude = UInt64(body.dropFirst(2), radix: 16) } else { magnitude = UInt64(body) }
        guard let magnitude else { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return Int64(bitPattern: magnitude)
    }
}

/// All the errors of one assembly.
public struct AssemblerErrors: Error, CustomStringConvertible, Equatable {
    public let errors: [AssemblerError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
