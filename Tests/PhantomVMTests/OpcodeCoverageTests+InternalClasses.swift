// The internal classes' methods: the universal ones (ordinals 0-6),
// .internal.string, .internal.array, .internal.boot.

import Foundation
import Testing
import PhantomMemory
@testable import PhantomVM

extension OpcodeCoverageTests {
    // MARK: - Universal methods (ordinals 0-6)

    struct Receiver: Sendable, CustomTestStringConvertible {
        let name: String
        /// Pushes the receiver.
        let push: String
        /// Pushes its class.
        let cls: String
        let className: String
        /// toString, offsets masked.
        let text: String
        /// hashCode; nil: the heap offset (from toString) shifted right by 4.
        let hash: Int32?
        /// equals() against a second `push`.
        let equalsAnother: Int
        var testDescription: String { name }
    }

    static let receivers: [Receiver] = [
        Receiver(name: "user object", push: "summon_by_name \"u\"\nnew", cls: "summon_by_name \"u\"", className: "u",
                 text: "<u @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "integer", push: "iconst -42\ni2o", cls: "summon_int_class", className: ".internal.int",
                 text: "-42", hash: -42, equalsAnother: 1),
        Receiver(name: "string", push: "sconst \"phantom\"", cls: "summon_string_class", className: ".internal.string",
                 text: "phantom", hash: fnv1aHash("phantom"), equalsAnother: 1),
        Receiver(name: "array", push: "summon_by_name \".internal.array\"\nnew", cls: "summon_by_name \".internal.array\"",
                 className: ".internal.array", text: "<.internal.array @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "mutex", push: "summon_by_name \".internal.mutex\"\nnew", cls: "summon_by_name \".internal.mutex\"",
                 className: ".internal.mutex", text: "<.internal.mutex @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "plain object", push: "summon_by_name \".internal.object\"\nnew", cls: "summon_by_name \".internal.object\"",
                 className: ".internal.object", text: "<.internal.object @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "thread", push: "summon_thread", cls: "summon_by_name \".internal.thread\"", className: ".internal.thread",
                 text: "<.internal.thread @0x?>", hash: nil, equalsAnother: 1),
        Receiver(name: "class", push: "summon_int_class", cls: "summon_class_class", className: ".internal.class",
                 text: "<.internal.class @0x?>", hash: nil, equalsAnother: 1),
        Receiver(name: "boot", push: "os_get 0", cls: "summon_by_name \".internal.boot\"", className: ".internal.boot",
                 text: "<.internal.boot @0x?>", hash: nil, equalsAnother: 1),
    ]

