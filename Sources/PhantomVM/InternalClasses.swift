// Methods of the internal classes, implemented in Swift and reached by
// ordinal like any method (docs/internal-classes.md; the ordinals and
// signatures are the table of InternalMethods.swift). Ordinals 0-7 are the
// methods every object has (7 is reserved); user classes may override them.

import PhantomMemory

extension VirtualMachine {
    /// Universal ordinals (and boot's), from the table of InternalMethods.swift.
    enum Ordinal {
        static let construct = UniversalMethod.construct.rawValue, destruct = UniversalMethod.destruct.rawValue
        static let getClass = UniversalMethod.getClass.rawValue, clone = UniversalMethod.clone.rawValue
        static let equals = UniversalMethod.equals.rawValue, toString = UniversalMethod.toString.rawValue
        static let hashCode = UniversalMethod.hashCode.rawValue
        static let print = BootMethod.print.rawValue, spawn = BootMethod.spawn.rawValue
    }

    /// Calls method `ordinal` of an internal class (or a universal method of
    /// a user class that does not define it).
    func callInternal(_ receiver: ObjectRef, cls: ObjectRef, ordinal: Int, arguments: [ObjectRef]) -> CallOutcome {
        func argument(_ index: Int) -> ObjectRef? { index < arguments.count ? arguments[index] : nil }
        func integer(_ index: Int) -> Int32? {
            guard let value = argument(index), Self.isInt(value) else { return nil }
            return Self.unbox(value)
        }
        func make(_ text: String) -> CallOutcome {
            do { return .value(try newString(text)) } catch { return .outOfMemory("out of memory") }
        }
        let kind = kind(of: cls)
        if kind == .kernel && ordinal > 7 {
            return callKernel(receiver, cls: cls, ordinal: ordinal, arguments: arguments)
        }
        switch (kind, ordinal) {
        case (.boot, Ordinal.print):
            console(arguments.map(describe).joined())
            return .value(.null)
        case (.boot, Ordinal.spawn):  // spawn(object, "method") -> a new thread running object.method(boot)
            guard let target = argument(0), !target.isNull, !Self.isInt(target),
                  let nameValue = argument(1), !nameValue.isNull, !Self.isInt(nameValue), classOf(nameValue) == stringClass else {
                return .raise("boot.spawn needs an object and a method name")
            }
            do {
                return .value(try startThread(on: target, method: string(nameValue), arguments: [receiver]))
            } catch {
                return .raise("boot.spawn: \(error)")
            }
        case (.string, StringMethod.length.rawValue):
            return .value(Self.box(Int32(truncatingIfNeeded: memory.word(receiver, at: 0))))
        case (.string, StringMethod.concat.rawValue):  // concat(other)
            guard let other = argument(0) else { return .raise("string.concat needs an argument") }
            // Byte to byte in the heap: no host copies of the pieces.
            if isString(other) {
                let total = stringBytes(receiver).count + stringBytes(other).count
                if total > Self.copyPieceBytes { return concatInPieces(receiver, other, total: total) }
                return wrap { () throws(VMError) in try newString(stringBytes(receiver), stringBytes(other)) }
            }
            let text = Array(describe(other).utf8)
            return wrap { () throws(VMError) in
                try withBytes(text) { (piece) throws(VMError) in try newString(stringBytes(receiver), piece) }
            }
        case (.string, StringMethod.charAt.rawValue):  // charAt(index): a byte of the UTF-8 text
            let bytes = stringBytes(receiver)
            guard let index = integer(0), index >= 0, Int(index) < bytes.count else {
                return .raise("string index out of range")
            }
            return .value(Self.box(Int32(bytes[Int(index)])))
        case (.string, StringMethod.substring.rawValue):  // substring(from, to)
            let bytes = stringBytes(receiver)
            guard let from = integer(0), let to = integer(1), from >= 0, to >= from, Int(to) <= bytes.count else {
                return .raise("substring range out of bounds")
            }
            let piece = UnsafeRawBufferPointer(rebasing: bytes[Int(from)..<Int(to)])
            // A cut inside a character's bytes reads as U+FFFD, as decoding does.
            @inline(__always) func continues(_ at: Int) -> Bool { at < bytes.count && bytes[at] & 0xC0 == 0x80 }
            if continues(Int(from)) || continues(Int(to)) { return make(String(decoding: piece, as: UTF8.self)) }
            return wrap { () throws(VMError) in try newString(piece) }
        case (.array, ArrayMethod.get.rawValue):  // get(index)
            guard let index = integer(0), index >= 0, Int(index) < guestArrayCount(receiver) else {
                return .raise("array index out of range")
            }
            return .value(guestArrayGet(receiver, Int(index)))
        case (.array, ArrayMethod.set.rawValue):  // set(index, value): grows the array
            guard let index = integer(0), index >= 0 else { return .raise("array index out of range") }
            return wrap { () throws(VMError) in
                try guestArraySet(receiver, Int(index), argument(1) ?? .null)
                return .null
            }
        case (.array, ArrayMethod.size.rawValue):
            return .value(Self.box(Int32(guestArrayCount(receiver))))
        case (.array, ArrayMethod.append.rawValue):  // append(value)
            return wrap { () throws(VMError) in
                try guestArraySet(receiver, guestArrayCount(receiver), argument(0) ?? .null)
                return .null
            }
        case (.directory, DirectoryMethod.put.rawValue):  // put(key, value) -> previous value or null
            guard let key = argument(0), !key.isNull else { return .raise("directory.put needs a key") }
            return wrap { () throws(VMError) in try directoryPut(receiver, key: key, value: argument(1) ?? .null) }
        case (.directory, DirectoryMethod.get.rawValue):  // get(key) -> value or null
            return .value(directoryFind(receiver, key: argument(0) ?? .null).map { memory.reference(directoryTable(receiver), $0 + 1) } ?? .null)
        case (.directory, DirectoryMethod.remove.rawValue):  // remove(key) -> removed value or null
            return .value(directoryRemove(receiver, key: argument(0) ?? .null))
        case (.directory, DirectoryMethod.size.rawValue):
            return .value(Self.box(Int32(truncatingIfNeeded: memory.word(receiver, at: 0))))
        case (.directory, DirectoryMethod.containsKey.rawValue):  // containsKey(key)
            return .value(Self.box(directoryFind(receiver, key: argument(0) ?? .null) == nil ? 0 : 1))
        case (.directory, DirectoryMethod.keys.rawValue):  // keys -> array
            return wrap { () throws(VMError) in
                let table = directoryTable(receiver)
                let keys = try newGuestArray(capacity: max(1, Int(memory.word(receiver, at: 0))))
                var count = 0
                for slot in stride(from: 0, to: memory.referenceCount(of: table), by: 2) where !memory.reference(table, slot).isNull {
                    try guestArraySet(keys, count, memory.reference(table, slot))
                    count += 1
                }
                return keys
            }
        case (.thread, ThreadMethod.join.rawValue):  // join -> the thread's result, once it has ended
            switch state(of: receiver) {
            case .finished: return .value(result(of: receiver))
            case .failed: return .raise("joined thread failed: \(describe(result(of: receiver)))")
            default: return .wait(on: receiver)
            }
        case (.thread, ThreadMethod.state.rawValue):  // state: 0 runnable, 1 finished, 2 failed, 3 blocked, 4 sleeping
            return .value(Self.box(Int32(truncatingIfNeeded: memory.word(receiver, at: 0))))
        case (.thread, ThreadMethod.sleep.rawValue):  // sleep(ms)
            return sleep(receiver, milliseconds: integer(0))
        case (.mutex, MutexMethod.lock.rawValue):
            return lockMutex(receiver)
        case (.mutex, MutexMethod.unlock.rawValue):
            return unlockMutex(receiver)
        case (.cond, ConditionMethod.wait.rawValue):  // wait(mutex)
            return conditionWait(receiver, mutex: argument(0))
        case (.cond, ConditionMethod.signal.rawValue), (.cond, ConditionMethod.broadcast.rawValue):
            return conditionSignal(receiver, all: ordinal == ConditionMethod.broadcast.rawValue)
        case (.long, NumberMethod.intValue.rawValue), (.float, NumberMethod.intValue.rawValue), (.double, NumberMethod.intValue.rawValue):  // value as an int (truncating; saturating for float/double)
            let type = numericType(of: receiver)!
            let value = Self.convert(Int64(bitPattern: memory.word(receiver, at: 0)), from: type, to: nil)
            return .value(Self.box(Int32(truncatingIfNeeded: value)))
        case (.stringBuilder, StringBuilderMethod.append.rawValue):  // append(x) -> the builder
            return wrap { () throws(VMError) in
                let piece = argument(0) ?? .null
                if isString(piece) {
                    try builderAppend(receiver, stringBytes(piece))
                } else {
                    try withBytes(Array(describe(piece).utf8)) { (bytes) throws(VMError) in try builderAppend(receiver, bytes) }
                }
                return receiver
            }
        case (.stringBuilder, StringBuilderMethod.toString.rawValue), (.stringBuilder, Ordinal.toString):
            let length = Int(memory.word(receiver, at: 0))
            let buffer = memory.reference(receiver, 0)
            return wrap { () throws(VMError) in try newString(UnsafeRawBufferPointer(rebasing: memory.bytes(buffer).prefix(length))) }
        case (.stringBuilder, StringBuilderMethod.length.rawValue):
            return .value(Self.box(Int32(truncatingIfNeeded: memory.word(receiver, at: 0))))
        case (.stringBuilder, StringBuilderMethod.clear.rawValue):
            memory.setWord(receiver, at: 0, 0)
            return .value(receiver)
        case (_, Ordinal.construct), (_, Ordinal.destruct):
            return .value(.null)
        case (_, Ordinal.getClass):
            return .value(cls)
        case (_, Ordinal.equals):
            let other = argument(0) ?? .null
            if kind == .string && !other.isNull && !Self.isInt(other) && classOf(other) == stringClass {
                return .value(Self.box(sameText(receiver, other) ? 1 : 0))
            }
            if let type = numericType(of: receiver) {
                // Same type and the same bits, as Java's Long/Double.equals.
                let same = numericType(of: other) == type && memory.word(receiver, at: 0) == memory.word(other, at: 0)
                return .value(Self.box(same ? 1 : 0))
            }
            return .value(Self.box(receiver == other ? 1 : 0))
        case (_, Ordinal.toString):
            return make(describe(receiver))
        case (_, Ordinal.hashCode):
            // Stable across restarts: a persistent program keeps its hash tables.
            if kind == .string {
                return .value(Self.box(Int32(bitPattern: textHash(receiver))))
            }
            if Self.isInt(receiver) { return .value(Self.box(Self.unbox(receiver))) }
            if numericType(of: receiver) != nil {
                let bits = memory.word(receiver, at: 0)
                return .value(Self.box(Int32(truncatingIfNeeded: bits ^ bits >> 32)))
            }
            return .value(Self.box(Int32(truncatingIfNeeded: receiver.raw >> 4)))
        default:
            return .raise("\(className(cls)) has no method \(ordinal)")
        }
    }

