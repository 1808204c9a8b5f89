// The bytecode verifier: run on every method before it can be installed, so
// the interpreter may trust what it runs. It decodes every instruction and
// follows every path with the depths of both stacks:
// - every opcode is known and its operands lie inside the code;
// - jump and catcher targets are instruction starts;
// - constant, field and stack-slot indices are in range;
// - no path underflows a stack, paths that meet agree on both depths, and
//   no path runs off the end of the code;
// - the deepest stacks reached are what the method declares.

/// Why a method was rejected.
public struct VerifyError: Error, CustomStringConvertible, Equatable {
    public let className: String
    public let method: String
    public let offset: Int
    public let reason: String
    public var description: String { "\(className).\(method) at offset \(offset): \(reason)" }
}

/// Why an instruction could not be decoded.
public struct DecodeProblem: Error, Equatable {
    public let reason: String
}

/// One decoded instruction.
public struct Instruction: Equatable, Sendable {
    public let offset: Int
    public let opcode: Opcode
    /// Integer operands (ordinal and argument count for `call`, both counts for `stack_reserve`).
    public let operands: [Int64]
    /// The string operand of `sconst`/`summon_by_name`.
    public let string: [UInt8]
    /// Offset of the next instruction.
    public let next: Int
    /// The type prefix before the opcode, if any (`offset` is the prefix's).
    public var prefix: NumericType? = nil
}

/// Decodes and checks methods.
public enum Verifier {
    /// Decodes the instruction at `offset`, or says why it cannot.
    public static func decode(_ code: [UInt8], at offset: Int) -> Result<Instruction, DecodeProblem> {
        guard offset < code.count else { return .failure(DecodeProblem(reason: "runs off the end of the code")) }
        guard var opcode = Opcode(rawValue: code[offset]) else {
            return .failure(DecodeProblem(reason: "unknown opcode 0x" + String(code[offset], radix: 16)))
        }
        var position = offset + 1
        // A type prefix and the instruction it modifies decode as one
        // instruction, so that no jump can land between them.
        var prefix: NumericType? = nil
        if let type = opcode.prefixType {
            guard position < code.count else { return .failure(DecodeProblem(reason: "\(opcode.mnemonic) at the end of the code")) }
            guard let next = Opcode(rawValue: code[position]), next.accepts(prefix: type) else {
                let shown = Opcode(rawValue: code[position])?.mnemonic ?? "opcode 0x" + String(code[position], radix: 16)
                return .failure(DecodeProblem(reason: "\(opcode.mnemonic) cannot stand before \(shown)"))
            }
            opcode = next
            prefix = type
            position += 1
        }
        guard position + opcode.operandSize <= code.count else { return .failure(DecodeProblem(reason: "\(opcode.mnemonic): operand runs past the end of the code")) }
        func int(_ bytes: Int) -> Int64 {
            var value: UInt64 = 0
            for index in 0..<bytes { value = value << 8 | UInt64(code[position + index]) }
            position += bytes
            if bytes == 4 { return Int64(Int32(bitPattern: UInt32(value))) }
            return Int64(bitPattern: value)
        }
        var operands: [Int64] = []
        var string: [UInt8] = []
        switch opcode.operands {
        case .none: break
        case .u8: operands = [Int64(code[position])]; position += 1
        case .i32, .target, .constant: operands = [int(4)]
        case .i64: operands = [int(8)]
        case .call8:
            operands = [Int64(code[position])]
            position += 1
            operands.append(int(4))
        case .reserve: operands = [Int64(code[position]), Int64(code[position + 1])]; position += 2
        case .string:
            let length = Int(UInt32(truncatingIfNeeded: int(4)))
            guard length <= code.count - position else { return .failure(DecodeProblem(reason: "\(opcode.mnemonic): string of \(length) bytes runs past the end")) }
            string = Array(code[position..<(position + length)])
            position += length
        }
        return .success(Instruction(offset: offset, opcode: opcode, operands: operands, string: string, next: position, prefix: prefix))
    }

    /// Stack depths found by `analyze`.
    public struct Depths: Equatable, Sendable {
        public var maxObjectStack: Int
        public var maxIntegerStack: Int
    }

