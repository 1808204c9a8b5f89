// libFuzzer target: bytes of a class file -> decoder -> verifier; bytes that
// start with "phfr:" go to the decoder of the original's class files.
// Every input must be accepted or refused with an error; a trap, a sanitizer
// report or a hang is a bug in PhantomVM.
import PhantomVM

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClassFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    if OriginalClassFile.looksLikeOriginal(bytes) {
        _ = try? OriginalClassFile(decoding: bytes)
        return 0
    }
    guard let file = try? ClassFile(decoding: bytes) else { return 0 }
    // Verified as a root class and as a child of a class with a few fields.
    _ = try? Verifier.verify(file)
    _ = try? Verifier.verify(file, inheritedFields: Int(bytes.first ?? 0) & 7)
    // What decodes must encode and decode to the same class.
    guard let again = try? ClassFile(decoding: file.encoded()) else { fatalError("a decoded class file does not decode after encoding") }
    if again != file { fatalError("decode(encode(file)) differs from file") }
    return 0
}

// SwiftPM links an executable's entry point as FuzzClassFile_main (it renames
// main): hand over to libFuzzer's driver from there.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzClassFile_main")
public func fuzzClassFileMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzClassFile)
}
