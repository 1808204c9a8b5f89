// long, float and double: they need the VM's type prefixes (prefix_long,
// prefix_float, prefix_double), ieq/ineq and the from* conversions. Until the
// VM has them, the compiler reports that the VM lacks them, and these tests
// fail; they pass once the VM does.

import Testing
@testable import PhantomCompiler

@Suite struct NumericTypesTests {
    @Test func longArithmeticAndPrinting() throws {
        try expectOutput("""
            var big : long = 3000000000L;
            var n : long = big * 3 + 7;
            boot.print(n, " ", n / 2, " ", n % 1000, " ", -n, " ", n > big, " ", n == 9000000007L);
            """, "9000000007 4500000003 7 -9000000007 1 1")
    }

    @Test func longShiftsAndBits() throws {
        try expectOutput("""
            var one : long = 1;
            boot.print(one << 40, " ", (one << 63) >>> 63, " ", ~one & 0xFFL, " ", (one << 62) >> 61);
            """, "1099511627776 1 254 2")
    }

    @Test func doubleAndFloatArithmetic() throws {
        try expectOutput("""
            var d : double = 1.5;
            var f : float = 2.25f;
            boot.print(d * 2, " ", d + f, " ", f * 2, " ", 1.0 / 4, " ", d < f, " ", -d);
            """, "3.0 3.75 4.5 0.25 1 -1.5")
    }

    @Test func conversionsFollowJava() throws {
        try expectOutput("""
            var i : int = 7;
            var l : long = i;
            var d : double = l;
            var back : int = (int) 3.99;
            var neg : int = (int) -3.99;
            var sat : int = (int) 1e20;
            var wrapped : int = (int) 4294967297L;
            boot.print(l, " ", d, " ", back, " ", neg, " ", sat, " ", wrapped, " ", (long) 2.5, " ", (float) 1 / 2);
            """, "7 7.0 3 -3 2147483647 1 2 0.5")
    }

    @Test func longFieldsStartAtZeroAndBoxInCollections() throws {
        try expectOutput("""
            total = total + 5000000000L;
            var d = new .internal.directory();
            d.put("t", total);
            var back : long = (long) d.get("t");
            boot.print(total, " ", back + 1, " ", "x" + total);
            """, members: "var total : long;", "5000000000 5000000001 x5000000000")
    }

    @Test func longDivisionByZeroIsAGuestException() throws {
        try expectOutput("""
            var zero : long = 0;
            try { boot.print(1L / zero); } catch (var e : string) { boot.print(e.substring(0, 16)); }
            """, "division by zero")
    }
}
