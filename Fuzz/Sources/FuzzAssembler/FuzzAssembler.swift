// libFuzzer target: text of a `.pa` file -> assembler -> verifier.
import PhantomVM

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAssembler(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = size == 0 ? "" : String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let classes = try? Assembler.assemble(text, file: "fuzz.pa") else { return 0 }
    for file in classes {
        _ = try? Verifier.verify(file)
        guard let again = try? ClassFile(decoding: file.encoded()), again == file else {
            fatalError("an assembled class does not survive encode + decode")
        }
    }
    return 0
}

// SwiftPM links an executable's entry point as FuzzAssembler_main (it renames
// main): hand over to libFuzzer's driver from there.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzAssembler_main")
public func fuzzAssemblerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzAssembler)
}
