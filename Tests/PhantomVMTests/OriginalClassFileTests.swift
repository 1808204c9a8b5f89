import Foundation
import PhantomVM
import Testing

/// The original Phantom's class files (issue 12 §4): the 59 files its
/// compiler wrote in 2020 (`../shared/phantom-original/pc-2020`, never
/// copied into the project) decode, and damaged ones are refused with a
/// reason, never trusted.
@Suite struct OriginalClassFileTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/phantom-original/pc-2020")

    static func files() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "pc" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    @Test func everyClassFileOfTheOriginalLibraryDecodes() throws {
        let files = try Self.files()
        #expect(files.count == 59, "\(Self.directory.path)")
        var methods = 0, constants = 0
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            let decoded: OriginalClassFile
            do { decoded = try OriginalClassFile(decoding: bytes) } catch {
                Issue.record("\(file.lastPathComponent): \(error)")
                continue
            }
            // The file is named after its class (leading dot stripped).
            #expect("." + file.deletingPathExtension().lastPathComponent == decoded.name, "\(file.lastPathComponent)")
            #expect(decoded.version.count == 17 && decoded.version.hasPrefix("20201120"), "\(decoded.name): \(decoded.version)")
            // Every method has its signature (2020 files have the constructor flag).
            for method in decoded.methods {
                let signature = decoded.signatures.first { $0.ordinal == method.ordinal }
                #expect(signature?.name == method.name && signature?.isConstructor != nil, "\(decoded.name).\(method.name)")
            }
            methods += decoded.methods.count
            constants += decoded.constants.count
        }
        // Counted by hand over the records: 290 M (each with its S and l), 244 c.
        #expect(methods == 290 && constants == 244, "\(methods) methods, \(constants) constants")
    }

    @Test func aSmallClassDecodesToWhatItsBytesSay() throws {
        let root = try OriginalClassFile(decoding: Self.bytes("test.hier.root.pc"))
        #expect(root.name == ".test.hier.root" && root.parent == ".internal.object")
        #expect(root.objectSlots == 1 && root.methodSlots == 17)
        #expect(root.fields == [.init(name: "root_init", ordinal: 0, type: OriginalType(name: ".internal.int"))])
        let constructor = try #require(root.methods.first { $0.name == "<init>" })
        #expect(constructor.ordinal == 16 && !constructor.code.isEmpty)
        let signature = try #require(root.signatures.first { $0.ordinal == 16 })
        #expect(signature.isConstructor == true && signature.arguments.isEmpty && signature.returns.name == ".internal.void")
        #expect(root.lineMaps[16]?.map(\.line) == [1] || root.lineMaps[16]?.isEmpty == false, "\(root.lineMaps)")
    }

    @Test func stringConstantsAreKeptAsTheirBytes() throws {
        let suite = try OriginalClassFile(decoding: Self.bytes("test.suite.pc"))
        let strings = suite.constants.filter { $0.type.name == ".internal.string" }
        #expect(!strings.isEmpty)
        #expect(strings.allSatisfy { String(validating: $0.bytes, as: UTF8.self) != nil })
    }

    /// A 2016 signature: the same record without the constructor flag.
    @Test func aSignatureWithoutTheConstructorFlagIsThe2016Form() throws {
        var body: [UInt8] = []
        func i32(_ value: Int) { body += withUnsafeBytes(of: Int32(value).bigEndian, Array.init) }
        func str(_ text: String) { i32(text.utf8.count); body += Array(text.utf8) }
        func record(_ tag: Character, _ make: () -> Void) -> [UInt8] {
            body = []
            make()
            return Array("phfr:".utf8) + [tag.asciiValue!] + withUnsafeBytes(of: Int32(body.count + 10).bigEndian, Array.init) + body
        }
        let file = record("C") { str(".old"); i32(0); i32(17); str(".internal.object"); str("2016") }
            + record("M") { str("m"); i32(16); body += [0x00] }
            + record("S") { str("m"); i32(16); i32(1); i32(0); str(".internal.int"); str(""); str("x"); i32(0); str(".internal.string"); str("") }
        let decoded = try OriginalClassFile(decoding: file)
        let signature = try #require(decoded.signatures.first)
        #expect(signature.isConstructor == nil && signature.returns == OriginalType(name: ".internal.int"))
        #expect(signature.arguments.map(\.name) == ["x"] && signature.arguments[0].type.name == ".internal.string")
        #expect(decoded.lineMaps.isEmpty, "a file without line maps")
    }

    @Test func ourClassFilesAreNotTakenForTheOriginals() throws {
        let ours = ClassFile(name: "x", methods: [MethodFile(name: "m", ordinal: 0, arguments: 0, code: [0])]).encoded()
        #expect(!OriginalClassFile.looksLikeOriginal(ours))
        #expect(throws: ClassFileError.self) { try OriginalClassFile(decoding: ours) }
    }

    /// Every truncation of a real file, and every single-byte change of its
    /// record headers and lengths, is refused or decodes: never a trap.
    @Test func truncatedAndDamagedFilesAreRefusedWithAReason() throws {
        let bytes = try Self.bytes("test.hier.root.pc")
        // The format has no end marker: a cut between two records is a
        // shorter file (C, M, S, l, f here); a cut inside one is refused.
        var boundaries: Set<Int> = []
        var position = 0
        while position < bytes.count {
            boundaries.insert(position)
            position += Int(bytes[position + 6]) << 24 | Int(bytes[position + 7]) << 16 | Int(bytes[position + 8]) << 8 | Int(bytes[position + 9])
        }
        for length in 0..<bytes.count where !boundaries.contains(length) || length == 0 {
            #expect(throws: ClassFileError.self, "cut at \(length)") { try OriginalClassFile(decoding: Array(bytes[0..<length])) }
        }
        for index in 0..<bytes.count {
            for value: UInt8 in [0x00, 0xFF, 0x7F, 0x80, bytes[index] ^ 0x01] {
                var damaged = bytes
                damaged[index] = value
                _ = try? OriginalClassFile(decoding: damaged)
            }
        }
        let error = try #require(throws: ClassFileError.self) {
            var damaged = bytes
            damaged[9] = 0xFF  // the class record's length
            return try OriginalClassFile(decoding: damaged)
        }
        #expect(error.description.contains("record 'C'") && error.offset == 6, "\(error)")
    }
}
