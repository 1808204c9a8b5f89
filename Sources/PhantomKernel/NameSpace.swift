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

    /// A part of a path that names something other than a directory.
    struct NotADirectory: Error { let part: String }

    /// The directory that `parts` name under the root, made where missing.
    static func makeDirectories(_ vm: VirtualMachine, _ parts: ArraySlice<String>) throws(VMError) -> Result<ObjectRef, NotADirectory> {
        var directory = try root(vm)
        for part in parts {
            let key = try vm.makeString(part)
            var next = vm.directoryValue(directory, key: key)
            if next.isNull {
                next = try vm.makeDirectory()
                try vm.setDirectoryValue(directory, key: key, value: next)
            }
            guard vm.isDirectory(next) else { return .failure(NotADirectory(part: part)) }
            directory = next
        }
        return .success(directory)
    }

    /// What `parts` name under the root, with the directory that holds it
    /// (null for the root itself); nil if nothing is bound there.
    static func find(_ vm: VirtualMachine, _ parts: [String]) throws(VMError) -> (found: ObjectRef, parent: ObjectRef)? {
        var found = try root(vm)
        var parent = ObjectRef.null
        for part in parts {
            guard vm.isDirectory(found) else { return nil }
            parent = found
            found = vm.directoryValue(found, key: try vm.makeString(part))
            if found.isNull { return nil }
        }
        return (found, parent)
    }

    func call(_ vm: VirtualMachine, receiver: ObjectRef, ordinal: Int, arguments: [ObjectRef], thread: ObjectRef) -> KernelCallResult {
        let value = arguments.count > 1 ? arguments[1] : .null
        guard let path = arguments.first.flatMap({ vm.text(of: $0) }), let parts = Self.components(path) else {
            return .error("namespace: a path such as \"/apps/name\" is needed (no '.' or '..')")
        }
        do {
            switch ordinal {
            case NameSpaceMethod.bind:
                guard let last = parts.last else { return .error("namespace.bind: cannot bind the root") }
                let directory: ObjectRef
                switch try Self.makeDirectories(vm, parts.dropLast()) {
                case .success(let made): directory = made
                case .failure(let blocked): return .error("namespace.bind: \(blocked.part) in \(path) is not a directory")
                }
                if value.isNull { return .value(vm.removeDirectoryValue(directory, key: try vm.makeString(last))) }
                return .value(try vm.setDirectoryValue(directory, key: try vm.makeString(last), value: value))
            case NameSpaceMethod.lookup, NameSpaceMethod.unbind, NameSpaceMethod.list:
                guard let (found, parent) = try Self.find(vm, parts) else { return .value(.null) }
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
