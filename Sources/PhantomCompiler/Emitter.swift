// The bytecode buffer of one method: instructions with big-endian operands
// (docs/bytecode.md), labels resolved to absolute offsets, the constant pool,
// the line table, and the heights of both stacks above the method's locals.
//
// Code is emitted from offset 0 without the prologue (`stack_reserve`, the
// copies of integer parameters), whose size is known only at the end;
// `finish` puts the prologue in front and moves every jump target and line
// entry by its length.

import PhantomVM

/// A jump target inside a method.
struct Label: Hashable {
    let id: Int
}

struct Emitter {
    private(set) var code: [UInt8] = []
    /// Heights of the object and integer stacks above the locals.
    private(set) var objects = 0
    private(set) var integers = 0
    private(set) var maxObjects = 0
    private(set) var maxIntegers = 0
    /// False after `jmp`, `ret` or `throw`, until a label that is jumped to.
    private(set) var reachable = true
    private var labelOffsets: [Int?] = []
    private var labelHeights: [(Int, Int)?] = []
    /// Operand offsets of jump targets: (where, label).
    private var fixups: [(Int, Int)] = []
    private(set) var constants: [String] = []
    private var constantIndex: [String: Int] = [:]
    private(set) var lines: [(ip: Int, line: Int)] = []
    /// Offsets of `is_get`/`is_set` operands that name the loop counter slot (patched in `finish`).
    private var counterOperands: [Int] = []
    /// Offset of the last instruction, and whether a label was placed after it.
    private var lastInstruction = -1
    private var labelAfterLast = false
    /// Set when the emitter's own bookkeeping disagrees (a compiler bug).
    private(set) var inconsistency: String? = nil

    mutating func newLabel() -> Label {
        labelOffsets.append(nil)
        labelHeights.append(nil)
        return Label(id: labelOffsets.count - 1)
    }

    /// Whether anything jumps to the label (so far).
    func isTargeted(_ label: Label) -> Bool { labelHeights[label.id] != nil }

    /// Places the top of a loop that is entered by a jump to its test: a
    /// later (backward) jump reaches it with the heights the entry jump had.
    mutating func placeLoopTop(_ label: Label) {
        reachable = true
        place(label)
    }

    /// Places a label at the current offset.
    mutating func place(_ label: Label) {
        labelOffsets[label.id] = code.count
        labelAfterLast = true
        if let heights = labelHeights[label.id] {
            if reachable && heights != (objects, integers) && inconsistency == nil {
                inconsistency = "stack heights \(objects)/\(integers) meet \(heights.0)/\(heights.1) at a label"
            }
            (objects, integers) = heights
            reachable = true
        } else if reachable {
            labelHeights[label.id] = (objects, integers)
        }
    }

    private mutating func target(_ label: Label, heights: (Int, Int)) {
        if let known = labelHeights[label.id] {
            if known != heights && inconsistency == nil {
                inconsistency = "stack heights \(heights.0)/\(heights.1) jump to a label expecting \(known.0)/\(known.1)"
            }
        } else {
            labelHeights[label.id] = heights
        }
        fixups.append((code.count, label.id))
        u32(0)
    }

    // MARK: - Raw output

    private mutating func u8(_ value: Int) { code.append(UInt8(truncatingIfNeeded: value)) }

    /// Every instruction starts here (operands follow with `u8`/`u32`),
    /// with the stack effect of `Opcode.stackEffect` (the operands' for
    /// `call` and `stack_reserve`, which the callers apply).
    private mutating func start(_ opcode: Opcode) {
        lastInstruction = code.count
        labelAfterLast = false
        code.append(opcode.rawValue)
        if let effect = opcode.stackEffect {
            adjust(effect.popObjects, effect.popIntegers, effect.pushObjects, effect.pushIntegers)
        }
    }

    /// If the last instruction is an (unprefixed) `o2i` that nothing jumps
    /// past, removes it and returns true: the boxed int is still on the
    /// object stack, so an `i2o` that would follow is not needed.
    mutating func removeTrailingUnbox() -> Bool {
        guard lastInstruction == code.count - 1, !labelAfterLast, code.last == Opcode.o2i.rawValue else { return false }
        if lastInstruction > 0, Opcode(rawValue: code[lastInstruction - 1])?.prefixType != nil { return false }
        code.removeLast()
        lastInstruction = -1
        adjust(0, 1, 1, 0)
        return true
    }
    private mutating func u32(_ value: Int) {
        code.append(UInt8(truncatingIfNeeded: value >> 24))
        code.append(UInt8(truncatingIfNeeded: value >> 16))
        code.append(UInt8(truncatingIfNeeded: value >> 8))
        code.append(UInt8(truncatingIfNeeded: value))
    }

    private mutating func adjust(_ popObjects: Int, _ popIntegers: Int, _ pushObjects: Int, _ pushIntegers: Int) {
        objects += pushObjects - popObjects
        integers += pushIntegers - popIntegers
        maxObjects = max(maxObjects, objects)
        maxIntegers = max(maxIntegers, integers)
    }

    /// Records that the statement starting here is on `line`.
    mutating func mark(line: Int) {
        if let last = lines.last {
            if last.line == line { return }
            if last.ip == code.count { lines[lines.count - 1] = (code.count, line); return }
        }
        lines.append((code.count, line))
    }

