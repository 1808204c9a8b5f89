// The interpreter's view of an opcode byte: an enum with a case for each
// of the 256 byte values, in order (case N has raw value and tag N), so
// that a byte becomes a `Dispatch` by a bit cast and the interpreter's
// `switch` over it compiles to one jump table. A switch over the byte
// itself is lowered as a chain of comparisons that the optimizer folds
// into several switches of about 40 cases each, one after the other: the
// opcodes in the later ones paid for extra compares and a second indirect
// jump on every dispatch (docs/benchmarks.md).
//
// Names: class-file opcodes as in `Opcode`, the fused opcodes of
// Quickening.swift, and `xNN` for bytes that are no opcode.

enum Dispatch: UInt8 {
    case nop, x01, x02, x03, djnz, jz, jmp, x07
    case ret, x09, x0A, x0B, x0C, call8, x0E, x0F
    case isDup, isDrop, osDup, osDrop, osLoad8, osSave8, x16, x17
    case new, x19, x1A, x1B, x1C, x1D, osGet32, osSet32
    case iconst0, iconst1, iconst8, iconst32, sconstBin, iconst64, isGet32, isSet32
    case constPool, stackReserve, x2A, x2B, x2C, pushCatcher, popCatcher, `throw`
    case summonThread, summonThis, x32, x33, x34, x35, x36, summonNull
    case summonClassClass, summonIntClass, summonStringClass, x3B, x3C, x3D, x3E, summonByName
    case i2o, o2i, isum, imul, isubul, isublu, idivul, idivlu
    case ior, iand, ixor, inot, logOr, logAnd, logXor, logNot
    case isLoad8, isSave8, ige, ile, igt, ilt, iremul, iremlu
    case osEq, osNeq, osIsNull, x5B, prefixLong, prefixFloat, prefixDouble, x5F
    case x60, x61, generalLock, generalUnlock, ieq, ineq, x66, x67
    case x68, x69, x6A, x6B, x6C, x6D, x6E, x6F
    case ishl, ishr, ushr, x73, fromi, froml, fromf, fromd
    case osGetO2i, isGetIsGet, isumIsSet, iconstIsublu, iconstIsum, iconstIlt, i2oSummonThis, iconstIltJz
    case x80, x81, x82, x83, x84, x85, x86, x87
    case x88, x89, x8A, x8B, x8C, x8D, x8E, x8F
    case x90, x91, x92, x93, x94, x95, x96, x97
    case x98, x99, x9A, x9B, x9C, x9D, x9E, x9F
    case xA0, xA1, xA2, xA3, xA4, xA5, xA6, xA7
    case xA8, xA9, xAA, xAB, xAC, xAD, xAE, xAF
    case xB0, xB1, xB2, xB3, xB4, xB5, xB6, xB7
    case xB8, xB9, xBA, xBB, xBC, xBD, xBE, xBF
    case xC0, xC1, xC2, xC3, xC4, xC5, xC6, xC7
    case xC8, xC9, xCA, xCB, xCC, xCD, xCE, xCF
    case xD0, xD1, xD2, xD3, xD4, xD5, xD6, xD7
    case xD8, xD9, xDA, xDB, xDC, xDD, xDE, xDF
    case xE0, xE1, xE2, xE3, xE4, xE5, xE6, xE7
    case xE8, xE9, xEA, xEB, xEC, xED, xEE, xEF
    case xF0, xF1, xF2, xF3, xF4, xF5, xF6, xF7
    case xF8, xF9, xFA, xFB, xFC, xFD, xFE, xFF

    @inline(__always) init(byte: UInt8) { self = unsafeBitCast(byte, to: Dispatch.self) }
}
