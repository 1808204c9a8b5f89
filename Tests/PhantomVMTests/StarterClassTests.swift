// The starter class of a compiled program (StarterClass.swift), built as a
// class file: it must be exactly the class the assembler text it replaces
// made, so that images and traces stay as they were.

import Testing
import PhantomVM

@Suite struct StarterClassTests {
    /// A program class with a constructor and a `run` of `arguments` arguments.
    func program(runArguments arguments: Int, constructor: Bool = true) -> ClassFile {
        var methods = [MethodFile(name: "run", ordinal: 9, arguments: arguments, code: [Opcode.ret.rawValue])]
        if constructor { methods.append(MethodFile(name: "<init>", ordinal: 12, arguments: 0, code: [Opcode.ret.rawValue])) }
        return ClassFile(name: ".demo.app", methods: methods)
    }

    /// The assembler text `phantom run` generated before StarterClass.
    func assembled(_ cls: ClassFile) throws -> ClassFile {
        let run = try #require(cls.methods.first { $0.name == "run" })
        let constructor = try #require(cls.methods.first { $0.name == "<init>" })
        let source = """
            class .phantom.start.\(cls.name)
            method main 1
                stack_reserve 1 0
                summon_by_name "\(cls.name)"
                new
                call \(constructor.ordinal) 0
                os_set 1
                \(run.arguments == 1 ? "os_get 0" : "")
                os_get 1
                call \(run.ordinal) \(run.arguments)
                ret
            end
            """
        return try #require(try Assembler.assemble(source, file: "starter").first)
    }

    @Test func isTheClassTheAssemblerTextMade() throws {
        for arguments in [0, 1] {
            let cls = program(runArguments: arguments)
            let starter = try #require(StarterClass.classFile(starting: cls))
            #expect(starter == (try assembled(cls)), "run with \(arguments) argument(s)")
            #expect(starter.name == ".phantom.start..demo.app")
            #expect(StarterClass.programClass(ofStarter: starter.name) == ".demo.app")
            try Verifier.verify(starter, inheritedFields: 0)
        }
    }

    @Test func noStarterWithoutAConstructorOrASuitableRun() {
        #expect(StarterClass.classFile(starting: program(runArguments: 1, constructor: false)) == nil)
        #expect(StarterClass.classFile(starting: program(runArguments: 2)) == nil)
        #expect(StarterClass.programClass(ofStarter: ".demo.app") == nil)
        let classes = [program(runArguments: 1), program(runArguments: 1, constructor: false)]
        #expect(StarterClass.adding(to: classes).map(\.name) == [".demo.app", ".demo.app", ".phantom.start..demo.app"])
    }
}
