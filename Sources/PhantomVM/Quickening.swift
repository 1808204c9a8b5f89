// Superinstructions, chosen when a method is installed: a pair of common
// instructions is fused by replacing the first opcode byte with an internal
// opcode (0x78-0x7E, right after the last class-file opcode, so that the
// interpreter's switch stays one dense jump table) that does both; the second instruction's bytes stay
// where they were. Code offsets therefore do not change: jump targets, the
// line table, saved program counters and stack traces keep meaning what the
// class file says. A pair is fused only if no jump or catcher lands on its
// second instruction. A fused instruction counts as two instructions.
//
// | fused | pair | falls back to |
// |---|---|---|
// | 0x78 | os_get A; o2i | os_get only (the o2i then runs, and faults, as itself) |
// | 0x79 | is_get A; is_get B | — |
// | 0x7A | isum; is_set A | — |
// | 0x7B | iconst K; isublu | — |
// | 0x7C | iconst K; isum | — |
// | 0x7D | iconst K; ilt | — |
// | 0x7E | i2o; summon_this | — |
// | 0x7F | iconst K; ilt; jz L (counts as three) | iconst only (with less than three instructions of budget left) |
//
// The fused opcodes are never in class files (the verifier rejects them);
// they exist only in installed code objects.

extension VirtualMachine {
    /// The internal opcodes of fused pairs.
    public static let fusedOpcodes: ClosedRange<UInt8> = 0x78...0x7F

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
            if index + 2 < starts.count, !targets.contains(starts[index + 2]),
               (code[first], code[second], code[starts[index + 2]]) == (0x23, 0x55, 0x05) {
                quick[first] = Dispatch.iconstIltJz.rawValue
                index += 3
                continue
            }
            let pair = (code[first], code[second])
            var fused: UInt8? = nil
            switch pair {
            case (0x1E, 0x41): fused = Dispatch.osGetO2i.rawValue
            case (0x26, 0x26): fused = Dispatch.isGetIsGet.rawValue
            case (0x42, 0x27): fused = Dispatch.isumIsSet.rawValue
            case (0x23, 0x45): fused = Dispatch.iconstIsublu.rawValue
            case (0x23, 0x42): fused = Dispatch.iconstIsum.rawValue
            case (0x23, 0x55): fused = Dispatch.iconstIlt.rawValue
            case (0x40, 0x31): fused = Dispatch.i2oSummonThis.rawValue
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