    /// Bytes a long copy does between two safepoints (about a millisecond).
    static let copyPieceBytes = 4 << 20
    /// The wait phase of a thread whose call builds its result in pieces
    /// (thread slot 2 holds the result so far; blocking calls use 1 and 2).
    static let buildingPhase: UInt64 = 3

    /// `a.concat(b)` of more than `copyPieceBytes`: the result is allocated
    /// first, with length 0, and kept in the thread (slot 2); each run of
    /// the call copies the next piece and sets the length to what is
    /// copied, then asks to run again until the whole text is there. A
    /// snapshot between two pieces holds the string so far, and after a
    /// restart the call goes on from there. Anything else that ends the
    /// call (an error, a kill) clears slot 2 and the phase.
    func concatInPieces(_ a: ObjectRef, _ b: ObjectRef, total: Int) -> CallOutcome {
        let thread = currentThread
        var result = memory.reference(thread, 2)
        let resuming = waitPhase(thread) == Self.buildingPhase && !result.isNull && !Self.isInt(result)
            && classOf(result) == stringClass && memory.bytes(result).count >= 8 + total
            && memory.word(result, at: 0) <= UInt64(total)
        if !resuming {
            do {
                result = try allocate(stringClass, references: 0, bytes: 8 + total)
            } catch {
                if case .memory(.outOfMemory) = error { return .outOfMemory("\(error)") }
                return .raise("\(error)")
            }
            memory.setReference(thread, 2, result)
            setWaitPhase(thread, Self.buildingPhase)
        }
        let done = Int(memory.word(result, at: 0))
        let piece = min(Self.copyPieceBytes, total - done)
        // Bytes [done, done + piece) of a's text followed by b's.
        let first = stringBytes(a), second = stringBytes(b)
        var at = done
        let end = done + piece
        if at < first.count {
            let upto = min(end, first.count)
            memory.setBytes(result, at: 8 + at, UnsafeRawBufferPointer(rebasing: first[at..<upto]))
            at = upto
        }
        if at < end {
            memory.setBytes(result, at: 8 + at, UnsafeRawBufferPointer(rebasing: second[(at - first.count)..<(end - first.count)]))
        }
        charge(bytes: piece)
        memory.setWord(result, at: 0, UInt64(end))
        guard end == total else { return .again }
        memory.setReference(thread, 2, .null)
        setWaitPhase(thread, 0)
        return .value(result)
    }

