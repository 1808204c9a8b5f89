// The starter class of a compiled program. The VM's `new` runs no
// constructor, and a thread started by class name runs on a bare instance;
// a program whose class has a constructor (compiled Phantom code: a
// constructor or field initializers) needs it run first. Its starter,
// `.phantom.start.NAME`, has one method:
//
// ```
// main(boot)                  ordinal 8, 1 argument (the boot object, slot 0)
//     stack_reserve 1 0       slot 1: the program object
//     summon_by_name "NAME"
//     new
//     call <init> 0           the constructor, as `new NAME()` runs it
//     os_set 1
//     os_get 0                (only for run(boot); not for run())
//     os_get 1
//     call run 1|0
//     ret
// ```
//
// so that the constructor and `run` execute in the program's one persistent
// thread. Built as a `ClassFile` directly (no assembler text); the line
// table numbers the instructions 3... as the assembler text it replaces did,
// so that traces through a starter stay as they were.

/// Builds the starter class of a program class.
public enum StarterClass {
    /// Starter classes are named this prefix plus the program class's name.
    public static let prefix = ".phantom.start."

    /// The name of the starter of class `name`.
    public static func name(for className: String) -> String { prefix + className }

    /// The program class a starter class starts, or nil if `className` is not a starter's.
    public static func programClass(ofStarter className: String) -> String? {
        className.hasPrefix(prefix) ? String(className.dropFirst(prefix.count)) : nil
    }

    /// The starter of `program`, or nil when it needs none: it has no `run`
    /// method of at most one argument, or no constructor without arguments.
    public static func classFile(starting program: ClassFile) -> ClassFile? {
        guard let run = program.methods.first(where: { $0.name == "run" }), run.arguments <= 1,
              let constructor = program.methods.first(where: { $0.name == "<init>" && $0.arguments == 0 }) else { return nil }
        var code: [UInt8] = []
        var lines: [(ip: Int, line: Int)] = []
        func put(_ value: Int, bytes: Int) {
            for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) { code.append(UInt8(truncatingIfNeeded: value >> shift)) }
        }
        func emit(_ opcode: Opcode, line: Int) {
            lines.append((code.count, line))
            code.append(opcode.rawValue)
        }
        func call(_ ordinal: Int, arguments: Int, line: Int) {
            emit(.call8, line: line)
            put(ordinal, bytes: 1)
            put(arguments, bytes: 4)
        }
        emit(.stackReserve, line: 3)
        put(1, bytes: 1)
        put(0, bytes: 1)
        emit(.summonByName, line: 4)
        let nameBytes = Array(program.name.utf8)
        put(nameBytes.count, bytes: 4)
        code += nameBytes
        emit(.new, line: 5)
        call(constructor.ordinal, arguments: 0, line: 6)
        emit(.osSet32, line: 7)
        put(1, bytes: 4)
        if run.arguments == 1 {
            emit(.osGet32, line: 8)
            put(0, bytes: 4)
        }
        emit(.osGet32, line: 9)
        put(1, bytes: 4)
        call(run.ordinal, arguments: run.arguments, line: 10)
        emit(.ret, line: 11)
        var main = MethodFile(name: "main", ordinal: 8, arguments: 1, code: code, lines: lines)
        // The stack depths as the assembler finds them. The code above always
        // verifies (a test checks it against the assembler); were it not to,
        // the install would reject the starter with the verifier's reason.
        if let depths = try? Verifier.analyze(main, className: name(for: program.name), fieldCount: 0) {
            main.maxObjectStack = depths.maxObjectStack
            main.maxIntegerStack = depths.maxIntegerStack
        }
        return ClassFile(name: name(for: program.name), methods: [main])
    }

    /// `classes` plus the starter of each class that needs one.
    public static func adding(to classes: [ClassFile]) -> [ClassFile] {
        classes + classes.compactMap(classFile(starting:))
    }
}
