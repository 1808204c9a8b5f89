// The PVM's instruction set: one-byte opcodes with the original Phantom
// numbering (docs/bytecode.md lists every one with operands and stack
// effect). Operands are big-endian, as in the original class files.

/// The operand layout of an instruction.
public enum OperandKind: Sendable, Equatable {
    case none
    /// One unsigned byte.
    case u8
    /// A signed 32-bit integer.
    case i32
    /// A signed 64-bit integer.
    case i64
    /// A 32-bit jump target: an absolute offset in the method's code.
    case target
    /// A method ordinal (u8) and an argument count (i32), as the original.
    case call8
    /// A 32-bit constant-pool index.
    case constant
    /// A string: u32 length, then that many bytes.
    case string
    /// Object-stack slots (u8) and integer-stack slots (u8) to reserve.
    case reserve
}

/// The value types of the integer stack besides `int`, selected by a prefix
/// byte before the instruction. Every value takes one 64-bit slot.
public enum NumericType: Sendable, Equatable {
    case long, float, double
}

/// The values an instruction pops from and then pushes on the object and
/// integer stacks.
public struct StackEffect: Sendable, Equatable {
    /// Objects popped.
    public let popObjects: Int
    /// Integers popped.
    public let popIntegers: Int
    /// Objects pushed.
    public let pushObjects: Int
    /// Integers pushed.
    public let pushIntegers: Int

    /// An effect of `pop` (objects, integers) values, then `push`.
    public init(pop: (objects: Int, integers: Int) = (0, 0), push: (objects: Int, integers: Int) = (0, 0)) {
        popObjects = pop.objects
        popIntegers = pop.integers
        pushObjects = push.objects
        pushIntegers = push.integers
    }
}

/// An opcode of the PVM.
public enum Opcode: UInt8, CaseIterable, Sendable {
    case nop = 0x00
    case djnz = 0x04
    case jz = 0x05
    case jmp = 0x06
    case ret = 0x08
    case call8 = 0x0D
    case isDup = 0x10
    case isDrop = 0x11
    case osDup = 0x12
    case osDrop = 0x13
    case osLoad8 = 0x14
    case osSave8 = 0x15
    case new = 0x18
    case osGet32 = 0x1E
    case osSet32 = 0x1F
    case iconst0 = 0x20
    case iconst1 = 0x21
    case iconst8 = 0x22
    case iconst32 = 0x23
    case sconstBin = 0x24
    case iconst64 = 0x25
    case isGet32 = 0x26
    case isSet32 = 0x27
    case constPool = 0x28
    case stackReserve = 0x29
    case pushCatcher = 0x2D
    case popCatcher = 0x2E
    case `throw` = 0x2F
    case summonThread = 0x30
    case summonThis = 0x31
    case summonNull = 0x37
    case summonClassClass = 0x38
    case summonIntClass = 0x39
    case summonStringClass = 0x3A
    case summonByName = 0x3F
    case i2o = 0x40
    case o2i = 0x41
    case isum = 0x42
    case imul = 0x43
    case isubul = 0x44
    case isublu = 0x45
    case idivul = 0x46
    case idivlu = 0x47
    case ior = 0x48
    case iand = 0x49
    case ixor = 0x4A
    case inot = 0x4B
    case logOr = 0x4C
    case logAnd = 0x4D
    case logXor = 0x4E
    case logNot = 0x4F
    case isLoad8 = 0x50
    case isSave8 = 0x51
    case ige = 0x52
    case ile = 0x53
    case igt = 0x54
    case ilt = 0x55
    case iremul = 0x56
    case iremlu = 0x57
    case osEq = 0x58
    case osNeq = 0x59
    case osIsNull = 0x5A
    case prefixLong = 0x5C
    case prefixFloat = 0x5D
    case prefixDouble = 0x5E
    case generalLock = 0x62
    case generalUnlock = 0x63
    /// Equality of two integer-stack values (this package's addition, in
    /// the range the original leaves unused).
    case ieq = 0x64
    case ineq = 0x65
    case ishl = 0x70
    case ishr = 0x71
    case ushr = 0x72
    case fromi = 0x74
    case froml = 0x75
    case fromf = 0x76
    case fromd = 0x77

    /// The assembler's name for it.
    public var mnemonic: String {
        switch self {
        case .nop: "nop"
        case .djnz: "djnz"
        case .jz: "jz"
        case .jmp: "jmp"
        case .ret: "ret"
        case .call8: "call"
        case .isDup: "is_dup"
        case .isDrop: "is_drop"
        case .osDup: "os_dup"
        case .osDrop: "os_drop"
        case .osLoad8: "os_load"
        case .osSave8: "os_save"
        case .new: "new"
        case .osGet32: "os_get"
        case .osSet32: "os_set"
        case .iconst0: "iconst_0"
        case .iconst1: "iconst_1"
        case .iconst8: "iconst_8"
        case .iconst32: "iconst"
        case .sconstBin: "sconst"
        case .iconst64: "iconst_64"
        case .isGet32: "is_get"
        case .isSet32: "is_set"
        case .constPool: "const_pool"
        case .stackReserve: "stack_reserve"
        case .pushCatcher: "push_catcher"
        case .popCatcher: "pop_catcher"
        case .throw: "throw"
        case .summonThread: "summon_thread"
        case .summonThis: "summon_this"
        case .summonNull: "summon_null"
        case .summonClassClass: "summon_class_class"
        case .summonIntClass: "summon_int_class"
        case .summonStringClass: "summon_string_class"
        case .summonByName: "summon_by_name"
        case .i2o: "i2o"
        case .o2i: "o2i"
        case .isum: "isum"
        case .imul: "imul"
        case .isubul: "isubul"
        case .isublu: "isublu"
        case .idivul: "idivul"
        case .idivlu: "idivlu"
        case .ior: "ior"
        case .iand: "iand"
        case .ixor: "ixor"
        case .inot: "inot"
        case .logOr: "log_or"
        case .logAnd: "log_and"
        case .logXor: "log_xor"
        case .logNot: "log_not"
        case .isLoad8: "is_load"
        case .isSave8: "is_save"
        case .ige: "ige"
        case .ile: "ile"
        case .igt: "igt"
        case .ilt: "ilt"
        case .iremul: "iremul"
        case .iremlu: "iremlu"
        case .osEq: "os_eq"
        case .osNeq: "os_neq"
        case .osIsNull: "os_isnull"
        case .prefixLong: "prefix_long"
        case .prefixFloat: "prefix_float"
        case .prefixDouble: "prefix_double"
        case .generalLock: "general_lock"
        case .generalUnlock: "general_unlock"
        case .ieq: "ieq"
        case .ineq: "ineq"
        case .ishl: "ishl"
        case .ishr: "ishr"
        case .ushr: "ushr"
        case .fromi: "fromi"
        case .froml: "froml"
        case .fromf: "fromf"
        case .fromd: "fromd"
        }
    }

