// `phantom inspect`: one object of the persistent graph at a time: its
// class, its reference slots (named fields for user classes) and what its
// plain bytes mean for the VM's own kinds.

import PhantomMemory
import PhantomVM

extension Kernel {
    /// One reference slot of an inspected object.
    public struct SlotReport: Sendable {
        public let index: Int
        /// The field's name (user classes), else "".
        public let name: String
        /// "@0x..." for an object, "null", or the integer's decimal text.
        public let value: String
        /// The class of the value ("" for null).
        public let className: String
        /// The text of a string, the value of a boxed number.
        public let text: String?
    }

    /// An inspected object.
    public struct ObjectReport: Sendable {
        public let ref: String
        public let className: String
        public let size: Int
        public let slots: [SlotReport]
        /// What the plain bytes hold, in words (string text, counts, numbers...).
        public let summary: String?
        /// The first plain bytes, hexadecimal.
        public let bytesHex: String
    }

    /// Finds what `name` refers to: "@0x1f40", "0x1f40", "8000" (decimal
    /// offset), "/a/b" (a name-space path), "world" or nil (the world).
    public func resolve(_ name: String?) throws -> ObjectRef {
        guard let name, name != "world", name != "root" else { return memory.root }
        if name.hasPrefix("/") {
            guard let found = try lookup(path: name) else { throw KernelError("nothing is bound at \(name)") }
            return found
        }
        var digits = Substring(name)
        if digits.hasPrefix("@") { digits = digits.dropFirst() }
        let value: UInt64?
        if digits.hasPrefix("0x") { value = UInt64(digits.dropFirst(2), radix: 16) } else { value = UInt64(digits) }
        guard let raw = value else { throw KernelError("\(name): expected @0xOFFSET, an offset, a /path or world") }
        let object = ObjectRef(raw: raw)
        guard memory.isValidObject(object) else { throw KernelError("\(name) is not an object of this image") }
        return object
    }

    public func inspect(_ object: ObjectRef) -> ObjectReport {
        let cls = memory.classOf(object)
        var names = vm.isUserClass(cls) ? vm.fieldNames(cls) : []
        if object == memory.root {
            names = ["classes", "threads", "boot", "int", "string", "class", "code", "array", "thread", "call_frame", "boot_class",
                     "object", "mutex", "directory", "string_builder", "long", "float", "double", "cond", "kernel_state"]
        }
        let count = memory.referenceCount(of: object)
        var slots: [SlotReport] = []
        for index in 0..<min(count, 4096) {
            let value = memory.reference(object, index)
            let valueClass = value.isNull ? "" : vm.className(vm.classOfValue(value))
            var text: String? = nil
            if let string = vm.text(of: value) { text = string }
            else if let integer = VirtualMachine.integerValue(value) { text = String(integer) }
            else if !value.isNull, [".internal.long", ".internal.float", ".internal.double"].contains(valueClass) { text = vm.describe(value) }
            let shown = value.isNull ? "null" : VirtualMachine.integerValue(value).map(String.init) ?? value.description
            slots.append(SlotReport(index: index, name: index < names.count ? names[index] : "", value: shown, className: valueClass, text: text))
        }
        let bytes = memory.bytes(object)
        let hex = bytes.prefix(64).map { String(format: "%02x", $0) }.joined()
        var summary: String? = nil
        switch vm.className(cls) {
        case ".internal.string": summary = "text: \(vm.describe(object).debugDescription)"
        case ".internal.long", ".internal.float", ".internal.double": summary = "value: \(vm.describe(object))"
        case ".internal.array", ".internal.directory", ".internal.string_builder":
            summary = "count: \(memory.word(object, at: 0))"
        case ".internal.thread":
            if let number = vm.threads.firstIndex(of: object) {
                summary = threadReports()[number].state + ", \(vm.instructions(of: object)) instructions"
            }
        case ".internal.connection": summary = "connected to \(vm.text(of: memory.reference(object, 0)) ?? "nothing")"
        case ".internal.class": summary = "class \(vm.className(object))"
        default: break
        }
        if object == memory.root { summary = "the world (VM roots; see docs/vm-objects.md)" }
        return ObjectReport(ref: object.description, className: vm.className(cls), size: memory.size(of: object),
                            slots: slots, summary: summary, bytesHex: hex)
    }
}
