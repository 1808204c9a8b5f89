// `.internal.connection`: a persistent object that stands for something
// transient (the console, time, a host file). A program makes one with
// `new`, names what it stands for with `connect("scheme:...")`, and uses it
// with `block(arg, n)` (the original's convention) or `read()`/`write(x)`.
// The kernel binds connections to host services in every process that runs
// the image; an operation that was in flight when the system stopped ends
// with a "restarted" result when the thread runs again (docs/connections.md).
//
// A connection object: refs [0 name]; bytes
// ```
//  0 scheme u64 (0 not connected, 1 con, 2 tmr, 3 clk, 4 tick, 5 fio)
//  8 boot count when it was connected
// 16 boot count when its pending operation started
// 24 tick period, ms
// 32 next tick, wall-clock ms since 1970
// ```

import Foundation
import PhantomHost
import PhantomMemory
import PhantomVM

enum Scheme: UInt64 {
    case none = 0, console, timer, clock, tick, file
}

/// Ordinals of `.internal.connection`: 8 connect, 9 disconnect and 13 block
/// as in the original Phantom (whose 10 check, 11 invoke and 12 setCallback
/// are not implemented); 14-17 are this system's.
enum ConnectionMethod {
    static let connect = 8, disconnect = 9, block = 13, read = 14, write = 15, restarts = 16, name = 17
}

final class ConnectionClass: KernelClassHandler {
    let share: String?
    let console: @Sendable (String) -> Void
    /// The console's input (`Console.takeLine`).
    let input: any Console

    init(share: String?, console: @escaping @Sendable (String) -> Void, input: any Console) {
        self.share = share
        self.console = console
        self.input = input
    }

    func register(in vm: VirtualMachine) throws {
        try vm.registerKernelClass(".internal.connection", instanceReferences: 1, instanceBytes: 40, handler: self)
    }

    // MARK: - Dispatch

    func call(_ vm: VirtualMachine, receiver: ObjectRef, ordinal: Int, arguments: [ObjectRef], thread: ObjectRef) -> KernelCallResult {
        let memory = vm.memory
        func argument(_ index: Int) -> ObjectRef { index < arguments.count ? arguments[index] : .null }
        if ordinal == ConnectionMethod.connect { return connect(vm, receiver, argument(0)) }
        let scheme = Scheme(rawValue: memory.word(receiver, at: 0)) ?? .none
        switch ordinal {
        case ConnectionMethod.restarts:
            guard scheme != .none else { return .error("connection: not connected") }
            return .value(VirtualMachine.integer(Int32(truncatingIfNeeded: vm.bootCount &- memory.word(receiver, at: 8))))
        case ConnectionMethod.name:
            return .value(memory.reference(receiver, 0))
        case ConnectionMethod.disconnect:
            memory.setWord(receiver, at: 0, Scheme.none.rawValue)
            return .value(.null)
        case ConnectionMethod.block:
            let operation = VirtualMachine.integerValue(argument(1)) ?? 0
            return perform(vm, receiver, scheme, thread: thread, operation: operation, value: argument(0))
        case ConnectionMethod.read:
            if scheme == .timer { return make(vm) { try vm.makeLong(Int64(vm.systemNanos / 1_000_000)) } }
            return perform(vm, receiver, scheme, thread: thread, operation: 0, value: .null)
        case ConnectionMethod.write:
            return perform(vm, receiver, scheme, thread: thread, operation: 1, value: argument(0))
        default:
            return .error(".internal.connection has no method \(ordinal)")
        }
    }

    func connect(_ vm: VirtualMachine, _ connection: ObjectRef, _ nameValue: ObjectRef) -> KernelCallResult {
        let memory = vm.memory
        guard let name = vm.text(of: nameValue) else { return .error("connect needs a name such as \"tmr:\"") }
        guard let colon = name.firstIndex(of: ":") else { return .error("connect: \(name) has no scheme (e.g. \"con:\", \"tmr:\")") }
        let prefix = String(name[..<colon])
        let rest = String(name[name.index(after: colon)...])
        let scheme: Scheme
        switch prefix {
        case "con": scheme = .console
        case "tmr": scheme = .timer
        case "clk": scheme = .clock
        case "tick":
            guard let period = Int64(rest), period > 0, period <= 86_400_000 else {
                return .error("connect: \(name): the tick period must be 1...86400000 ms")
            }
            scheme = .tick
            memory.setWord(connection, at: 24, UInt64(period))
            memory.setWord(connection, at: 32, UInt64(bitPattern: wallMillis() + period))
        case "fio":
            switch FileShare.check(rest, in: share) {
            case .failure(let problem): return .error("connect: \(name): \(problem.description)")
            case .success: scheme = .file
            }
        default:
            return .error("connect: unknown scheme \(prefix): (con, tmr, clk, tick, fio)")
        }
        memory.setReference(connection, 0, nameValue)
        memory.setWord(connection, at: 0, scheme.rawValue)
        memory.setWord(connection, at: 8, vm.bootCount)
        return .value(.null)
    }

    // MARK: - Operations

