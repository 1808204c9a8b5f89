// `.internal.namespace`: the image's persistent names. Every instance is a
// handle on the same tree of directories (kernel state ref 0), where
// "/"-separated paths name objects: `bind("/apps/counter", obj)`,
// `lookup("/apps/counter")`. Intermediate directories are made on `bind`;
// any `.internal.directory` on the way is a directory of the tree.

import PhantomMemory
import PhantomVM

enum NameSpaceMethod {
    static let bind = 8, lookup = 9, unbind = 10, list = 11
}

final class NameSpaceClass: KernelClassHandler {
    func register(in vm: VirtualMachine) throws {
        try vm.registerKernelClass(".internal.namespace", instanceReferences: 0, instanceBytes: 0, handler: self)
    }

    /// The root directory, made on first use.
    static func root(_ vm: VirtualMachine) throws(VMError) -> ObjectRef {
        var root = vm.memory.reference(vm.kernelState, 0)
        if root.isNull {
            root = try vm.makeDirectory()
            vm.memory.setReference(vm.kernelState, 0, root)
        }
        return root
    }

    static func components(_ path: String) -> [String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        return parts.contains(where: { $0 == "." || $0 == ".." }) ? nil : parts
    }

    func call(_ vm: VirtualMachine, receiver: ObjectRef, ordinal: Int, arguments: [ObjectRef], thread: ObjectRef) -> KernelCallResult {
        let value = arguments.count > 1 ? arguments[1] : .null
        guard let path = arguments.first.flatMap({ vm.text(of: $0) }), let parts = Self.components(path) else {
            return .error("namespace: a path such as \"/apps/name\" is needed (no '.' or '..')")
        }
        do {
            var directory = try Self.root(vm)
            switch ordinal {
            case NameSpaceMethod.bind:
                guard let last = parts.last else { return .error("namespace.bind: cannot bind the root") }
                for part in parts.dropLast() {
                    let key = try vm.makeString(part)
                    var next = vm.directoryValue(directory, key: key)
                    if next.isNull {
                        next = try vm.makeDirectory()
                        try vm.setDirectoryValue(directory, key: key, value: next)
                    }
                    guard vm.isDirectory(next) else { return .error("namespace.bind: \(part) in \(path) is not a directory") }
                    directory = next
                }
                if value.isNull { return .value(vm.removeDirectoryValue(directory, key: try vm.makeString(last))) }
                return .value(try vm.setDirectoryValue(directory, key: try vm.makeString(last), value: value))
            case NameSpaceMethod.lookup, NameSpaceMethod.unbind, NameSpaceMethod.list:
                var found = directory
                var parent = ObjectRef.null
                for part in parts {
                    guard vm.isDirectory(found) else { return .value(.null) }
                    parent = found
                    found = vm.directoryValue(found, key: try vm.makeString(part))
                    if found.isNull { return .value(.null) }
                }
                switch ordinal {
                case NameSpaceMethod.lookup: return .value(found)
                case NameSpaceMethod.unbind:
                    guard let last = parts.last, !parent.isNull else { return .error("namespace.unbind: cannot unbind the root") }
                    return .value(vm.removeDirectoryValue(parent, key: try vm.makeString(last)))
                default:
                    guard vm.isDirectory(found) else { return .value(.null) }
                    let names = vm.directoryKeys(found).compactMap { vm.text(of: $0) }.sorted()
                    return .value(try vm.makeArray(try names.map { name throws(VMError) in try vm.makeString(name) }))
                }
            default:
                return .error(".internal.namespace has no method \(ordinal)")
            }
        } catch {
            return .error("\(error)")
        }
    }

    func isReady(_ vm: VirtualMachine, awaited: ObjectRef, thread: ObjectRef) -> Bool { true }
}
