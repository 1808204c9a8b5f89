// The class file of the original Phantom (its compiler `plc` writes it, its
// VM's phantom/vm/load_class.c reads it; ../shared/ORIGINAL-PHANTOM.md §6,
// docs/class-file.md "The original's class files"). A file is a sequence of
// records, every integer big-endian:
// ```
// record = "phfr:" · tag u8 · length i32 (the whole record, header included) · body
// str    = length i32 · bytes
// type   = is_container i32 · class: str · contained class: str
//
// 'C' class      name: str · object slots i32 · method slots i32 · parent: str · version: str
// 'M' method     name: str · ordinal i32 · bytecode (to the end of the record)
// 'S' signature  name: str · ordinal i32 · arguments i32 · [is_ctor i32: absent in 2016 files]
//                · return: type · arguments × (name: str · type)
// 'l' line map   ordinal i32 · count i32 · count × (ip i64 · line i32)
// 'f' field      name: str · ordinal i32 · type
// 'c' constant   ordinal i32 · type · raw bytes (to the end of the record)
// ```
// Records may come in any order; a file has exactly one 'C'. This decoder
// only reads: what the bytecode means is PhantomVM's translation's business.
// Every length and count is checked against the record that holds it, so a
// damaged file is refused with the offset of what is wrong, never trusted.

/// A type as the original's class files write it (`ru.dz.plc.compiler.PhantomType`).
public struct OriginalType: Equatable, Sendable, CustomStringConvertible {
    /// The class name (`.internal.int`, `.internal.void`, ...).
    public var name: String
    /// For a container (an array): the class of its elements.
    public var contained: String?

    public var description: String { contained.map { "\(name)[\($0)]" } ?? name }

    public init(name: String, contained: String? = nil) {
        self.name = name
        self.contained = contained
    }
}

/// One class of the original, as its class file holds it.
public struct OriginalClassFile: Equatable, Sendable {
    public struct Method: Equatable, Sendable {
        public var name: String
        public var ordinal: Int
        /// The original bytecode (relative jumps, two slots for long and double).
        public var code: [UInt8]
    }

    public struct Signature: Equatable, Sendable {
        public var name: String
        public var ordinal: Int
        /// `nil` in the 2016 files, which have no constructor flag.
        public var isConstructor: Bool?
        public var returns: OriginalType
        public var arguments: [(name: String, type: OriginalType)]

        public static func == (a: Signature, b: Signature) -> Bool {
            a.name == b.name && a.ordinal == b.ordinal && a.isConstructor == b.isConstructor && a.returns == b.returns
                && a.arguments.map(\.name) == b.arguments.map(\.name) && a.arguments.map(\.type) == b.arguments.map(\.type)
        }
    }

    public struct Field: Equatable, Sendable {
        public var name: String
        public var ordinal: Int
        public var type: OriginalType

        public init(name: String, ordinal: Int, type: OriginalType) {
            self.name = name
            self.ordinal = ordinal
            self.type = type
        }
    }

    public struct Constant: Equatable, Sendable {
        public var ordinal: Int
        public var type: OriginalType
        /// The bytes as written; only `.internal.string` constants are
        /// understood by the original VM.
        public var bytes: [UInt8]
    }

    public var name: String
    public var parent: String
    public var objectSlots: Int
    public var methodSlots: Int
    /// The compile time stamp (`yyyyMMddHHmmssSSS`); the original VM ignores it.
    public var version: String
    /// By ordinal, in the order of the file.
    public var methods: [Method]
    public var signatures: [Signature]
    /// Ordinal → (ip, line), ascending by ip as written.
    public var lineMaps: [Int: [(ip: Int, line: Int)]]
    public var fields: [Field]
    public var constants: [Constant]

    public static func == (a: OriginalClassFile, b: OriginalClassFile) -> Bool {
        a.name == b.name && a.parent == b.parent && a.objectSlots == b.objectSlots && a.methodSlots == b.methodSlots
            && a.version == b.version && a.methods == b.methods && a.signatures == b.signatures && a.fields == b.fields
            && a.constants == b.constants && a.lineMaps.keys.sorted() == b.lineMaps.keys.sorted()
            && a.lineMaps.allSatisfy { key, lines in
                let other = b.lineMaps[key] ?? []
                return lines.map(\.ip) == other.map(\.ip) && lines.map(\.line) == other.map(\.line)
            }
    }

