// The lexer: bytes of a source file -> tokens. It works on UTF-8 bytes (names
// and keywords are ASCII; other text may appear only in strings and comments)
// and reports what it cannot read without stopping.

/// Splits a source file into tokens.
struct Lexer {
    let file: SourceFile
    private let bytes: [UInt8]
    private var position = 0
    /// Decoded string literals (a string token's value indexes this).
    private(set) var strings: [String] = []
    private(set) var tokens: [Token] = []

    init(file: SourceFile) {
        self.file = file
        self.bytes = file.bytes
    }

    /// Reads every token; the last one is `endOfFile`.
    mutating func tokenize(into sink: inout DiagnosticSink) {
        tokens.reserveCapacity(bytes.count / 3 + 1)
        if String(validating: bytes, as: UTF8.self) == nil {
            let bad = firstInvalidUTF8()
            sink.lexicalError("the file is not valid UTF-8 text", at: bad, in: file)
        }
        while true {
            skipSpaceAndComments(&sink)
            guard position < bytes.count else { break }
            lexToken(&sink)
        }
        tokens.append(Token(kind: .endOfFile, start: Int32(clamping: bytes.count), end: Int32(clamping: bytes.count)))
    }

    /// Offset of the first byte that starts no valid UTF-8 sequence (0 if
    /// the problem is subtler, such as an overlong form).
    private func firstInvalidUTF8() -> Int {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            guard length > 0, index + length <= bytes.count else { return index }
            for next in 1..<max(1, length) where bytes[index + next] & 0xC0 != 0x80 { return index }
            index += length
        }
        return 0
    }

    private func peek(_ ahead: Int = 0) -> UInt8 {
        let index = position + ahead
        return index < bytes.count ? bytes[index] : 0
    }

    private mutating func skipSpaceAndComments(_ sink: inout DiagnosticSink) {
        while position < bytes.count {
            let byte = bytes[position]
            if byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 12 {
                position += 1
            } else if byte == 47 && peek(1) == 47 {  // //
                while position < bytes.count && bytes[position] != 10 { position += 1 }
            } else if byte == 47 && peek(1) == 42 {  // /* */
                let start = position
                position += 2
                var closed = false
                while position < bytes.count {
                    if bytes[position] == 42 && peek(1) == 47 { position += 2; closed = true; break }
                    position += 1
                }
                if !closed { sink.lexicalError("unterminated comment: expected '*/'", at: start, in: file) }
            } else {
                return
            }
        }
    }

    private mutating func add(_ kind: TokenKind, from start: Int, value: Int64 = 0) {
        tokens.append(Token(kind: kind, start: Int32(clamping: start), end: Int32(clamping: position), value: value))
    }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || byte == 95
    }

    static func isIdentifierPart(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || (byte >= 48 && byte <= 57)
    }

    private mutating func lexToken(_ sink: inout DiagnosticSink) {
        let start = position
        let byte = bytes[position]
        if Self.isIdentifierStart(byte) {
            while position < bytes.count && Self.isIdentifierPart(bytes[position]) { position += 1 }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            add(TokenKind.keywordNames[text] ?? .identifier, from: start)
            return
        }
        if byte >= 48 && byte <= 57 {
            lexNumber(&sink)
            return
        }
        if byte == 34 {
            lexString(&sink)
            return
        }
        if byte == 39 {
            lexCharacter(&sink)
            return
        }
        position += 1
        func next(_ expected: UInt8) -> Bool {
            if position < bytes.count && bytes[position] == expected { position += 1; return true }
            return false
        }
        let kind: TokenKind
        switch byte {
        case 40: kind = .leftParen
        case 41: kind = .rightParen
        case 123: kind = .leftBrace
        case 125: kind = .rightBrace
        case 91: kind = .leftBracket
        case 93: kind = .rightBracket
        case 59: kind = .semicolon
        case 44: kind = .comma
        case 46: kind = .dot
        case 58: kind = .colon
        case 63: kind = .question
        case 64: kind = .at
        case 126: kind = .tilde
        case 43: kind = next(43) ? .plusPlus : next(61) ? .plusAssign : .plus
        case 45: kind = next(45) ? .minusMinus : next(61) ? .minusAssign : .minus
        case 42: kind = next(61) ? .starAssign : .star
        case 47: kind = next(61) ? .slashAssign : .slash
        case 37: kind = next(61) ? .percentAssign : .percent
        case 38: kind = next(38) ? .andAnd : next(61) ? .ampersandAssign : .ampersand
        case 124: kind = next(124) ? .orOr : next(61) ? .pipeAssign : .pipe
        case 94: kind = next(61) ? .caretAssign : .caret
        case 33: kind = next(61) ? .notEqual : .bang
        case 61: kind = next(61) ? .equal : .assign
        case 60:
            if next(60) { kind = next(61) ? .shiftLeftAssign : .shiftLeft }
            else { kind = next(61) ? .lessEqual : .less }
        case 62:
            if next(62) {
                if next(62) { kind = next(61) ? .unsignedShiftRightAssign : .unsignedShiftRight }
                else { kind = next(61) ? .shiftRightAssign : .shiftRight }
            } else { kind = next(61) ? .greaterEqual : .greater }
        default:
            // Skip the whole UTF-8 sequence of a stray character.
            while position < bytes.count && bytes[position] & 0xC0 == 0x80 { position += 1 }
            let shown = byte >= 32 && byte < 127 ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
            sink.lexicalError("unexpected character \(shown)", at: start, in: file)
            return
        }
        add(kind, from: start)
    }

    private mutating func lexNumber(_ sink: inout DiagnosticSink) {
        let start = position
        if bytes[position] == 48 && (peek(1) == 120 || peek(1) == 88) {  // 0x
            position += 2
            var value: UInt64 = 0
            var overflow = false
            var digits = 0
            while position < bytes.count, let digit = Self.hexDigit(bytes[position]) {
                let (shifted, lost) = value.multipliedReportingOverflow(by: 16)
                overflow = overflow || lost
                value = shifted | UInt64(digit)
                digits += 1
                position += 1
            }
            let isLong = position < bytes.count && (bytes[position] == 76 || bytes[position] == 108)
            if isLong { position += 1 }
            consumeTrailingIdentifier(start, &sink)
            if digits == 0 { sink.lexicalError("expected hexadecimal digits after '0x'", at: start, in: file); add(.intLiteral, from: start); return }
            if overflow { sink.lexicalError("number is too large for 64 bits", at: start, in: file) }
            if !isLong && value > 0xFFFF_FFFF { sink.lexicalError("number is too large for int; add 'L' for a long", at: start, in: file) }
            // Hex int literals are bit patterns: 0xFFFFFFFF is -1.
            let result = isLong ? Int64(bitPattern: value) : Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
            add(isLong ? .longLiteral : .intLiteral, from: start, value: result)
            return
        }
        while position < bytes.count && bytes[position] >= 48 && bytes[position] <= 57 { position += 1 }
        var isFloating = false
        // A fraction needs a digit after the dot (`obj.16(x)` calls stay calls).
        if peek() == 46 && peek(1) >= 48 && peek(1) <= 57 {
            isFloating = true
            position += 1
            while position < bytes.count && bytes[position] >= 48 && bytes[position] <= 57 { position += 1 }
        }
        if peek() == 101 || peek() == 69 {  // exponent
            var ahead = 1
            if peek(1) == 43 || peek(1) == 45 { ahead = 2 }
            if peek(ahead) >= 48 && peek(ahead) <= 57 {
                isFloating = true
                position += ahead
                while position < bytes.count && bytes[position] >= 48 && bytes[position] <= 57 { position += 1 }
            }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        let suffix = peek()
        if suffix == 102 || suffix == 70 {  // f
            position += 1
            consumeTrailingIdentifier(start, &sink)
            let value = Float(text) ?? 0
            add(.floatLiteral, from: start, value: Int64(value.bitPattern))
            return
        }
        if suffix == 100 || suffix == 68 {  // d
            position += 1
            consumeTrailingIdentifier(start, &sink)
            add(.doubleLiteral, from: start, value: Int64(bitPattern: (Double(text) ?? 0).bitPattern))
            return
        }
        if isFloating {
            consumeTrailingIdentifier(start, &sink)
            add(.doubleLiteral, from: start, value: Int64(bitPattern: (Double(text) ?? 0).bitPattern))
            return
        }
        let isLong = suffix == 76 || suffix == 108
        if isLong { position += 1 }
        consumeTrailingIdentifier(start, &sink)
        guard let value = UInt64(text), value <= UInt64(Int64.max) + 1 else {
            sink.lexicalError("number is too large for 64 bits", at: start, in: file)
            add(.intLiteral, from: start)
            return
        }
        // 2147483648 and 9223372036854775808 are allowed only after a minus
        // sign; the parser checks that.
        if isLong || value > UInt64(Int32.max) + 1 {
            add(.longLiteral, from: start, value: Int64(bitPattern: value))
        } else {
            add(.intLiteral, from: start, value: Int64(value))
        }
    }

    /// `12abc` is one bad token, not a number and a name.
    private mutating func consumeTrailingIdentifier(_ start: Int, _ sink: inout DiagnosticSink) {
        guard position < bytes.count && Self.isIdentifierPart(bytes[position]) else { return }
        while position < bytes.count && Self.isIdentifierPart(bytes[position]) { position += 1 }
        sink.lexicalError("malformed number '\(String(decoding: bytes[start..<position], as: UTF8.self))'", at: start, in: file)
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 97...102: byte - 87
        case 65...70: byte - 55
        default: nil
        }
    }

    /// Reads one escape after a backslash; nil (and an error) if unknown.
    private mutating func escape(_ sink: inout DiagnosticSink) -> UInt8? {
        let at = position
        let byte = peek()
        position += 1
        switch byte {
        case 110: return 10
        case 116: return 9
        case 114: return 13
        case 48: return 0
        case 92: return 92
        case 34: return 34
        case 39: return 39
        default:
            if byte == 10 || byte == 0 && at >= bytes.count { position = at; sink.lexicalError("unterminated escape", at: at - 1, in: file); return nil }
            while position < bytes.count && bytes[position] & 0xC0 == 0x80 { position += 1 }
            sink.lexicalError("unknown escape '\\\(String(decoding: bytes[at..<position], as: UTF8.self))'; expected \\n, \\t, \\r, \\0, \\\\, \\\" or \\'", at: at - 1, in: file)
            return nil
        }
    }

    private mutating func lexString(_ sink: inout DiagnosticSink) {
        let start = position
        position += 1
        var text: [UInt8] = []
        while true {
            guard position < bytes.count, bytes[position] != 10 else {
                sink.lexicalError("unterminated string: expected '\"' before the end of the line", at: start, in: file)
                break
            }
            let byte = bytes[position]
            if byte == 34 { position += 1; break }
            if byte == 92 {
                position += 1
                if let value = escape(&sink) { text.append(value) }
                continue
            }
            text.append(byte)
            position += 1
        }
        strings.append(String(decoding: text, as: UTF8.self))
        add(.stringLiteral, from: start, value: Int64(strings.count - 1))
    }

    private mutating func lexCharacter(_ sink: inout DiagnosticSink) {
        let start = position
        position += 1
        var value: Int64 = 0
        if peek() == 92 {
            position += 1
            value = Int64(escape(&sink) ?? 0)
        } else if position < bytes.count && bytes[position] != 39 && bytes[position] != 10 {
            value = Int64(bytes[position])
            if bytes[position] >= 0x80 { sink.lexicalError("a character literal holds one byte (an ASCII character)", at: start, in: file) }
            position += 1
            while position < bytes.count && bytes[position] & 0xC0 == 0x80 { position += 1 }
        } else {
            sink.lexicalError("empty character literal", at: start, in: file)
        }
        if peek() == 39 { position += 1 } else { sink.lexicalError("unterminated character literal: expected \"'\"", at: start, in: file) }
        add(.charLiteral, from: start, value: value)
    }
}
