// The syntax tree the parser builds. Positions are byte offsets in the
// source file (`SourceFile.location(of:)` turns them into line:column).

/// A type as written in the source.
indirect enum TypeSyntax: Equatable, Sendable {
    /// `var x;`: an object of any class.
    case untyped
    case void
    case int
    case long
    case float
    case double
    case boolean
    case string
    /// A class: `counter`, `.ru.dz.counter`, `.internal.directory`.
    case named(String)
    /// `T []`.
    case array(TypeSyntax)

    /// How the type reads in a message.
    var spelling: String {
        switch self {
        case .untyped: "var"
        case .void: "void"
        case .int: "int"
        case .long: "long"
        case .float: "float"
        case .double: "double"
        case .boolean: "boolean"
        case .string: "string"
        case let .named(name): name
        case let .array(element): element.spelling + "[]"
        }
    }
}

/// Binary operators.
enum BinaryOperator: Sendable {
    case add, subtract, multiply, divide, remainder
    case bitAnd, bitOr, bitXor, shiftLeft, shiftRight, unsignedShiftRight
    case equal, notEqual, less, lessEqual, greater, greaterEqual
    case logicalAnd, logicalOr

    var spelling: String {
        switch self {
        case .add: "+"
        case .subtract: "-"
        case .multiply: "*"
        case .divide: "/"
        case .remainder: "%"
        case .bitAnd: "&"
        case .bitOr: "|"
        case .bitXor: "^"
        case .shiftLeft: "<<"
        case .shiftRight: ">>"
        case .unsignedShiftRight: ">>>"
        case .equal: "=="
        case .notEqual: "!="
        case .less: "<"
        case .lessEqual: "<="
        case .greater: ">"
        case .greaterEqual: ">="
        case .logicalAnd: "&&"
        case .logicalOr: "||"
        }
    }

    var isComparison: Bool {
        switch self {
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual: true
        default: false
        }
    }
}

/// Unary operators.
enum UnaryOperator: Sendable {
    case negate, plus, not, bitNot
}

/// An expression node.
final class Expr: @unchecked Sendable {
    let position: Int
    let kind: Kind

    init(_ kind: Kind, at position: Int) {
        self.kind = kind
        self.position = position
    }

    enum Kind {
        case intLiteral(Int32)
        case longLiteral(Int64)
        case floatLiteral(Float)
        case doubleLiteral(Double)
        case stringLiteral(String)
        case null
        case this
        /// A simple name: a local, a parameter or a field of `this`.
        case name(String)
        /// A dotted class name used as a value (`.internal.string`): the class object.
        case className(String)
        /// `object.name` (a field of another object, or `array.length`).
        case member(Expr, String)
        /// `name(args)` (receiver nil: `this`) or `object.name(args)`.
        case call(Expr?, String, [Expr])
        /// `object.16(args)`: a call by ordinal.
        case ordinalCall(Expr, Int, [Expr])
        /// `super.name(args)`, or `super(args)` (name nil) in a constructor.
        case superCall(String?, [Expr])
        /// `array[index]`.
        case index(Expr, Expr)
        /// `new C(args)`; `new T[]()` (size nil) or `new T[n]`.
        case new(TypeSyntax, [Expr])
        case newArray(TypeSyntax, Expr?)
        case unary(UnaryOperator, Expr)
        case binary(BinaryOperator, Expr, Expr)
        /// `target = value`, or `target op= value` (op non-nil).
        case assign(BinaryOperator?, Expr, Expr)
        /// `++x`, `x--`, ...
        case increment(prefix: Bool, delta: Int32, Expr)
        case conditional(Expr, Expr, Expr)
        case cast(TypeSyntax, Expr)
        case instanceOf(Expr, TypeSyntax)
    }
}

/// A local variable declaration.
struct VariableDeclaration {
    let name: String
    let position: Int
    let type: TypeSyntax
    let initializer: Expr?
    /// Unique within the method: the code generator keys slots by it.
    let id: Int
}

/// One `case` group of a switch: its labels (nil = `default`) and statements.
struct SwitchCase {
    let labels: [(Expr?, Int)]
    let body: [Stmt]
}

/// One `catch (var e : C)` clause.
struct CatchClause {
    let variable: VariableDeclaration
    let body: Stmt
    let position: Int
}

/// A statement node.
final class Stmt: @unchecked Sendable {
    let position: Int
    let kind: Kind

    init(_ kind: Kind, at position: Int) {
        self.kind = kind
        self.position = position
    }

    enum Kind {
        case empty
        case block([Stmt])
        case variables([VariableDeclaration])
        case expression(Expr)
        case ifElse(Expr, Stmt, Stmt?)
        case whileLoop(Expr, Stmt)
        /// `do B while (C) S;`: S (possibly empty) runs after each true test of C.
        case doWhile(Stmt, Expr, Stmt)
        case forLoop([Stmt], Expr?, [Expr], Stmt)
        case switchCase(Expr, [SwitchCase])
        case breakLoop
        case continueLoop
        case returnValue(Expr?)
        case throwValue(Expr)
        case tryCatch(Stmt, [CatchClause], Stmt?)
        case synchronized(Expr, Stmt)
    }
}

/// A method parameter: `var name : type @attribute...`.
struct Parameter {
    let name: String
    let position: Int
    let type: TypeSyntax
    let attributes: [String]
    let id: Int
}

/// A method or constructor.
struct MethodDeclaration {
    let name: String
    let position: Int
    let returnType: TypeSyntax
    let parameters: [Parameter]
    /// nil for an interface method.
    let body: Stmt?
    let isConstructor: Bool
    /// Local declarations in the method (ids 0..<count), parameters included.
    let variableCount: Int
}

/// A field: `var name : type [= initializer];`.
struct FieldDeclaration {
    let name: String
    let position: Int
    let type: TypeSyntax
    let initializer: Expr?
}

/// A class or interface.
struct ClassDeclaration {
    /// The full name: `.ru.dz.demo.counter` (or `counter` with no package).
    let name: String
    let position: Int
    let isInterface: Bool
    let parent: (TypeSyntax, Int)?
    let interfaces: [(TypeSyntax, Int)]
    var fields: [FieldDeclaration]
    var methods: [MethodDeclaration]
    /// Index of the file it came from.
    let fileIndex: Int
}

/// One parsed source file.
struct FileSyntax {
    let package: String?
    /// Imported names: simple name -> full name.
    let imports: [String: String]
    let classes: [ClassDeclaration]
}