    private func wrap(_ body: () throws(VMError) -> ObjectRef) -> CallOutcome {
        do { return .value(try body()) } catch {
            if case .memory(.outOfMemory) = error { return .outOfMemory("\(error)") }
            return .raise("\(error)")
        }
    }

    // MARK: - .internal.directory: open addressing with linear probing
    //
    // refs [0 table]; bytes [count u64]. The table is an object of 2 * capacity
    // references: (key, value) pairs, a null key is an empty slot. Keys are
    // equal when they are the same object, the same integer, or strings with
    // the same text; hashes are stable across restarts (FNV-1a of the text).

    func directoryTable(_ directory: ObjectRef) -> ObjectRef { memory.reference(directory, 0) }

    func keyHash(_ key: ObjectRef) -> UInt32 {
        if Self.isInt(key) { return UInt32(bitPattern: Self.unbox(key)) &* 0x9E37_79B1 }
        if classOf(key) == stringClass { return textHash(key) }
        return UInt32(truncatingIfNeeded: key.raw >> 4) &* 0x9E37_79B1
    }

    func keysEqual(_ a: ObjectRef, _ b: ObjectRef) -> Bool {
        if a == b { return true }
        if Self.isInt(a) || Self.isInt(b) || a.isNull || b.isNull { return false }
        return classOf(a) == stringClass && classOf(b) == stringClass && sameText(a, b)
    }

