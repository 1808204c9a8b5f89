// Methods of the internal classes, implemented in Swift and reached by
// ordinal like any method (docs/internal-classes.md). Ordinals 0-7 are the
// methods every object has (7 is reserved); user classes may override them.

import PhantomMemory

/// A guest error raised by an internal method; becomes a guest exception.
struct GuestProblem: Error {
    let message: String
}

extension VirtualMachine {
    /// Universal ordinals.
    enum Ordinal {
        static let construct = 0, destruct = 1, getClass = 2, clone = 3, equals = 4, toString = 5, hashCode = 6
        static let print = 16
    }

    /// Calls method `ordinal` of an internal class (or a universal method of
    /// a user class that does not define it).
    func callInternal(_ receiver: ObjectRef, cls: ObjectRef, ordinal: Int, arguments: [ObjectRef]) -> Result<ObjectRef, GuestProblem> {
        func argument(_ index: Int) -> ObjectRef? { index < arguments.count ? arguments[index] : nil }
        func integer(_ index: Int) -> Int32? {
            guard let value = argument(index), Self.isInt(value) else { return nil }
            return Self.unbox(value)
        }
        func make(_ text: String) -> Result<ObjectRef, GuestProblem> {
            do { return .success(try newString(text)) } catch { return .failure(GuestProblem(message: "out of memory")) }
        }
        let kind = kind(of: cls)
        switch (kind, ordinal) {
        case (.boot, Ordinal.print):
            console(arguments.map(describe).joined())
            return .success(.null)
        case (.string, 8):  // length
            return .success(Self.box(Int32(truncatingIfNeeded: memory.word(receiver, at: 0))))
        case (.string, 9):  // concat(other)
            guard let other = argument(0) else { return .failure(GuestProblem(message: "string.concat needs an argument")) }
            return make(string(receiver) + describe(other))
        case (.string, 10):  // charAt(index): a byte of the UTF-8 text
            let bytes = Array(string(receiver).utf8)
            guard let index = integer(0), index >= 0, Int(index) < bytes.count else {
                return .failure(GuestProblem(message: "string index out of range"))
            }
            return .success(Self.box(Int32(bytes[Int(index)])))
        case (.string, 11):  // substring(from, to)
            let bytes = Array(string(receiver).utf8)
            guard let from = integer(0), let to = integer(1), from >= 0, to >= from, Int(to) <= bytes.count else {
                return .failure(GuestProblem(message: "substring range out of bounds"))
            }
            return make(String(decoding: bytes[Int(from)..<Int(to)], as: UTF8.self))
        case (.array, 8):  // get(index)
            guard let index = integer(0), index >= 0, Int(index) < arrayCount(receiver) else {
                return .failure(GuestProblem(message: "array index out of range"))
            }
            return .success(arrayGet(receiver, Int(index)))
        case (.array, 10):  // size
            return .success(Self.box(Int32(arrayCount(receiver))))
        case (_, Ordinal.construct), (_, Ordinal.destruct):
            return .success(.null)
        case (_, Ordinal.getClass):
            return .success(cls)
        case (_, Ordinal.equals):
            let other = argument(0) ?? .null
            if kind == .string && !other.isNull && !Self.isInt(other) && classOf(other) == stringClass {
                return .success(Self.box(string(receiver) == string(other) ? 1 : 0))
            }
            return .success(Self.box(receiver == other ? 1 : 0))
        case (_, Ordinal.toString):
            return make(describe(receiver))
        case (_, Ordinal.hashCode):
            // Stable across restarts: a persistent program keeps its hash tables.
            if kind == .string {
                var hash: UInt32 = 0x811C_9DC5  // FNV-1a
                for byte in string(receiver).utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
                return .success(Self.box(Int32(bitPattern: hash)))
            }
            if Self.isInt(receiver) { return .success(Self.box(Self.unbox(receiver))) }
            return .success(Self.box(Int32(truncatingIfNeeded: receiver.raw >> 4)))
        default:
            return .failure(GuestProblem(message: "\(className(cls)) has no method \(ordinal)"))
        }
    }
}
