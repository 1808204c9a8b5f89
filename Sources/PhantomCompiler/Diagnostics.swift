// Compiler diagnostics: every problem is reported as
// ```
// counter.ph:12:9: error: expected ';' after expression
//     n = n + 1
//             ^
// ```
// and compilation goes on, so that one run reports several errors.

/// A source file being compiled: its name (as given on the command line) and text.
public struct SourceFile: Sendable {
    /// The name used in diagnostics.
    public let name: String
    /// The text as UTF-8 bytes (the lexer works on bytes).
    public let bytes: [UInt8]
    /// Byte offset where each line starts.
    let lineStarts: [Int]

    /// A source file from its text.
    public init(name: String, text: String) {
        self.init(name: name, bytes: Array(text.utf8))
    }

    /// A source file from raw bytes; invalid UTF-8 is reported by the lexer.
    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
        var starts = [0]
        for (index, byte) in bytes.enumerated() where byte == 10 { starts.append(index + 1) }
        lineStarts = starts
    }

    /// Line and column (both from 1; the column counts bytes) of a byte offset.
    public func location(of offset: Int) -> (line: Int, column: Int) {
        let clamped = max(0, min(offset, bytes.count))
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= clamped { low = middle } else { high = middle - 1 }
        }
        return (low + 1, clamped - lineStarts[low] + 1)
    }

    /// The text of line `line` (from 1), without its newline.
    public func lineText(_ line: Int) -> String {
        guard line >= 1 && line <= lineStarts.count else { return "" }
        let start = lineStarts[line - 1]
        var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
        if end > start && bytes[end - 1] == 13 { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }
}

/// How serious a diagnostic is.
public enum Severity: String, Sendable {
    case error
    case warning
    case note
}

/// One problem found in the source.
public struct Diagnostic: Sendable, CustomStringConvertible, Equatable {
    public let severity: Severity
    /// The file name as given.
    public let file: String
    /// 1-based line.
    public let line: Int
    /// 1-based column (bytes).
    public let column: Int
    public let message: String
    /// The source line, for the caret display.
    public let sourceLine: String

    /// `file:line:column: error: message`.
    public var summary: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }

    /// The summary, the source line and a caret under the column.
    public var description: String {
        guard !sourceLine.isEmpty || column == 1 else { return summary }
        // Keep tabs so that the caret lines up in a terminal.
        var caret = ""
        for (index, char) in sourceLine.utf8.enumerated() where index < column - 1 {
            caret.append(char == 9 ? "\t" : " ")
        }
        return "\(summary)\n\(sourceLine)\n\(caret)^"
    }
}

/// Collects diagnostics for a compilation.
struct DiagnosticSink {
    private(set) var diagnostics: [Diagnostic] = []
    /// Errors stop code generation but not checking; past this many, the
    /// rest are dropped (a garbage input would otherwise report one per token).
    static let limit = 100
    private(set) var errorCount = 0
    /// Lines (file, line) where the lexer found an error: syntax errors there
    /// are consequences (an unterminated string swallows the rest of its line).
    private var lexicalErrorLines = Set<String>()

    mutating func lexicalError(_ message: String, at offset: Int, in file: SourceFile) {
        lexicalErrorLines.insert("\(file.name):\(file.location(of: offset).line)")
        error(message, at: offset, in: file)
    }

    /// A syntax error, unless the lexer already reported one on that line.
    mutating func syntaxError(_ message: String, at offset: Int, in file: SourceFile) {
        guard !lexicalErrorLines.contains("\(file.name):\(file.location(of: offset).line)") else { return }
        error(message, at: offset, in: file)
    }

    mutating func error(_ message: String, at offset: Int, in file: SourceFile) {
        add(.error, message, at: offset, in: file)
    }

    mutating func add(_ severity: Severity, _ message: String, at offset: Int, in file: SourceFile) {
        if severity == .error { errorCount += 1 }
        guard diagnostics.count < Self.limit else { return }
        let (line, column) = file.location(of: offset)
        diagnostics.append(Diagnostic(severity: severity, file: file.name, line: line, column: column,
                                      message: message, sourceLine: file.lineText(line)))
    }

    var hasErrors: Bool { errorCount > 0 }
}
