// libFuzzer target: an image -> open the store (and, for an image file,
// verify it) -> load the world (object memory + VM) -> heap check. The first byte chooses how the rest is read:
//
//   even: the bytes of an image file, opened as it is (superblocks, space
//         map, snapshot tree, checksums: what a damaged file can hold);
//   odd:  the pages of the object memory as records (u32 page, u16 length,
//         that many bytes; the rest of the page zero), committed as a
//         snapshot by the store itself, so every checksum is right and the
//         mutations reach the world loader and the heap check (what a bug
//         in the VM or a bit flip before the checksum was computed can hold).
//
// `scripts/fuzz seeds` makes both kinds from images made by `phantom`:
// PHANTOM_FUZZ_EXPORT=IMAGE:OUT writes the file IMAGE (trailing zero blocks
// dropped) as an even input to OUT.image and the pages of its newest
// snapshot as an odd input to OUT.pages, and exits.
import Glibc
import PhantomHost
import PhantomMemory
import PhantomStore
import PhantomVM

/// A device in memory (the fuzzer runs no file I/O).
final class MemoryDevice: BlockDevice {
    let path = "fuzz.img"
    var bytes: [UInt8]
    let limit: UInt64
    init(_ bytes: [UInt8], limit: UInt64 = 64 << 20) { self.bytes = bytes; self.limit = limit }
    var size: UInt64 { UInt64(bytes.count) }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw .outOfRange(path: path, offset: offset, length: buffer.count, size: size)
        }
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<Int(offset) + buffer.count]))
        }
    }
    func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        let total = buffers.reduce(0) { $0 + $1.count }
        guard offset <= size, UInt64(total) <= size - offset else {
            throw .outOfRange(path: path, offset: offset, length: total, size: size)
        }
        var at = Int(offset)
        for buffer in buffers {
            bytes.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[at..<at + buffer.count]).copyMemory(from: buffer)
            }
            at += buffer.count
        }
    }
    func flush() throws(BlockDeviceError) {}
    func grow(to newSize: UInt64) throws(BlockDeviceError) {
        guard newSize <= limit else { throw .noSpace(path: path, requestedBytes: newSize) }
        if newSize > size { bytes.append(contentsOf: repeatElement(0, count: Int(newSize - size))) }
    }
}

/// Loads the world of an open store and checks its heap.
func loadWorld(_ store: Store) {
    guard let space = try? PersistentSpace(store: store, capacity: min(store.pageCount << 12, 1 << 28)),
          let memory = try? ObjectMemory(space: space),
          (try? VirtualMachine(memory: memory, console: { _ in })) != nil else { return }
    _ = memory.checkHeap()
}

/// Odd inputs: page records -> a fresh image holding them as its snapshot.
func pagesImage(_ input: ArraySlice<UInt8>) -> MemoryDevice? {
    var pages: [UInt64: [UInt8]] = [:]
    var at = input.startIndex
    func integer(_ count: Int) -> UInt64? {
        guard input.endIndex - at >= count else { return nil }
        var value: UInt64 = 0
        for k in 0..<count { value |= UInt64(input[at + k]) << (8 * k) }
        at += count
        return value
    }
    while let page = integer(4), let length = integer(2) {
        let count = min(Int(length), 4096, input.endIndex - at)
        var bytes = [UInt8](repeating: 0, count: 4096)
        bytes.replaceSubrange(0..<count, with: input[at..<at + count])
        at += count
        pages[page & 0xFFFF] = bytes
    }
    let device = MemoryDevice([])
    guard let store = try? Store.create(on: device, logicalSize: 1 << 28),
          (try? store.commit(pages: pages.sorted { $0.key < $1.key }.map { (page: $0.key, bytes: $0.value) })) != nil else { return nil }
    return device
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let device: MemoryDevice
    if input[0] & 1 == 0 {
        device = MemoryDevice(Array(input.dropFirst()))
    } else {
        guard let made = pagesImage(input.dropFirst()) else { return 0 }
        device = made
    }
    guard let store = try? Store.open(device, readOnly: true, verification: .newestSnapshot) else { return 0 }
    if input[0] & 1 == 0 {
        // A damaged file: the readers of every metadata block (both copies),
        // the freed lists, the space map and the boot log.
        _ = store.verify()
        _ = try? store.damagedPages()
    }
    loadWorld(store)
    return 0
}

struct ExportError: Error { let path: String }

func save(_ bytes: [UInt8], to path: String) throws {
    guard let file = fopen(path, "wb") else { throw ExportError(path: path) }
    defer { fclose(file) }
    guard bytes.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) == bytes.count else { throw ExportError(path: path) }
}

func complain(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzImageInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    guard let export = getenv("PHANTOM_FUZZ_EXPORT").map({ String(cString: $0) }) else { return 0 }
    let parts = export.split(separator: ":", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { complain("PHANTOM_FUZZ_EXPORT=IMAGE:OUT"); exit(2) }
    do {
        let device = try FileBlockDevice(path: parts[0], mode: .readOnly)
        let store = try Store.open(device, readOnly: true, verification: .newestSnapshot)
        var out: [UInt8] = [1]
        for page in try store.mappedPages() where page <= 0xFFFF {
            let bytes = try store.read(page: page)
            let length = (bytes.lastIndex { $0 != 0 } ?? -1) + 1
            for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: page >> (8 * k))) }
            out.append(UInt8(length & 0xFF)); out.append(UInt8(length >> 8))
            out.append(contentsOf: bytes[0..<length])
        }
        var raw = [UInt8](repeating: 0, count: Int(device.size))
        var failure: BlockDeviceError? = nil
        raw.withUnsafeMutableBytes { buffer in
            do throws(BlockDeviceError) { try device.read(into: buffer, at: 0) } catch { failure = error }
        }
        if let failure { throw failure }
        var end = raw.count
        while end > 8192, raw[(end - 4096)..<end].allSatisfy({ $0 == 0 }) { end -= 4096 }
        try save([0] + raw[0..<end], to: parts[1] + ".image")
        try save(out, to: parts[1] + ".pages")
        _exit(0)  // (not exit: the leak checker would count what is still in scope)
    } catch {
        complain("export: \(error)")
        _exit(1)
    }
}

// SwiftPM links an executable's entry point as FuzzImage_main (it renames
// main): hand over to libFuzzer's driver from there.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzImage_main")
public func fuzzImageMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzImage)
}