    /// The operands that follow the opcode byte.
    public var operands: OperandKind {
        switch self {
        case .djnz, .jz, .jmp, .pushCatcher: .target
        case .call8: .call8
        case .osLoad8, .osSave8, .iconst8, .isLoad8, .isSave8: .u8
        case .osGet32, .osSet32, .iconst32, .isGet32, .isSet32: .i32
        case .iconst64: .i64
        case .constPool: .constant
        case .sconstBin, .summonByName: .string
        case .stackReserve: .reserve
        default: .none
        }
    }

    /// Operand bytes after the opcode (strings: the length word only).
    public var operandSize: Int {
        switch operands {
        case .none: 0
        case .u8: 1
        case .reserve: 2
        case .i32, .target, .constant, .string: 4
        case .call8: 5
        case .i64: 8
        }
    }

    /// What the instruction takes from and leaves on the two stacks: the one
    /// table of stack effects, read by the verifier and by the compiler's
    /// emitter. Nil where the effect depends on the operands (`call`,
    /// `stack_reserve`). A prefix changes no stack by itself; the
    /// instruction after it has the effect. `ret` is listed with the result
    /// it returns; the verifier does not require it (an empty stack returns
    /// null).
    public var stackEffect: StackEffect? {
        switch self {
        case .call8, .stackReserve: nil
        case .nop, .jmp, .popCatcher, .prefixLong, .prefixFloat, .prefixDouble: StackEffect()
        case .djnz: StackEffect(pop: (0, 1), push: (0, 1))
        case .jz, .isDrop, .isSave8, .isSet32: StackEffect(pop: (0, 1))
        case .ret, .throw, .osDrop, .osSave8, .osSet32, .pushCatcher, .generalLock, .generalUnlock: StackEffect(pop: (1, 0))
        case .isDup: StackEffect(pop: (0, 1), push: (0, 2))
        case .osDup: StackEffect(pop: (1, 0), push: (2, 0))
        case .osLoad8, .osGet32, .sconstBin, .constPool, .summonByName,
             .summonThread, .summonThis, .summonNull, .summonClassClass, .summonIntClass, .summonStringClass:
            StackEffect(push: (1, 0))
        case .isLoad8, .isGet32, .iconst0, .iconst1, .iconst8, .iconst32, .iconst64: StackEffect(push: (0, 1))
        case .new: StackEffect(pop: (1, 0), push: (1, 0))
        case .i2o: StackEffect(pop: (0, 1), push: (1, 0))
        case .o2i, .osIsNull: StackEffect(pop: (1, 0), push: (0, 1))
        case .isum, .imul, .isubul, .isublu, .idivul, .idivlu, .ior, .iand, .ixor, .logOr, .logAnd, .logXor,
             .ige, .ile, .igt, .ilt, .iremul, .iremlu, .ishl, .ishr, .ushr, .ieq, .ineq:
            StackEffect(pop: (0, 2), push: (0, 1))
        case .inot, .logNot, .fromi, .froml, .fromf, .fromd: StackEffect(pop: (0, 1), push: (0, 1))
        case .osEq, .osNeq: StackEffect(pop: (2, 0), push: (0, 1))
        }
    }

    /// The prefix that selects a value type (nil for `int`, which has none).
    public static func prefix(for type: NumericType) -> Opcode {
        switch type {
        case .long: .prefixLong
        case .float: .prefixFloat
        case .double: .prefixDouble
        }
    }

    /// The value type a prefix selects.
    public var prefixType: NumericType? {
        switch self {
        case .prefixLong: .long
        case .prefixFloat: .float
        case .prefixDouble: .double
        default: nil
        }
    }

    /// True if a `prefix` may stand before this opcode.
    public func accepts(prefix type: NumericType) -> Bool {
        switch self {
        case .isum, .imul, .isubul, .isublu, .idivul, .idivlu, .iremul, .iremlu,
             .ige, .ile, .igt, .ilt, .ieq, .ineq, .i2o, .o2i, .fromi, .froml, .fromf, .fromd,
             .isDup, .isDrop, .isGet32, .isSet32:
            return true
        case .ior, .iand, .ixor, .inot, .ishl, .ishr, .ushr, .iconst64:
            return type == .long || (self == .iconst64 && type == .double)
        case .iconst32:
            return type == .float
        default:
            return false
        }
    }

    /// Opcodes by assembler name.
    public static let byMnemonic: [String: Opcode] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.mnemonic, $0) })
}
