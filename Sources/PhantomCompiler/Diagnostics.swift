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

extension SourceFile {
    /// The most bytes of a source line a diagnostic shows (generated sources
    /// may put a whole program on one line).
    static let shownLineBytes = 120

    /// Line `line` as a diagnostic shows it: whole if it is at most
    /// `shownLineBytes` long, otherwise a window of that many bytes around
    /// `column` with "..." where text is left out; and the column in it.
    func shownLine(_ line: Int, column: Int) -> (text: String, column: Int) {
        guard line >= 1 && line <= lineStarts.count else { return ("", column) }
        let lineStart = lineStarts[line - 1]
        var lineEnd = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
        if lineEnd > lineStart && bytes[lineEnd - 1] == 13 { lineEnd -= 1 }
        lineEnd = max(lineStart, lineEnd)
        let limit = Self.shownLineBytes
        guard lineEnd - lineStart > limit else { return (lineText(line), column) }
        // The caret's byte, with some context before it.
        let at = lineStart + max(0, column - 1)
        var start = max(lineStart, min(at - limit / 3, lineEnd - limit))
        var end = min(lineEnd, start + limit)
        // Whole UTF-8 characters only (continuation bytes are 10xxxxxx).
        func isContinuation(_ offset: Int) -> Bool { offset < bytes.count && bytes[offset] & 0xC0 == 0x80 }
        while start < end && isContinuation(start) { start += 1 }
        while end > start && isContinuation(end) { end -= 1 }
        let prefix = start > lineStart ? "..." : ""
        let suffix = end < lineEnd ? "..." : ""
        let text = prefix + String(decoding: bytes[start..<end], as: UTF8.self) + suffix
        return (text, at - start + prefix.utf8.count + 1)
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
    /// The source line, for the caret display (clipped to about 120 bytes around the column, with "...").
    public let sourceLine: String
    /// Where the caret goes in `sourceLine` (1-based bytes; `column` unless the line is clipped).
    let caretColumn: Int

    init(severity: Severity, file: String, line: Int, column: Int, message: String, sourceLine: String, caretColumn: Int? = nil) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.sourceLine = sourceLine
        self.caretColumn = caretColumn ?? column
    }

    /// `file:line:column: error: message`.
    public var summary: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }

    /// The summary, the source line and a caret under the column.
    public var description: String {
        guard !sourceLine.isEmpty || column == 1 else { return summary }
        // Keep tabs so that the caret lines up in a terminal.
        var caret = ""
        for (index, char) in sourceLine.utf8.enumerated() where index < caretColumn - 1 {
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
        let shown = file.shownLine(line, column: column)
        diagnostics.append(Diagnostic(severity: severity, file: file.name, line: line, column: column,
                                      message: message, sourceLine: shown.text, caretColumn: shown.column))
    }

    var hasErrors: Bool { errorCount > 0 }
}