    /// True for a string object.
    func isString(_ value: ObjectRef) -> Bool {
        !value.isNull && !Self.isInt(value) && classOf(value) == stringClass
    }

    /// True if two strings hold the same bytes (compared in the heap).
    func sameText(_ a: ObjectRef, _ b: ObjectRef) -> Bool {
        let x = stringBytes(a), y = stringBytes(b)
        guard x.count == y.count else { return false }
        charge(bytes: x.count)
        guard let a = x.baseAddress, let b = y.baseAddress else { return true }
        // Eight bytes at a time, then the tail.
        var index = 0
        while index &+ 8 <= x.count {
            if a.loadUnaligned(fromByteOffset: index, as: UInt64.self) != b.loadUnaligned(fromByteOffset: index, as: UInt64.self) { return false }
            index &+= 8
        }
        while index < x.count {
            if x[index] != y[index] { return false }
            index &+= 1
        }
        return true
    }

    /// FNV-1a of a string's bytes: stable across restarts, so a persistent
    /// program keeps its hash tables.
    func textHash(_ string: ObjectRef) -> UInt32 {
        let bytes = stringBytes(string)
        charge(bytes: bytes.count)
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }

    /// The slot (even index) holding `key`, if present.
    func directoryFind(_ directory: ObjectRef, key: ObjectRef) -> Int? {
        guard !key.isNull else { return nil }
        let table = directoryTable(directory)
        let capacity = memory.referenceCount(of: table) / 2
        var index = Int(keyHash(key)) & (capacity - 1)
        for _ in 0..<capacity {
            let existing = memory.reference(table, index * 2)
            if existing.isNull { return nil }
            if keysEqual(existing, key) { return index * 2 }
            index = (index + 1) & (capacity - 1)
        }
        return nil
    }

