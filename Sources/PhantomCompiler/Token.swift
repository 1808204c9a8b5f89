// Tokens of the Phantom language (docs/language.md, "Lexical structure").

/// What a token is.
enum TokenKind: UInt8, Sendable {
    case endOfFile
    case identifier
    case intLiteral       // value: the number (fits in 32 bits unsigned-or-signed)
    case longLiteral      // value: the number, with an L suffix or too big for int
    case floatLiteral     // value: Float bit pattern, with an f suffix
    case doubleLiteral    // value: Double bit pattern
    case stringLiteral    // value: index in Lexer.strings
    case charLiteral      // value: the byte ('a')

    // Punctuation.
    case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket
    case semicolon, comma, dot, colon, question, at
    case plus, minus, star, slash, percent, ampersand, pipe, caret, tilde, bang
    case assign, equal, notEqual, less, lessEqual, greater, greaterEqual
    case andAnd, orOr, shiftLeft, shiftRight, unsignedShiftRight, plusPlus, minusMinus
    case plusAssign, minusAssign, starAssign, slashAssign, percentAssign
    case ampersandAssign, pipeAssign, caretAssign, shiftLeftAssign, shiftRightAssign, unsignedShiftRightAssign

    // Keywords.
    case kwPackage, kwImport, kwClass, kwInterface, kwExtends, kwImplements, kwAttribute
    case kwVar, kwVoid, kwInt, kwLong, kwFloat, kwDouble, kwString, kwBoolean
    case kwNew, kwThis, kwSuper, kwNull, kwTrue, kwFalse
    case kwReturn, kwIf, kwElse, kwWhile, kwDo, kwFor, kwSwitch, kwCase, kwDefault
    case kwBreak, kwContinue, kwThrow, kwTry, kwCatch, kwFinally, kwInstanceof, kwSynchronized
    case kwPublic, kwPrivate, kwProtected, kwStatic, kwFinal

    /// How the token reads in a message ("expected ';'").
    var spelling: String {
        switch self {
        case .endOfFile: "end of file"
        case .identifier: "a name"
        case .intLiteral, .longLiteral, .floatLiteral, .doubleLiteral: "a number"
        case .stringLiteral: "a string"
        case .charLiteral: "a character"
        case .leftParen: "'('"
        case .rightParen: "')'"
        case .leftBrace: "'{'"
        case .rightBrace: "'}'"
        case .leftBracket: "'['"
        case .rightBracket: "']'"
        case .semicolon: "';'"
        case .comma: "','"
        case .dot: "'.'"
        case .colon: "':'"
        case .question: "'?'"
        case .at: "'@'"
        case .plus: "'+'"
        case .minus: "'-'"
        case .star: "'*'"
        case .slash: "'/'"
        case .percent: "'%'"
        case .ampersand: "'&'"
        case .pipe: "'|'"
        case .caret: "'^'"
        case .tilde: "'~'"
        case .bang: "'!'"
        case .assign: "'='"
        case .equal: "'=='"
        case .notEqual: "'!='"
        case .less: "'<'"
        case .lessEqual: "'<='"
        case .greater: "'>'"
        case .greaterEqual: "'>='"
        case .andAnd: "'&&'"
        case .orOr: "'||'"
        case .shiftLeft: "'<<'"
        case .shiftRight: "'>>'"
        case .unsignedShiftRight: "'>>>'"
        case .plusPlus: "'++'"
        case .minusMinus: "'--'"
        case .plusAssign: "'+='"
        case .minusAssign: "'-='"
        case .starAssign: "'*='"
        case .slashAssign: "'/='"
        case .percentAssign: "'%='"
        case .ampersandAssign: "'&='"
        case .pipeAssign: "'|='"
        case .caretAssign: "'^='"
        case .shiftLeftAssign: "'<<='"
        case .shiftRightAssign: "'>>='"
        case .unsignedShiftRightAssign: "'>>>='"
        default:
            "'\(Self.keywordNames.first { $0.value == self }?.key ?? "?")'"
        }
    }

    /// Keywords by their text.
    static let keywordNames: [String: TokenKind] = [
        "package": .kwPackage, "import": .kwImport, "class": .kwClass, "interface": .kwInterface,
        "extends": .kwExtends, "implements": .kwImplements, "attribute": .kwAttribute,
        "var": .kwVar, "void": .kwVoid, "int": .kwInt, "long": .kwLong, "float": .kwFloat,
        "double": .kwDouble, "string": .kwString, "boolean": .kwBoolean,
        "new": .kwNew, "this": .kwThis, "super": .kwSuper, "null": .kwNull, "true": .kwTrue, "false": .kwFalse,
        "return": .kwReturn, "if": .kwIf, "else": .kwElse, "while": .kwWhile, "do": .kwDo, "for": .kwFor,
        "switch": .kwSwitch, "case": .kwCase, "default": .kwDefault, "break": .kwBreak,
        "continue": .kwContinue, "throw": .kwThrow, "try": .kwTry, "catch": .kwCatch, "finally": .kwFinally,
        "instanceof": .kwInstanceof, "synchronized": .kwSynchronized,
        "public": .kwPublic, "private": .kwPrivate, "protected": .kwProtected, "static": .kwStatic, "final": .kwFinal,
    ]

    /// True for `=`, `+=`, ...
    var isAssignment: Bool { self == .assign || (rawValue >= TokenKind.plusAssign.rawValue && rawValue <= TokenKind.unsignedShiftRightAssign.rawValue) }

    /// True for the keywords that name a built-in type.
    var isPrimitiveType: Bool {
        switch self {
        case .kwVoid, .kwInt, .kwLong, .kwFloat, .kwDouble, .kwString, .kwBoolean: true
        default: false
        }
    }
}

/// One token: its kind, where it is, and its value for literals.
struct Token: Sendable {
    var kind: TokenKind
    /// Byte offset of the first byte.
    var start: Int32
    /// Byte offset after the last byte.
    var end: Int32
    /// Literal value (see `TokenKind`).
    var value: Int64 = 0
}