    /// The first bytes of every original class file.
    public static let recordMagic: [UInt8] = Array("phfr:".utf8)
    /// Limits (the files of the original library are at most a few hundred
    /// KiB; its VM allows 1024 method slots, `PVM_MAX_METHODS`...). A file
    /// beyond them is refused as damaged or hostile.
    public static let maxFileBytes = 16 << 20
    public static let maxSlots = 65536
    public static let maxString = 1 << 20

    /// True if `bytes` starts like an original class file (what `phantom
    /// install` uses to tell the two formats apart).
    public static func looksLikeOriginal(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 10 && Array(bytes[0..<5]) == recordMagic
    }
}

extension OriginalClassFile {
    /// Decodes an original class file; every record, length and count is checked.
    public init(decoding bytes: [UInt8]) throws(ClassFileError) {
        guard bytes.count <= Self.maxFileBytes else {
            throw ClassFileError(reason: "an original class file of \(bytes.count) bytes exceeds \(Self.maxFileBytes)", offset: 0)
        }
        guard Self.looksLikeOriginal(bytes) else {
            throw ClassFileError(reason: "not an original Phantom class file (no \"phfr:\" record)", offset: 0)
        }
        var header: (name: String, objectSlots: Int, methodSlots: Int, parent: String, version: String)?
        var methods: [Method] = []
        var signatures: [Signature] = []
        var lineMaps: [Int: [(ip: Int, line: Int)]] = [:]
        var fields: [Field] = []
        var constants: [Constant] = []
        var position = 0
        while position < bytes.count {
            let start = position
            guard bytes.count - position >= 10, Array(bytes[position..<(position + 5)]) == Self.recordMagic else {
                throw ClassFileError(reason: "expected a \"phfr:\" record header", offset: position)
            }
            let tag = bytes[position + 5]
            let length = Int(Int32(bitPattern: UInt32(bytes[position + 6]) << 24 | UInt32(bytes[position + 7]) << 16
                | UInt32(bytes[position + 8]) << 8 | UInt32(bytes[position + 9])))
            guard length >= 10, length <= bytes.count - position else {
                throw ClassFileError(reason: "record '\(Self.tagName(tag))' claims \(length) bytes, \(bytes.count - position) are left", offset: position + 6)
            }
            var record = RecordReader(bytes: bytes, position: position + 10, end: position + length, tag: tag)
            switch tag {
            case UInt8(ascii: "C"):
                guard header == nil else { throw ClassFileError(reason: "a second class record", offset: start) }
                let name = try record.string("class name")
                guard !name.isEmpty else { throw record.fail("empty class name") }
                let objectSlots = try record.count("object slot", max: Self.maxSlots)
                let methodSlots = try record.count("method slot", max: Self.maxSlots)
                let parent = try record.string("parent name")
                let version = try record.string("version")
                try record.finish()
                header = (name, objectSlots, methodSlots, parent, version)
            case UInt8(ascii: "M"):
                let name = try record.string("method name")
                let ordinal = try record.count("method ordinal", max: Self.maxSlots - 1)
                methods.append(Method(name: name, ordinal: ordinal, code: record.rest()))
            case UInt8(ascii: "S"):
                signatures.append(try record.signature())
            case UInt8(ascii: "l"):
                let ordinal = try record.count("method ordinal", max: Self.maxSlots - 1)
                let count = try record.count("line", max: (record.end - record.position) / 12)
                var lines: [(ip: Int, line: Int)] = []
                lines.reserveCapacity(count)
                for _ in 0..<count {
                    let ip = try record.int64()
                    let line = try record.int32()
                    guard ip >= 0, ip <= Self.maxFileBytes, line >= 0 else {
                        throw record.fail("line map entry (ip \(ip), line \(line)) out of range")
                    }
                    lines.append((ip, line))
                }
                try record.finish()
                guard lineMaps[ordinal] == nil else { throw ClassFileError(reason: "a second line map for method \(ordinal)", offset: start) }
                lineMaps[ordinal] = lines
            case UInt8(ascii: "f"):
                let name = try record.string("field name")
                let ordinal = try record.count("field ordinal", max: Self.maxSlots - 1)
                let type = try record.type()
                try record.finish()
                fields.append(Field(name: name, ordinal: ordinal, type: type))
            case UInt8(ascii: "c"):
                let ordinal = try record.count("constant ordinal", max: Self.maxSlots - 1)
                let type = try record.type()
                constants.append(Constant(ordinal: ordinal, type: type, bytes: record.rest()))
            default:
                throw ClassFileError(reason: "unknown record '\(Self.tagName(tag))'", offset: start + 5)
            }
            position = start + length
        }
        guard let header else { throw ClassFileError(reason: "no class record ('C')", offset: bytes.count) }
        for method in methods where method.ordinal >= header.methodSlots {
            throw ClassFileError(reason: "method \(method.name) has ordinal \(method.ordinal), the class has \(header.methodSlots) method slots", offset: 0)
        }
        for field in fields where field.ordinal >= header.objectSlots {
            throw ClassFileError(reason: "field \(field.name) has ordinal \(field.ordinal), the class has \(header.objectSlots) object slots", offset: 0)
        }
        var seen = Set<Int>()
        for method in methods where !seen.insert(method.ordinal).inserted {
            throw ClassFileError(reason: "two methods at ordinal \(method.ordinal)", offset: 0)
        }
        self.init(name: header.name, parent: header.parent, objectSlots: header.objectSlots, methodSlots: header.methodSlots,
                  version: header.version, methods: methods, signatures: signatures, lineMaps: lineMaps,
                  fields: fields, constants: constants)
    }