    /// Checks a method of a class with `fieldCount` fields; returns the
    /// deepest stacks it reaches.
    public static func analyze(_ method: MethodFile, className: String, fieldCount: Int) throws(VerifyError) -> Depths {
        func fail(_ offset: Int, _ reason: String) -> VerifyError {
            VerifyError(className: className, method: method.name, offset: offset, reason: reason)
        }
        let code = method.code
        guard !code.isEmpty else { throw fail(0, "the method has no code") }
        // Decode linearly: every instruction start.
        var instructions: [Int: Instruction] = [:]
        var offset = 0
        while offset < code.count {
            switch decode(code, at: offset) {
            case let .success(instruction):
                instructions[offset] = instruction
                offset = instruction.next
            case let .failure(problem):
                throw fail(offset, problem.reason)
            }
        }
        var depthAt: [Int: (Int, Int)] = [0: (method.arguments, 0)]
        var work = [0]
        var maxO = method.arguments
        var maxI = 0
        func flow(to target: Int, _ depths: (Int, Int), from: Int) throws(VerifyError) {
            guard instructions[target] != nil else { throw fail(from, "jump to \(target), which is not the start of an instruction") }
            if let known = depthAt[target] {
                guard known == depths else {
                    throw fail(from, "stack depths differ where paths meet at \(target): objects \(known.0) vs \(depths.0), integers \(known.1) vs \(depths.1)")
                }
            } else {
                depthAt[target] = depths
                work.append(target)
            }
        }
        while let at = work.popLast() {
            let instruction = instructions[at]!
            var (o, i) = depthAt[at]!
            func pop(_ objects: Int, _ integers: Int) throws(VerifyError) {
                guard o >= objects else { throw fail(at, "\(instruction.opcode.mnemonic) needs \(objects) objects on the stack, there are \(o)") }
                guard i >= integers else { throw fail(at, "\(instruction.opcode.mnemonic) needs \(integers) integers on the stack, there are \(i)") }
                o -= objects
                i -= integers
            }
            func push(_ objects: Int, _ integers: Int) {
                o += objects
                i += integers
                maxO = max(maxO, o)
                maxI = max(maxI, i)
            }
            let operand = instruction.operands.first ?? 0
            let opcode = instruction.opcode
            // The checks of operands, before the stack effect.
            switch opcode {
            case .osLoad8, .osSave8, .isLoad8, .isSave8:
                guard operand < fieldCount else { throw fail(at, "field \(operand) of a class with \(fieldCount) fields") }
            case .osGet32, .osSet32:
                guard operand >= 0 && operand < o - (opcode == .osSet32 ? 1 : 0) else {
                    throw fail(at, "object stack slot \(operand) is not below the stack top (\(o))")
                }
            case .isGet32, .isSet32:
                guard operand >= 0 && operand < i - (opcode == .isSet32 ? 1 : 0) else {
                    throw fail(at, "integer stack slot \(operand) is not below the stack top (\(i))")
                }
            case .sconstBin:
                guard String(validating: instruction.string, as: UTF8.self) != nil else { throw fail(at, "string constant is not valid UTF-8") }
            case .summonByName:
                guard String(validating: instruction.string, as: UTF8.self) != nil else { throw fail(at, "class name is not valid UTF-8") }
            case .constPool:
                guard operand >= 0 && operand < method.constants.count else {
                    throw fail(at, "constant \(operand) of a pool of \(method.constants.count)")
                }
            case .prefixLong, .prefixFloat, .prefixDouble:
                throw fail(at, "a prefix was decoded alone")
            default: break
            }
            // The stack effect: the table's, or the operands' where it has none.
            if let effect = opcode.stackEffect {
                // `ret` may return with an empty stack (the result is null).
                if opcode != .ret { try pop(effect.popObjects, effect.popIntegers) }
                push(effect.pushObjects, effect.pushIntegers)
            } else if opcode == .call8 {
                let count = instruction.operands[1]
                guard count >= 0 && count <= 255 else { throw fail(at, "call with \(count) arguments") }
                try pop(Int(count) + 1, 0); push(1, 0)
            } else {  // stack_reserve
                push(Int(instruction.operands[0]), Int(instruction.operands[1]))
            }
            // Where control goes.
            var fallsThrough = true
            switch opcode {
            case .djnz, .jz: try flow(to: Int(operand), (o, i), from: at)
            case .jmp:
                try flow(to: Int(operand), (o, i), from: at)
                fallsThrough = false
            case .ret, .throw: fallsThrough = false
            case .pushCatcher:
                try flow(to: Int(operand), (o + 1, i), from: at)
                maxO = max(maxO, o + 1)
            default: break
            }
            if fallsThrough {
                guard instruction.next < code.count else { throw fail(at, "execution runs off the end of the code") }
                try flow(to: instruction.next, (o, i), from: at)
            }
        }
        return Depths(maxObjectStack: maxO, maxIntegerStack: maxI)
    }

    /// Checks every method of a class; the declared stack depths must cover
    /// what the code reaches.
    /// `inheritedFields`: fields of the parent classes, numbered before the
    /// class's own.
    public static func verify(_ file: ClassFile, inheritedFields: Int = 0) throws(VerifyError) {
        var ordinals = Set<Int>()
        for method in file.methods {
            func reject(_ reason: String) -> VerifyError { VerifyError(className: file.name, method: method.name, offset: 0, reason: reason) }
            guard (0..<ClassFile.maxMethods).contains(method.ordinal) else { throw reject("ordinal \(method.ordinal) is out of range") }
            guard (0...255).contains(method.arguments) else { throw reject("\(method.arguments) arguments is out of range") }
            guard (0...65535).contains(method.maxObjectStack), (0...65535).contains(method.maxIntegerStack) else {
                throw reject("declared stack sizes are out of range")
            }
            guard method.lines.allSatisfy({ $0.ip >= 0 && $0.ip < max(1, method.code.count) && $0.line >= 0 && $0.line <= Int(UInt32.max) }) else {
                throw reject("the line table names offsets outside the code")
            }
            guard ordinals.insert(method.ordinal).inserted else {
                throw VerifyError(className: file.name, method: method.name, offset: 0, reason: "ordinal \(method.ordinal) is used twice")
            }
            let depths = try analyze(method, className: file.name, fieldCount: inheritedFields + file.fields.count)
            guard depths.maxObjectStack <= method.maxObjectStack, depths.maxIntegerStack <= method.maxIntegerStack else {
                throw VerifyError(className: file.name, method: method.name, offset: 0,
                                  reason: "declares stacks of \(method.maxObjectStack)/\(method.maxIntegerStack) but reaches \(depths.maxObjectStack)/\(depths.maxIntegerStack)")
            }
        }
    }
}