    func directoryPut(_ directory: ObjectRef, key: ObjectRef, value: ObjectRef) throws(VMError) -> ObjectRef {
        if let slot = directoryFind(directory, key: key) {
            let table = directoryTable(directory)
            let previous = memory.reference(table, slot + 1)
            memory.setReference(table, slot + 1, value)
            return previous
        }
        var table = directoryTable(directory)
        let count = Int(memory.word(directory, at: 0))
        if (count + 1) * 4 > memory.referenceCount(of: table) * 3 / 2 {  // load above 3/4: double
            let old = table
            table = try allocate(.null, references: memory.referenceCount(of: old) * 2, bytes: 0)
            memory.setReference(directory, 0, table)
            for slot in stride(from: 0, to: memory.referenceCount(of: old), by: 2) where !memory.reference(old, slot).isNull {
                insert(table, memory.reference(old, slot), memory.reference(old, slot + 1))
            }
        }
        insert(table, key, value)
        memory.setWord(directory, at: 0, UInt64(count + 1))
        return .null
    }

    private func insert(_ table: ObjectRef, _ key: ObjectRef, _ value: ObjectRef) {
        let capacity = memory.referenceCount(of: table) / 2
        var index = Int(keyHash(key)) & (capacity - 1)
        while !memory.reference(table, index * 2).isNull { index = (index + 1) & (capacity - 1) }
        memory.setReference(table, index * 2, key)
        memory.setReference(table, index * 2 + 1, value)
    }

    /// Removes a key; later entries of its probe run shift back (no tombstones).
    func directoryRemove(_ directory: ObjectRef, key: ObjectRef) -> ObjectRef {
        guard let found = directoryFind(directory, key: key) else { return .null }
        let table = directoryTable(directory)
        let capacity = memory.referenceCount(of: table) / 2
        let removed = memory.reference(table, found + 1)
        var hole = found / 2
        var index = (hole + 1) & (capacity - 1)
        while !memory.reference(table, index * 2).isNull {
            let home = Int(keyHash(memory.reference(table, index * 2))) & (capacity - 1)
            // Move the entry back if the hole lies between its home and its slot.
            let distanceToHole = (hole - home) & (capacity - 1)
            let distanceToIndex = (index - home) & (capacity - 1)
            if distanceToHole < distanceToIndex {
                memory.setReference(table, hole * 2, memory.reference(table, index * 2))
                memory.setReference(table, hole * 2 + 1, memory.reference(table, index * 2 + 1))
                hole = index
            }
            index = (index + 1) & (capacity - 1)
        }
        memory.setReference(table, hole * 2, .null)
        memory.setReference(table, hole * 2 + 1, .null)
        memory.setWord(directory, at: 0, memory.word(directory, at: 0) - 1)
        return removed
    }

    // MARK: - .internal.string_builder
    //
    // refs [0 buffer: plain bytes]; bytes [length u64]. The buffer doubles
    // when full, so appending is amortized O(length of the piece).

    func builderAppend(_ builder: ObjectRef, _ bytes: UnsafeRawBufferPointer) throws(VMError) {
        let length = Int(memory.word(builder, at: 0))
        var buffer = memory.reference(builder, 0)
        let capacity = memory.bytes(buffer).count
        if length + bytes.count > capacity {
            let grown = try allocate(.null, references: 0, bytes: max(capacity * 2, length + bytes.count))
            charge(bytes: length)
            memory.setBytes(grown, at: 0, UnsafeRawBufferPointer(rebasing: memory.bytes(buffer).prefix(length)))
            memory.setReference(builder, 0, grown)
            buffer = grown
        }
        charge(bytes: bytes.count)
        memory.setBytes(buffer, at: length, bytes)
        memory.setWord(builder, at: 0, UInt64(length + bytes.count))
    }
}