    @Test(arguments: receivers)
    func universalMethods(_ c: Receiver) throws {
        let r = try run(#"""
        class u
        class t
        method run 1
            \#(c.push)
            sconst "ignored"
            iconst 3
            i2o
            os_get 1
            call 0 2                ; construct: null
            print
            os_get 1
            call 1 0                ; destruct: null
            print
            os_get 1
            call 2 0                ; getClass
            \#(c.cls)
            os_eq
            printi
            os_get 1
            os_get 1
            call 4 1                ; equals itself
            print
            \#(c.push)
            os_get 1
            call 4 1                ; equals another
            print
            os_get 1
            call 4 0                ; equals(missing) = equals(null)
            print
            summon_null
            os_get 1
            call 4 1
            print
            os_get 1
            call 5 0                ; toString
            print
            os_get 1
            call 6 0                ; hashCode
            print
            summon_null
            push_catcher c3
            os_get 1
            call 3 0                ; clone
            ret
        c3:
            print
            summon_null
            push_catcher c7
            os_get 1
            call 7 0                ; 7 is not universal
            ret
        c7:
            print
            ret
        end
        """#)
        let parts = r.output.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        #expect(parts.count == 12, "\(r.output)")
        guard parts.count == 12 else { return }
        #expect(parts[0...2] == ["null", "null", "1"])
        #expect(parts[3] == "1", "equals itself")
        #expect(parts[4] == "\(c.equalsAnother)", "equals another")
        #expect(parts[5...6] == ["0", "0"], "equals null")
        #expect(mask(parts[7]) == c.text)
        if let hash = c.hash {
            #expect(parts[8] == "\(hash)")
        } else {
            let offset = try #require(firstOffset(parts[7]))
            #expect(parts[8] == "\(Int32(truncatingIfNeeded: offset >> 4))")
        }
        #expect(firstLine(parts[9]) == "\(c.className) has no method 3")
        #expect(firstLine(parts[10]) == "\(c.className) has no method 7")
        #expect(parts[11] == "")
    }

    @Test func toStringAndHashCodeOfAnObjectUseItsHeapOffset() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_this
            call 5 0
            print
            summon_this
            call 6 0
            print
            os_get 0
            print                   ; boot.16 describes objects the same way
            ret
        end
        """#)
        let this = r.runReceiver
        let boot = r.vm.bootObject
        #expect(r.output == "<t @0x\(String(this.raw, radix: 16))>|\(Int32(truncatingIfNeeded: this.raw >> 4))|<.internal.boot @0x\(String(boot.raw, radix: 16))>|")
    }

    @Test func equalsComparesStringContentsAndEverythingElseByIdentity() throws {
        let r = try run(#"""
        class t
        method run 1
            sconst "ab"
            sconst "ab"
            call 4 1
            print                   ; 1: contents
            sconst "ac"
            sconst "ab"
            call 4 1
            print                   ; 0
            iconst 5
            i2o
            sconst "5"
            call 4 1
            print                   ; 0: a string and an integer
            sconst "5"
            iconst 5
            i2o
            call 4 1
            print                   ; 0
            iconst 5
            i2o
            iconst 5
            i2o
            call 4 1
            print                   ; 1
            iconst 6
            i2o
            iconst 5
            i2o
            call 4 1
            print                   ; 0
            sconst ""
            summon_string_class
            new
            call 4 1
            print                   ; 1: two empty strings
            sconst "copy"
            os_dup
            call 5 0                ; toString of a string: a copy
            os_dup
            os_get 1
            os_eq
            printi                  ; 0: another object
            os_get 1
            os_get 2
            call 4 1
            print                   ; 1: the same text
            print
            os_drop
            ret
        end
        """#)
        #expect(r.output == "1|0|0|0|1|0|1|0|1|copy|")
    }

    // MARK: - .internal.string

    @Test func stringConcat() throws {
        let r = try run(catching(#"""
            sconst "b"
            sconst "a"
            call 9 1
            print
            iconst -42
            i2o
            sconst "a"
            call 9 1
            print
            summon_null
            sconst "a"
            call 9 1
            print
            summon_this
            sconst "a"
            call 9 1
            print
            sconst "c"
            sconst "b"
            sconst "a"
            call 9 2                ; "a".concat("c", "b"): the second is ignored
            print
            sconst "x"
            os_dup
            sconst "y"
            os_get 2
            call 9 1
            print
            print                   ; the receiver is unchanged
            sconst "a"
            call 9 0
        """#))
        #expect(r.masked == "ab|a-42|anull|a<t @0x?>|ac|xy|x|string.concat needs an argument|")
    }

    static let charAtErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "negative", body: "iconst -1\ni2o\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "at the length", body: "iconst 3\ni2o\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "empty string", body: "iconst 0\ni2o\nsconst \"\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "Int32.min", body: "iconst -2147483648\ni2o\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "a string index", body: "sconst \"0\"\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "a null index", body: "summon_null\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "no index", body: "sconst \"abc\"\ncall 10 0", message: "string index out of range"),
    ]

    @Test(arguments: charAtErrors)
    func stringCharAtErrors(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(r.output) == c.message)
    }

    static let substringErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "from > to", body: "iconst 3\ni2o\niconst 2\ni2o\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
        CoverageErrorCase(name: "negative from", body: "iconst -1\ni2o\niconst 2\ni2o\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
        CoverageErrorCase(name: "to past the end", body: "iconst 0\ni2o\niconst 6\ni2o\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
        CoverageErrorCase(name: "one argument", body: "iconst 0\ni2o\nsconst \"hello\"\ncall 11 1", message: "substring range out of bounds"),
        CoverageErrorCase(name: "no arguments", body: "sconst \"hello\"\ncall 11 0", message: "substring range out of bounds"),
        CoverageErrorCase(name: "a string bound", body: "iconst 0\ni2o\nsconst \"2\"\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
    ]

    @Test(arguments: substringErrors)
    func stringSubstringErrors(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(r.output) == c.message)
    }

    // MARK: - .internal.array

    @Test func arrayMadeWithNewIsEmpty() throws {
        let r = try run(catching(#"""
            summon_by_name ".internal.array"
            new
            call 10 0
            print
            iconst 0
            i2o
            summon_by_name ".internal.array"
            new
            call 8 1
        """#))
        #expect(firstLine(r.output) == "0|array index out of range")
    }

    static let arrayGetErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "negative", body: "iconst -1\ni2o\nsummon_by_name \".internal.array\"\nnew\ncall 8 1", message: "array index out of range"),
        CoverageErrorCase(name: "no index", body: "summon_by_name \".internal.array\"\nnew\ncall 8 0", message: "array index out of range"),
        CoverageErrorCase(name: "a string index", body: "sconst \"0\"\nsummon_by_name \".internal.array\"\nnew\ncall 8 1", message: "array index out of range"),
    ]

    @Test(arguments: arrayGetErrors)
    func arrayGetFailsOutOfRange(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(r.output) == c.message)
    }

    // MARK: - .internal.boot

    @Test func bootPrintsEveryKindOfValue() throws {
        let r = try run(#"""
        class t
        method run 1
            sconst "text "
            iconst -2147483648
            i2o
            summon_null
            sconst " ünï\n"
            summon_this
            summon_int_class
            os_get 0
            call 16 6               ; concatenated in argument order, nothing added
            os_isnull               ; returns null
            printi
            os_get 0
            call 16 0               ; no arguments: prints nothing
            print
            ret
        end
        """#)
        let this = String(describing: r.runReceiver)
        #expect(r.masked == "text -2147483648null ünï\n<t @0x?><.internal.class @0x?>1|null|")
        #expect(r.output.contains("<t \(this)>"))
        #expect(r.state == .finished)
    }
}
