// Superinstructions, chosen when a method is installed: a pair of common
// instructions is fused by replacing the first opcode byte with an internal
// opcode (0xF0-0xF6) that does both; the second instruction's bytes stay
// where they were. Code offsets therefore do not change: jump targets, the
// line table, saved program counters and stack traces keep meaning what the
// class file says. A pair is fused only if no jump or catcher lands on its
// second instruction. A fused instruction counts as two instructions.
//
// | fused | pair | falls back to |
// |---|---|---|
// | 0xF0 | os_get A; o2i | os_get only (the o2i then runs, and faults, as itself) |
// | 0xF1 | is_get A; is_get B | — |
// | 0xF2 | isum; is_set A | — |
// | 0xF3 | iconst K; isublu | — |
// | 0xF4 | iconst K; isum | — |
// | 0xF5 | iconst K; ilt | — |
// | 0xF6 | i2o; summon_this | — |
//
// The fused opcodes are never in class files (the verifier rejects them);
// they exist only in installed code objects.

extension VirtualMachine {
    /// The installed form of verified code: the same bytes with fusable
    /// pairs' first opcodes replaced.
    static func quicken(_ code: [UInt8]) -> [UInt8] {
        var starts: [Int] = []
        var targets = Set<Int>()
        var offset = 0
        while offset < code.count {
            guard case let .success(instruction) = Verifier.decode(code, at: offset) else { return code }
            starts.append(offset)
            switch instruction.opcode {
            case .jz, .jmp, .djnz, .pushCatcher: targets.insert(Int(instruction.operands[0]))
            default: break
            }
            offset = instruction.next
        }
        var quick = code
        var index = 0
        while index + 1 < starts.count {
            let first = starts[index], second = starts[index + 1]
            guard !targets.contains(second) else { index += 1; continue }
            let pair = (code[first], code[second])
            var fused: UInt8? = nil
            switch pair {
            case (0x1E, 0x41): fused = 0xF0
            case (0x26, 0x26): fused = 0xF1
            case (0x42, 0x27): fused = 0xF2
            case (0x23, 0x45): fused = 0xF3
            case (0x23, 0x42): fused = 0xF4
            case (0x23, 0x55): fused = 0xF5
            case (0x40, 0x31): fused = 0xF6
            default: break
            }
            if let fused {
                quick[first] = fused
                index += 2
            } else {
                index += 1
            }
        }
        return quick
    }
}
