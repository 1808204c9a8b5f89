// libFuzzer target: text of a `.ph` file -> compiler (with the PVM verifier
// run on what it generates). Besides traps and sanitizer reports, an
// "internal compiler error" diagnostic is a bug: the compiler must refuse
// bad source with a real error, and never generate code the verifier rejects.
import PhantomCompiler
import PhantomVM

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCompiler(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = size == 0 ? "" : String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let result = Compiler.compile(text, file: "fuzz.ph")
    for diagnostic in result.diagnostics where diagnostic.message.contains("internal compiler error") {
        fatalError(diagnostic.summary)
    }
    return 0
}

// SwiftPM links an executable's entry point as FuzzCompiler_main (it renames
// main): hand over to libFuzzer's driver from there.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzCompiler_main")
public func fuzzCompilerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzCompiler)
}
