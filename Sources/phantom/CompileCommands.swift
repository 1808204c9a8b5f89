// `phantom compile`: the Phantom language compiler from the command line
// (docs/language.md). `phantom run FILE.ph` compiles through `compileSources`
// too (KernelCommands.swift).

import ArgumentParser
import Foundation
import PhantomCompiler
import PhantomHost
import PhantomMemory
import PhantomStore
import PhantomVM

/// Reads and compiles source files; prints every diagnostic to standard
/// error. Throws exit status 1 when there are errors.
func compileSources(_ paths: [String]) throws -> [ClassFile] {
    var sources: [SourceFile] = []
    for path in paths {
        guard let data = FileManager.default.contents(atPath: path) else { throw UserError("cannot read \(path)") }
        sources.append(SourceFile(name: path, bytes: Array(data)))
    }
    let result = Compiler.compile(sources)
    for diagnostic in result.diagnostics { printError(diagnostic.description) }
    guard result.succeeded else {
        let shown = result.errors.count
        let more = result.errorCount > shown ? " (\(result.errorCount - shown) more not shown)" : ""
        printError("\(result.errorCount) error\(result.errorCount == 1 ? "" : "s")\(more); nothing written")
        throw ExitCode.failure
    }
    return result.classes
}

/// Checks the source arguments: at least one, each a readable file.
func validateSources(_ paths: [String]) throws {
    guard !paths.isEmpty else { throw ValidationError("give at least one source file (FILE.ph)") }
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("no such file: \(path)")
        }
        if isDirectory.boolValue { throw ValidationError("\(path) is a directory, not a source file") }
    }
}

/// `phantom compile FILE.ph... [-o DIR]`: writes one class file per class.
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile Phantom source files into class files (one NAME.pc per class).",
        discussion: """
            The files are compiled together, so classes may use each other across files. Every error is
            reported as FILE:LINE:COLUMN with the source line; nothing is written if there is any error.
            """)
    @Argument(help: "The source files (.ph).") var files: [String] = []
    @Option(name: .shortAndLong, help: "Directory for the class files.") var output: String = "."

    func validate() throws {
        try validateSources(files)
    }

    func run() throws {
        try reportingErrors {
            let classes = try compileSources(files)
            try makeOutputDirectory(output)
            for cls in classes {
                let path = "\(output)/\(Compiler.classFileName(cls.name))"
                guard FileManager.default.createFile(atPath: path, contents: Data(cls.encoded())) else {
                    throw UserError("cannot write \(path)")
                }
                print("wrote \(path): class \(cls.name), \(cls.methods.count) methods")
            }
        }
    }
}