    /// `block(value, operation)`: 0 reads/waits, 1 writes, 2 replaces (files).
    func perform(_ vm: VirtualMachine, _ connection: ObjectRef, _ scheme: Scheme, thread: ObjectRef, operation: Int32, value: ObjectRef) -> KernelCallResult {
        let memory = vm.memory
        switch scheme {
        case .none:
            return .error("connection: not connected (call connect first)")
        case .console:
            if operation == 1 {
                console(vm.describe(value))
                return .value(.null)
            }
            // Read a line; an in-flight read that a restart cut off ends
            // with null (restarts() tells why).
            if vm.waitPhase(of: thread) == 1 {
                if memory.word(connection, at: 16) != vm.bootCount {
                    vm.setWaitPhase(of: thread, 0)
                    return .value(.null)
                }
            } else {
                memory.setWord(connection, at: 16, vm.bootCount)
            }
            switch input.takeLine() {
            case .line(let line):
                vm.setWaitPhase(of: thread, 0)
                return make(vm) { try vm.makeString(line) }
            case .end:
                vm.setWaitPhase(of: thread, 0)
                return .value(.null)
            case .none:
                vm.setWaitPhase(of: thread, 1)
                return .wait(on: connection)
            }
        case .timer:
            // block(_, ms): sleep `ms` of system time (0 or less: just let
            // other threads run); returns 1 if the system restarted during
            // the sleep, else 0. write() is the same as block(x, 1).
            if vm.waitPhase(of: thread) == 2 {
                vm.setWaitPhase(of: thread, 0)
                let restarted = memory.word(connection, at: 16) != vm.bootCount
                return .value(VirtualMachine.integer(restarted ? 1 : 0))
            }
            memory.setWord(connection, at: 16, vm.bootCount)
            vm.setWaitPhase(of: thread, 1)
            return .sleep(until: vm.systemNanos &+ UInt64(max(0, operation)) * 1_000_000)
        case .clock:
            return make(vm) { try vm.makeLong(wallMillis()) }
        case .tick:
            // Waits for the next tick; returns how many periods ended since
            // the last tick it returned (more than 1: ticks were missed,
            // also while the system was down).
            let period = Int64(memory.word(connection, at: 24))
            let next = Int64(bitPattern: memory.word(connection, at: 32))
            let now = wallMillis()
            if now >= next {
                let missed = (now - next) / period + 1
                memory.setWord(connection, at: 32, UInt64(bitPattern: next + missed * period))
                vm.setWaitPhase(of: thread, 0)
                return .value(VirtualMachine.integer(Int32(clamping: missed)))
            }
            // Wait (the scheduler asks isReady, which looks at the wall
            // clock, so a restart does not delay the tick).
            vm.setWaitPhase(of: thread, 1)
            return .wait(on: connection)
        case .file:
            let name = vm.text(of: memory.reference(connection, 0)) ?? ""
            let path = String(name.dropFirst(4))
            switch operation {
            case 0:
                switch FileShare.read(path, in: share) {
                case .success(let text): return text.map { text in make(vm) { try vm.makeString(text) } } ?? .value(.null)
                case .failure(let problem): return .error("\(name): \(problem.description)")
                }
            case 1, 2:
                switch FileShare.write(path, in: share, vm.describe(value), append: operation == 1) {
                case .success: return .value(.null)
                case .failure(let problem): return .error("\(name): \(problem.description)")
                }
            default:
                return .error("\(name): block operation \(operation) is not 0 (read), 1 (append) or 2 (replace)")
            }
        }
    }

    func isReady(_ vm: VirtualMachine, awaited: ObjectRef, thread: ObjectRef) -> Bool {
        switch Scheme(rawValue: vm.memory.word(awaited, at: 0)) ?? .none {
        case .tick:
            return wallMillis() >= Int64(bitPattern: vm.memory.word(awaited, at: 32))
        case .console:
            if vm.memory.word(awaited, at: 16) != vm.bootCount { return true }
            return input.hasInput
        default:
            return true
        }
    }

    /// The wall-clock time (ms since 1970) of the earliest tick that a
    /// blocked thread waits for, nil if none waits for a tick: the kernel's
    /// idle wait ends then, so a tick is not late.
    func nextTick(_ vm: VirtualMachine) -> Int64? {
        var earliest: Int64? = nil
        for thread in vm.threads where vm.state(of: thread) == .blocked {
            let awaited = vm.awaited(by: thread)
            guard !awaited.isNull, VirtualMachine.integerValue(awaited) == nil, vm.className(vm.classOfValue(awaited)) == ".internal.connection",
                  Scheme(rawValue: vm.memory.word(awaited, at: 0)) == .tick else { continue }
            let next = Int64(bitPattern: vm.memory.word(awaited, at: 32))
            earliest = min(earliest ?? next, next)
        }
        return earliest
    }

    private func make(_ vm: VirtualMachine, _ body: () throws -> ObjectRef) -> KernelCallResult {
        do { return .value(try body()) } catch { return .error("\(error)") }
    }
}

func wallMillis() -> Int64 { HostClock.wallNanos() / 1_000_000 }
