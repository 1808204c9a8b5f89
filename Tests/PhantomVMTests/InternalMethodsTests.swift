// The table of internal methods (InternalMethods.swift) against the
// ordinal enums that the VM's callInternal switches on.

import Testing
@testable import PhantomVM

@Suite struct InternalMethodsTests {
    /// The ordinals of a class in the table.
    func ordinals(of name: String) -> Set<Int> {
        Set(InternalMethods.classes.first { $0.name == name }?.methods.map(\.ordinal) ?? [])
    }

    @Test func everyOrdinalOfTheEnumsIsInTheTableAndNoOther() {
        #expect(ordinals(of: InternalMethods.string) == Set(StringMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: InternalMethods.array) == Set(ArrayMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: InternalMethods.directory) == Set(DirectoryMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: InternalMethods.stringBuilder) == Set(StringBuilderMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: InternalMethods.thread) == Set(ThreadMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: InternalMethods.mutex) == Set(MutexMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: InternalMethods.cond) == Set(ConditionMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: InternalMethods.boot) == Set(BootMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: ".internal.connection") == Set(ConnectionMethod.allCases.map(\.rawValue)))
        #expect(ordinals(of: ".internal.namespace") == Set(NamespaceMethod.allCases.map(\.rawValue)))
    }

    @Test func classMethodsStartAboveTheUniversalOnesAndNamesAreUnique() {
        #expect(Set(InternalMethods.classes.map(\.name)).count == InternalMethods.classes.count)
        for cls in InternalMethods.classes {
            for method in cls.methods {
                #expect(method.ordinal > UniversalMethod.allCases.map(\.rawValue).max()!, "\(cls.name).\(method.name)")
            }
            let signatures = cls.methods.map { "\($0.name)/\($0.variadic ? -1 : $0.parameters.count)" }
            #expect(Set(signatures).count == signatures.count, "\(cls.name)")
        }
    }
}