    static func tagName(_ tag: UInt8) -> String {
        (0x21...0x7E).contains(tag) ? String(UnicodeScalar(tag)) : "0x" + String(tag, radix: 16)
    }
}

/// Reads the body of one record; never past its end.
private struct RecordReader {
    let bytes: [UInt8]
    var position: Int
    let end: Int
    let tag: UInt8

    func fail(_ reason: String) -> ClassFileError {
        ClassFileError(reason: "record '\(OriginalClassFile.tagName(tag))': \(reason)", offset: position)
    }

    mutating func int32() throws(ClassFileError) -> Int {
        guard end - position >= 4 else { throw fail("ends inside a number") }
        defer { position += 4 }
        return Int(Int32(bitPattern: UInt32(bytes[position]) << 24 | UInt32(bytes[position + 1]) << 16
            | UInt32(bytes[position + 2]) << 8 | UInt32(bytes[position + 3])))
    }

    mutating func int64() throws(ClassFileError) -> Int {
        guard end - position >= 8 else { throw fail("ends inside a number") }
        var value: UInt64 = 0
        for index in 0..<8 { value = value << 8 | UInt64(bytes[position + index]) }
        position += 8
        return Int(Int64(bitPattern: value))
    }

    /// A non-negative int32 no larger than `max`.
    mutating func count(_ what: String, max: Int) throws(ClassFileError) -> Int {
        let value = try int32()
        guard value >= 0, value <= max else { position -= 4; throw fail("\(what) \(value) is out of range (0...\(max))") }
        return value
    }

    mutating func string(_ what: String) throws(ClassFileError) -> String {
        let length = try int32()
        guard length >= 0, length <= OriginalClassFile.maxString, length <= end - position else {
            position -= 4
            throw fail("\(what) of \(length) bytes runs past the record's end")
        }
        defer { position += length }
        guard let text = String(validating: bytes[position..<(position + length)], as: UTF8.self) else {
            throw fail("\(what) is not valid UTF-8")
        }
        return text
    }

    mutating func type() throws(ClassFileError) -> OriginalType {
        let container = try int32()
        guard container == 0 || container == 1 else { position -= 4; throw fail("container flag \(container) is neither 0 nor 1") }
        let name = try string("type name")
        let contained = try string("contained type name")
        return OriginalType(name: name, contained: container == 1 ? contained : nil)
    }

    /// A signature, with or without the constructor flag (2020 / 2016 files):
    /// the form that ends exactly at the record's end wins.
    mutating func signature() throws(ClassFileError) -> OriginalClassFile.Signature {
        let name = try string("method name")
        let ordinal = try count("method ordinal", max: OriginalClassFile.maxSlots - 1)
        let arguments = try count("argument", max: 255)
        let afterCount = self
        var firstError: ClassFileError?
        for hasFlag in [true, false] {
            self = afterCount
            do throws(ClassFileError) {
                var isConstructor: Bool?
                if hasFlag {
                    let flag = try int32()
                    guard flag == 0 || flag == 1 else { throw fail("constructor flag \(flag) is neither 0 nor 1") }
                    isConstructor = flag == 1
                }
                let returns = try type()
                var list: [(name: String, type: OriginalType)] = []
                for _ in 0..<arguments { list.append((try string("argument name"), try type())) }
                try finish()
                return OriginalClassFile.Signature(name: name, ordinal: ordinal, isConstructor: isConstructor, returns: returns, arguments: list)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        throw firstError!
    }

    mutating func rest() -> [UInt8] {
        defer { position = end }
        return Array(bytes[position..<end])
    }

    func finish() throws(ClassFileError) {
        guard position == end else { throw fail("\(end - position) bytes left over at the record's end") }
    }
}
