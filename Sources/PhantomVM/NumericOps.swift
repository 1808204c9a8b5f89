// long, float and double: the integer-stack instructions after a type
// prefix (`prefix_long` 0x5C, `prefix_float` 0x5D, `prefix_double` 0x5E),
// the conversions `fromi`/`froml`/`fromf`/`fromd` and the boxed values of
// the three types (docs/bytecode.md, "Numeric types").
//
// Every integer-stack slot is 64 bits wide, so each type takes one slot
// (the original uses two for long and double):
// ```
// int     Int32, sign-extended
// long    Int64
// float   Float32 bit pattern in the low 32 bits, upper bits zero
// double  Float64 bit pattern
// ```
// The verifier does not track types on the integer stack: an instruction
// reads whatever bits its prefix names, which is memory-safe (no references
// live there) and is the compiler's business to get right.

import PhantomMemory

extension VirtualMachine {
    // MARK: - Slot encodings

    @inline(__always) static func slot(int value: Int32) -> Int64 { Int64(value) }
    @inline(__always) static func slot(float value: Float) -> Int64 { Int64(value.bitPattern) }
    @inline(__always) static func slot(double value: Double) -> Int64 { Int64(bitPattern: value.bitPattern) }
    @inline(__always) static func float(_ slot: Int64) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: slot)) }
    @inline(__always) static func double(_ slot: Int64) -> Double { Double(bitPattern: UInt64(bitPattern: slot)) }

    /// Float to integer as the JVM does it: toward zero, saturating, NaN is 0.
    static func saturatingInt64(_ value: Double) -> Int64 {
        if value.isNaN { return 0 }
        if value >= 9_223_372_036_854_775_807.0 { return .max }
        if value <= -9_223_372_036_854_775_808.0 { return .min }
        return Int64(value)
    }

    static func saturatingInt32(_ value: Double) -> Int32 {
        if value.isNaN { return 0 }
        if value >= 2_147_483_647.0 { return .max }
        if value <= -2_147_483_648.0 { return .min }
        return Int32(value)
    }

    /// Converts a slot holding a value of type `from` (nil: int) to type
    /// `to` (nil: int).
    static func convert(_ slot: Int64, from: NumericType?, to: NumericType?) -> Int64 {
        switch (from, to) {
        case (nil, nil): return Int64(Int32(truncatingIfNeeded: slot))
        case (nil, .long?): return Int64(Int32(truncatingIfNeeded: slot))
        case (nil, .float?): return Self.slot(float: Float(Int32(truncatingIfNeeded: slot)))
        case (nil, .double?): return Self.slot(double: Double(Int32(truncatingIfNeeded: slot)))
        case (.long?, nil): return Int64(Int32(truncatingIfNeeded: slot))
        case (.long?, .long?): return slot
        case (.long?, .float?): return Self.slot(float: Float(slot))
        case (.long?, .double?): return Self.slot(double: Double(slot))
        case (.float?, nil): return Int64(saturatingInt32(Double(float(slot))))
        case (.float?, .long?): return saturatingInt64(Double(float(slot)))
        case (.float?, .float?): return Self.slot(float: float(slot))
        case (.float?, .double?): return Self.slot(double: Double(float(slot)))
        case (.double?, nil): return Int64(saturatingInt32(double(slot)))
        case (.double?, .long?): return saturatingInt64(double(slot))
        case (.double?, .float?): return Self.slot(float: Float(double(slot)))
        case (.double?, .double?): return slot
        }
    }

    // MARK: - Boxed values

    func numericClass(_ type: NumericType) -> ObjectRef {
        switch type {
        case .long: longClass
        case .float: floatClass
        case .double: doubleClass
        }
    }

    /// A new `.internal.long`/`.float`/`.double` object holding a slot value.
    func box(_ slot: Int64, as type: NumericType) throws(VMError) -> ObjectRef {
        let object = try allocate(numericClass(type), references: 0, bytes: 8)
        memory.setWord(object, at: 0, UInt64(bitPattern: slot))
        return object
    }

    /// The type of a boxed long, float or double, nil for anything else.
    func numericType(of object: ObjectRef) -> NumericType? {
        if object.isNull || Self.isInt(object) { return nil }
        switch kind(of: memory.classOf(object)) {
        case .long: return .long
        case .float: return .float
        case .double: return .double
        default: return nil
        }
    }

    /// Decimal text of a boxed value (Swift's shortest round-trip form for
    /// floating point: `0.1`, `1e+20`, `inf`, `nan`).
    func numericText(_ object: ObjectRef, _ type: NumericType) -> String {
        let slot = Int64(bitPattern: memory.word(object, at: 0))
        switch type {
        case .long: return String(slot)
        case .float: return Self.float(slot).description
        case .double: return Self.double(slot).description
        }
    }

    // MARK: - Prefixed instructions

    /// Runs the instruction `opcode` under a type prefix. `r.pc` is past
    /// the opcode byte. Returns a guest error message, with the stacks
    /// untouched, or nil.
    @inline(never)
    func executePrefixed(_ type: NumericType, _ opcode: UInt8, _ r: inout Registers) -> String? {
        switch opcode {
        case 0x10: r.integers[r.isp] = r.integers[r.isp &- 1]; r.isp &+= 1  // is_dup
        case 0x11: r.isp &-= 1  // is_drop
        case 0x26, 0x27:  // is_get, is_set
            let index = Self.operand32(r.codeBytes, r.pc)
            r.pc &+= 4
            if opcode == 0x26 {
                r.integers[r.isp] = r.integers[index]
                r.isp &+= 1
            } else {
                r.isp &-= 1
                r.integers[index] = r.integers[r.isp]
            }
        case 0x23:  // prefix_float iconst: the raw 32 bits
            let bits = UInt32(bigEndian: UnsafeRawPointer(r.codeBytes + r.pc).loadUnaligned(as: UInt32.self))
            r.pc &+= 4
            r.integers[r.isp] = Int64(bits)
            r.isp &+= 1
        case 0x25:  // prefix_long/prefix_double iconst_64: the raw 64 bits
            let bits = UInt64(bigEndian: UnsafeRawPointer(r.codeBytes + r.pc).loadUnaligned(as: UInt64.self))
            r.pc &+= 8
            r.integers[r.isp] = Int64(bitPattern: bits)
            r.isp &+= 1
        case 0x40:  // i2o: box
            save(r)
            guard let object = try? box(r.integers[r.isp &- 1], as: type) else { return "out of memory" }
            r.isp &-= 1
            r.objects[r.osp] = object.raw
            r.osp &+= 1
        case 0x41:  // o2i: unbox
            let object = ObjectRef(raw: r.objects[r.osp &- 1])
            guard numericType(of: object) == type else {
                return "o2i: \(describe(object)) is not a \(type)"
            }
            r.osp &-= 1
            r.integers[r.isp] = Int64(bitPattern: memory.word(object, at: 0))
            r.isp &+= 1
        case 0x74, 0x75, 0x76, 0x77:  // fromi, froml, fromf, fromd
            let from: NumericType? = opcode == 0x74 ? nil : opcode == 0x75 ? .long : opcode == 0x76 ? .float : .double
            r.integers[r.isp &- 1] = Self.convert(r.integers[r.isp &- 1], from: from, to: type)
        case 0x4B:  // inot (long)
            r.integers[r.isp &- 1] = ~r.integers[r.isp &- 1]
        case 0x70, 0x71, 0x72:  // shifts (long): the value on top, the int count below
            let value = r.integers[r.isp &- 1]
            let count = r.integers[r.isp &- 2] & 63
            r.isp &-= 1
            switch opcode {
            case 0x70: r.integers[r.isp &- 1] = value << count
            case 0x71: r.integers[r.isp &- 1] = value >> count
            default: r.integers[r.isp &- 1] = Int64(bitPattern: UInt64(bitPattern: value) >> UInt64(count))
            }
        default:
            // Binary operations: b on top, a below; the result replaces a.
            let b = r.integers[r.isp &- 1]
            let a = r.integers[r.isp &- 2]
            let result: Int64
            switch type {
            case .long:
                guard let value = Self.longOperation(opcode, a, b) else { return "division by zero" }
                result = value
            case .float:
                result = Self.floatingOperation(opcode, Double(Self.float(a)), Double(Self.float(b)), isFloat: true)
            case .double:
                result = Self.floatingOperation(opcode, Self.double(a), Self.double(b), isFloat: false)
            }
            r.isp &-= 1
            r.integers[r.isp &- 1] = result
        }
        return nil
    }

    /// A binary long operation, nil on division by zero.
    static func longOperation(_ opcode: UInt8, _ a: Int64, _ b: Int64) -> Int64? {
        switch opcode {
        case 0x42: return a &+ b
        case 0x43: return a &* b
        case 0x44: return b &- a  // isubul: upper - lower
        case 0x45: return a &- b  // isublu: lower - upper
        case 0x46, 0x47, 0x56, 0x57:  // idivul, idivlu, iremul, iremlu
            let (dividend, divisor) = opcode == 0x46 || opcode == 0x56 ? (b, a) : (a, b)
            if divisor == 0 { return nil }
            return opcode == 0x46 || opcode == 0x47
                ? dividend.dividedReportingOverflow(by: divisor).partialValue
                : dividend.remainderReportingOverflow(dividingBy: divisor).partialValue
        case 0x48: return a | b
        case 0x49: return a & b
        case 0x4A: return a ^ b
        case 0x52: return a >= b ? 1 : 0
        case 0x53: return a <= b ? 1 : 0
        case 0x54: return a > b ? 1 : 0
        case 0x55: return a < b ? 1 : 0
        case 0x64: return a == b ? 1 : 0
        default: return a != b ? 1 : 0  // 0x65 ineq (the verifier admits nothing else)
        }
    }

    /// A binary float or double operation (IEEE: division by zero gives an
    /// infinity or NaN, `%` is the truncating remainder as in C's fmod).
    /// Comparisons give an int; float results are rounded to Float.
    static func floatingOperation(_ opcode: UInt8, _ a: Double, _ b: Double, isFloat: Bool) -> Int64 {
        func value(_ x: Double) -> Int64 { isFloat ? slot(float: Float(x)) : slot(double: x) }
        switch opcode {
        case 0x42: return value(a + b)
        case 0x43: return value(a * b)
        case 0x44: return value(b - a)
        case 0x45: return value(a - b)
        case 0x46: return value(b / a)
        case 0x47: return value(a / b)
        case 0x56: return value(b.truncatingRemainder(dividingBy: a))
        case 0x57: return value(a.truncatingRemainder(dividingBy: b))
        case 0x52: return a >= b ? 1 : 0
        case 0x53: return a <= b ? 1 : 0
        case 0x54: return a > b ? 1 : 0
        case 0x55: return a < b ? 1 : 0
        case 0x64: return a == b ? 1 : 0
        default: return a != b ? 1 : 0  // 0x65 ineq
        }
    }
}