    // MARK: - Instructions

    /// An instruction without operands (or a type prefix), with the stack
    /// effect the opcode table gives it.
    mutating func op(_ opcode: Opcode) {
        precondition(opcode.operands == .none, "\(opcode.mnemonic) has operands")
        start(opcode)
        if opcode == .ret || opcode == .throw { reachable = false }
    }

    mutating func iconst(_ value: Int32) {
        switch value {
        case 0: op(.iconst0)
        case 1: op(.iconst1)
        case -128...127: start(.iconst8); u8(Int(value))
        default: start(.iconst32); u32(Int(value))
        }
    }

    /// `iconst` with its 32-bit operand (after `prefix_float`: a float's bits).
    mutating func iconst32(_ bits: UInt32) {
        start(.iconst32); u32(Int(bits))
    }

    /// `iconst_64` (after `prefix_long`/`prefix_double`: the raw 64 bits).
    mutating func iconst64(_ bits: UInt64) {
        start(.iconst64)
        for shift in stride(from: 56, through: 0, by: -8) { u8(Int(truncatingIfNeeded: bits >> UInt64(shift))) }
    }

    mutating func osGet(_ slot: Int) { start(.osGet32); u32(slot) }
    mutating func osSet(_ slot: Int) { start(.osSet32); u32(slot) }
    mutating func isGet(_ slot: Int, counter: Bool = false) {
        start(.isGet32)
        if counter { counterOperands.append(code.count) }
        u32(slot)
    }
    mutating func isSet(_ slot: Int, counter: Bool = false) {
        start(.isSet32)
        if counter { counterOperands.append(code.count) }
        u32(slot)
    }
    mutating func osLoad(_ field: Int) { start(.osLoad8); u8(field) }
    mutating func osSave(_ field: Int) { start(.osSave8); u8(field) }
    mutating func isLoad(_ field: Int) { start(.isLoad8); u8(field) }
    mutating func isSave(_ field: Int) { start(.isSave8); u8(field) }

    /// `call ORDINAL N`: pops N arguments and the receiver, pushes the result.
    mutating func call(_ ordinal: Int, arguments: Int) {
        start(.call8); u8(ordinal); u32(arguments)
        adjust(arguments + 1, 0, 1, 0)
    }

    /// A string constant from the pool (made once, when the class is installed).
    mutating func string(_ text: String) {
        let index: Int
        if let known = constantIndex[text] {
            index = known
        } else {
            index = constants.count
            constants.append(text)
            constantIndex[text] = index
        }
        start(.constPool); u32(index)
    }

    mutating func summon(className: String) {
        let bytes = Array(className.utf8)
        start(.summonByName); u32(bytes.count); code += bytes
    }

    mutating func jump(_ label: Label) {
        start(.jmp)
        target(label, heights: (objects, integers))
        reachable = false
    }

    /// Pops an integer; jumps if it is 0.
    mutating func jumpIfZero(_ label: Label) {
        start(.jz)
        target(label, heights: (objects, integers))
    }

    /// Decrements the top integer in place; jumps while it is not 0.
    mutating func decrementAndJumpIfNotZero(_ label: Label) {
        start(.djnz)
        target(label, heights: (objects, integers))
    }

    /// Pops a class (or null: everything) and adds a catcher for `handler`,
    /// reached with the exception pushed.
    mutating func pushCatcher(_ handler: Label) {
        start(.pushCatcher)
        target(handler, heights: (objects + 1, integers))
        maxObjects = max(maxObjects, objects + 1)
    }

    /// Drops values to get back to the given heights (after an error, to keep going).
    mutating func restore(objects wanted: Int, integers wantedIntegers: Int) {
        while objects > wanted { op(.osDrop) }
        while integers > wantedIntegers { op(.isDrop) }
    }

    // MARK: - Finishing

    /// The code with `prologue` in front: jump targets and line entries
    /// moved by its length, the loop counter's slot filled in.
    func finish(prologue: [UInt8], counterSlot: Int) -> (code: [UInt8], lines: [(ip: Int, line: Int)]) {
        var result = prologue
        result.reserveCapacity(prologue.count + code.count)
        result += code
        let shift = prologue.count
        func put(_ value: Int, at offset: Int) {
            let at = offset + shift
            result[at] = UInt8(truncatingIfNeeded: value >> 24)
            result[at + 1] = UInt8(truncatingIfNeeded: value >> 16)
            result[at + 2] = UInt8(truncatingIfNeeded: value >> 8)
            result[at + 3] = UInt8(truncatingIfNeeded: value)
        }
        for (offset, label) in fixups {
            put((labelOffsets[label] ?? 0) + shift, at: offset)
        }
        for offset in counterOperands { put(counterSlot, at: offset) }
        var moved = lines.map { (ip: $0.ip + shift, line: $0.line) }
        if shift > 0, let first = moved.first { moved.insert((ip: 0, line: first.line), at: 0) }
        // Entries past the end (a line that produced no code) are dropped.
        moved.removeAll { $0.ip >= result.count }
        return (result, moved)
    }

    /// Labels that were jumped to but never placed (a compiler bug).
    var hasUnplacedLabels: Bool {
        fixups.contains { labelOffsets[$0.1] == nil }
    }
}
