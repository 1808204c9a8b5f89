// The class file: what the assembler and the compiler write and the loader
// reads (docs/class-file.md). Version 1, big-endian:
// ```
// magic "PHCL" u32 · version u16 · flags u16
// name: str · parent: str (empty: none)
// field count u32 · field names: str * count
// method count u32, then each method:
//   name: str · ordinal u32 · arguments u32
//   max object stack u32 · max integer stack u32
//   code length u32 · code bytes
//   constant count u32 · constants: str * count
//   line count u32 · (ip u32, line u32) * count
// str = length u32 · UTF-8 bytes
// ```

/// A class as stored in a class file.
public struct ClassFile: Equatable, Sendable {
    public var name: String
    public var parent: String
    public var fields: [String]
    public var methods: [MethodFile]

    public init(name: String, parent: String = "", fields: [String] = [], methods: [MethodFile] = []) {
        self.name = name
        self.parent = parent
        self.fields = fields
        self.methods = methods
    }

    static let magic: UInt32 = 0x5048_434C  // "PHCL"
    /// The class file version this build writes and reads.
    public static let version: UInt16 = 1
    /// Limits the loader enforces (a class file is untrusted input).
    public static let maxMethods = 4096
    public static let maxFields = 65536
    public static let maxCode = 16 << 20
    public static let maxString = 16 << 20
}

/// A method as stored in a class file.
public struct MethodFile: Equatable, Sendable {
    public var name: String
    /// Index in the class's method table; calls name methods by ordinal.
    public var ordinal: Int
    /// Arguments the method takes (object-stack slots 0..<arguments on entry).
    public var arguments: Int
    /// Deepest object stack the code reaches (locals included).
    public var maxObjectStack: Int
    /// Deepest integer stack the code reaches.
    public var maxIntegerStack: Int
    public var code: [UInt8]
    /// String constants for `const_pool`.
    public var constants: [String]
    /// (instruction offset, source line), ascending by offset.
    public var lines: [(ip: Int, line: Int)]

    public init(name: String, ordinal: Int, arguments: Int, maxObjectStack: Int = 0, maxIntegerStack: Int = 0,
                code: [UInt8], constants: [String] = [], lines: [(ip: Int, line: Int)] = []) {
        self.name = name
        self.ordinal = ordinal
        self.arguments = arguments
        self.maxObjectStack = maxObjectStack
        self.maxIntegerStack = maxIntegerStack
        self.code = code
        self.constants = constants
        self.lines = lines
    }

    public static func == (a: MethodFile, b: MethodFile) -> Bool {
        a.name == b.name && a.ordinal == b.ordinal && a.arguments == b.arguments
            && a.maxObjectStack == b.maxObjectStack && a.maxIntegerStack == b.maxIntegerStack
            && a.code == b.code && a.constants == b.constants
            && a.lines.map(\.ip) == b.lines.map(\.ip) && a.lines.map(\.line) == b.lines.map(\.line)
    }

    /// The source line of an instruction offset, if known.
    public func line(at ip: Int) -> Int? {
        lines.last { $0.ip <= ip }?.line
    }
}

/// Why a class file was rejected.
public struct ClassFileError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public let offset: Int
    public var description: String { "bad class file at byte \(offset): \(reason)" }
}

extension ClassFile {
    /// Encodes the class file.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ value: Int) { out += [UInt8(value >> 24 & 255), UInt8(value >> 16 & 255), UInt8(value >> 8 & 255), UInt8(value & 255)] }
        func u16(_ value: Int) { out += [UInt8(value >> 8 & 255), UInt8(value & 255)] }
        func str(_ text: String) { let bytes = Array(text.utf8); u32(bytes.count); out += bytes }
        u32(Int(Self.magic))
        u16(Int(Self.version))
        u16(0)
        str(name)
        str(parent)
        u32(fields.count)
        fields.forEach(str)
        u32(methods.count)
        for method in methods {
            str(method.name)
            u32(method.ordinal)
            u32(method.arguments)
            u32(method.maxObjectStack)
            u32(method.maxIntegerStack)
            u32(method.code.count)
            out += method.code
            u32(method.constants.count)
            method.constants.forEach(str)
            u32(method.lines.count)
            for entry in method.lines { u32(entry.ip); u32(entry.line) }
        }
        return out
    }

    /// Decodes a class file; every length and count is checked.
    public init(decoding bytes: [UInt8]) throws(ClassFileError) {
        var position = 0
        func fail(_ reason: String) -> ClassFileError { ClassFileError(reason: reason, offset: position) }
        func u32() throws(ClassFileError) -> Int {
            guard position + 4 <= bytes.count else { throw fail("unexpected end of file") }
            defer { position += 4 }
            return Int(bytes[position]) << 24 | Int(bytes[position + 1]) << 16 | Int(bytes[position + 2]) << 8 | Int(bytes[position + 3])
        }
        func u16() throws(ClassFileError) -> Int {
            guard position + 2 <= bytes.count else { throw fail("unexpected end of file") }
            defer { position += 2 }
            return Int(bytes[position]) << 8 | Int(bytes[position + 1])
        }
        func count(_ what: String, max: Int) throws(ClassFileError) -> Int {
            let value = try u32()
            guard value <= max else { throw fail("\(what) count \(value) exceeds \(max)") }
            return value
        }
        func str(_ what: String) throws(ClassFileError) -> String {
            let length = try u32()
            guard length <= ClassFile.maxString, position + length <= bytes.count else { throw fail("\(what) of \(length) bytes runs past the end") }
            defer { position += length }
            guard let text = String(validating: bytes[position..<(position + length)], as: UTF8.self) else {
                throw fail("\(what) is not valid UTF-8")
            }
            return text
        }
        guard try u32() == Int(Self.magic) else { position = 0; throw fail("not a Phantom class file (no \"PHCL\" magic)") }
        let version = try u16()
        guard version == Int(Self.version) else { throw fail("class file version \(version); this build reads version \(Self.version)") }
        _ = try u16()
        let name = try str("class name")
        guard !name.isEmpty else { throw fail("empty class name") }
        let parent = try str("parent name")
        let fieldCount = try count("field", max: Self.maxFields)
        var fields: [String] = []
        for _ in 0..<fieldCount { fields.append(try str("field name")) }
        let methodCount = try count("method", max: Self.maxMethods)
        var methods: [MethodFile] = []
        for _ in 0..<methodCount {
            let methodName = try str("method name")
            let ordinal = try count("ordinal", max: Self.maxMethods - 1)
            let arguments = try count("argument", max: 255)
            let maxObjects = try count("object stack", max: 65535)
            let maxIntegers = try count("integer stack", max: 65535)
            let codeLength = try count("code length", max: Self.maxCode)
            guard position + codeLength <= bytes.count else { throw fail("code of \(codeLength) bytes runs past the end") }
            let code = Array(bytes[position..<(position + codeLength)])
            position += codeLength
            let constantCount = try count("constant", max: 1 << 20)
            var constants: [String] = []
            for _ in 0..<constantCount { constants.append(try str("constant")) }
            let lineCount = try count("line", max: Self.maxCode)
            var lines: [(Int, Int)] = []
            for _ in 0..<lineCount { lines.append((try u32(), try u32())) }
            methods.append(MethodFile(name: methodName, ordinal: ordinal, arguments: arguments, maxObjectStack: maxObjects,
                                      maxIntegerStack: maxIntegers, code: code, constants: constants, lines: lines))
        }
        guard position == bytes.count else { throw fail("\(bytes.count - position) bytes of garbage after the last method") }
        self.init(name: name, parent: parent, fields: fields, methods: methods)
    }
}
