// One test per language construct: compile, verify, run, compare the exact output.

import Testing
@testable import PhantomCompiler

/// Runs statements inside test.run(boot) and returns the output.
func output(_ body: String, members: String = "", classes: String = "") throws -> String {
    try run(classes + "\n" + program(body, members: members), className: "test")
}

/// Runs statements inside test.run(boot); the output must be exactly `expected`.
func expectOutput(_ body: String, members: String = "", classes: String = "", _ expected: String,
                  sourceLocation: SourceLocation = #_sourceLocation) throws {
    let actual = try output(body, members: members, classes: classes)
    #expect(actual == expected, sourceLocation: sourceLocation)
}

@Suite struct ConstructTests {
    // MARK: Program structure

    /// F12 of the reliability probe: `new int[-1]` raises, it does not
    /// make an empty array.
    @Test func aNegativeArraySizeRaises() throws {
        let body = """
            var n : int = -1;
            try { var a : int [] = new int[n]; boot.print("made ", a.size()); } catch (var e : string) { boot.print(e); }
            var b : int [] = new int[0]; boot.print(" ", b.size());
            var c : int [] = new int[3]; boot.print(" ", c.size(), c[2]);
            """
        try expectOutput(body, "negative array size 0 30")
    }

    @Test func helloWorldPrintsThroughBoot16() throws {
        try expectOutput(#"boot.16("hello, world\n");"#, "hello, world\n")
    }

    @Test func bootPrintTakesSeveralValues() throws {
        try expectOutput(#"boot.print("a", 1, null, "\n"); boot.putws("b");"#, "a1null\nb")
    }

    @Test func packagesImportsAndQualifiedNames() throws {
        let source = """
            package .ru.dz.demo;
            import .internal.directory;
            class helper { int twice(var x : int) { return 2 * x; } };
            class main {
                void run(var boot @const) {
                    var d : directory = new directory();
                    var h : .ru.dz.demo.helper = new helper();
                    d.put("k", h.twice(21));
                    boot.16(d.get("k"));
                }
            };
            """
        let classes = try compileVerified(source)
        #expect(classes.map(\.name) == [".ru.dz.demo.helper", ".ru.dz.demo.main"])
        #expect(try run(source, className: ".ru.dz.demo.main") == "42")
    }

    @Test func fieldsKeepTheirValuesBetweenCalls() throws {
        let members = """
            var n : int;
            var label : string;
            void bump() { n = n + 1; label = "n=" + n; }
            """
        try expectOutput("bump(); bump(); this.bump(); boot.print(label, \" \", n, \" \", this.n);", members: members, "n=3 3 3")
    }

    @Test func constructorsRunWithArgumentsAndFieldInitializers() throws {
        let classes = """
            class point {
                var x : int;
                var y : int = 7;
                var tag = "p";
                point(var ax : int) { x = ax; }
                int sum() { return x + y; }
            };
            """
        try expectOutput("var p = new point(5); boot.print(p.tag, p.sum());", classes: classes, "p12")
    }

    @Test func inheritanceOverridesAndSuperConstructor() throws {
        let classes = """
            class animal {
                var name : string;
                animal(var n : string) { name = n; }
                string sound() { return "..."; }
                string describe() { return name + " says " + sound(); }
            };
            class dog extends animal {
                var tricks : int;
                dog(var n : string) { super(n); tricks = 2; }
                string sound() { return "woof"; }
            };
            class puppy extends dog {
                puppy() { super("pup"); }
                string sound() { return "yip"; }
            };
            """
        let body = """
            var a : animal = new dog("rex");
            boot.print(a.describe(), "; ", new animal("cat").describe(), "; ", new puppy().describe(), "\\n");
            var d : dog = new puppy();
            boot.print(d.tricks, " ", d.name);
            """
        try expectOutput(body, classes: classes, "rex says woof; cat says ...; pup says yip\n2 pup")
    }

    @Test func interfacesDispatchToEachImplementation() throws {
        let classes = """
            interface shape { int area(); string name(); };
            class square implements shape {
                var side : int;
                square(var s : int) { side = s; }
                int area() { return side * side; }
                string name() { return "square"; }
            };
            class base { string name() { return "rect"; } };
            class rect extends base implements shape {
                int area() { return 6; }
            };
            """
        let body = """
            var shapes = new void[]();
            shapes[0] = new square(3);
            shapes[1] = new rect();
            for (var i : int = 0; i < 2; i++) {
                var s : shape = shapes[i];
                boot.print(s.name(), "=", s.area(), " ");
            }
            """
        try expectOutput(body, classes: classes, "square=9 rect=6 ")
    }

    @Test func universalMethodsCanBeOverridden() throws {
        let classes = """
            class money {
                var cents : int;
                money(var c : int) { cents = c; }
                string toString() { return "$" + cents / 100 + "." + cents % 100; }
                int equals(var other) { return other instanceof money && ((money) other).cents == cents; }
                int hashCode() { return cents; }
            };
            """
        let body = """
            var m = new money(1234);
            boot.print("is " + m, " ", m.equals(new money(1234)), m.equals(new money(1)), m.equals("x"), " ", m.hashCode(), " ", m.toString());
            """
        try expectOutput(body, classes: classes, "is $12.34 100 1234 $12.34")
    }

    // MARK: Types

    @Test func intArithmeticWrapsAndFollowsJava() throws {
        let body = """
            boot.print(7 + 3 * 2, " ", (7 + 3) * 2, " ", 17 / 5, " ", -17 / 5, " ", 17 % 5, " ", -17 % 5, " ");
            var big : int = 2147483647;
            boot.print(big + 1, " ", -2147483648, " ", 0x7fffffff, " ", 0xFFFFFFFF, " ", 'A', " ", '\\n');
            """
        try expectOutput(body, "13 20 3 -3 2 -2 -2147483648 -2147483648 2147483647 -1 65 10")
    }

    @Test func bitOperationsAndShifts() throws {
        let body = """
            var x : int = 0xF0;
            boot.print(x & 0x3C, " ", x | 1, " ", x ^ 0xFF, " ", ~x, " ", 1 << 10, " ", -64 >> 3, " ", -1 >>> 28, " ");
            var n : int = 3;
            boot.print(x >> n, " ", n << n);
            """
        try expectOutput(body, "48 241 15 -241 1024 -8 15 30 24")
    }

    @Test func stringsConcatenateWithNumbersAndNull() throws {
        let body = """
            var s : string = "a";
            var nothing;
            s = s + 1 + 2;
            boot.print(s, " ", 1 + 2 + "b", " ", "c" + nothing, " ");
            s += "!";
            boot.print(s, " ", s.length(), " ", s.charAt(0), " ", s.substring(1, 3), " ", s.concat(9), " ", "ab".equals("a" + "b"));
            """
        try expectOutput(body, "a12 3b cnull a12! 4 97 12 a12!9 1")
    }

    @Test func untypedVariablesHoldAnything() throws {
        let body = """
            var v;
            v = 5;
            boot.print(v, " ");
            v = "five";
            boot.print(v, " ");
            var n : int = 3;
            v = n;
            n = v;
            boot.print(n + 1, " ", v == 3);
            """
        try expectOutput(body, "5 five 4 1")
    }

    @Test func javaStyleDeclarations() throws {
        let body = """
            int a = 2, b = 3;
            string s = "x";
            .internal.string t = s + a;
            test self = this;
            boolean yes = true;
            boot.print(a * b, s, t, yes, self == this);
            """
        try expectOutput(body, "6xx211")
    }

    @Test func growableArraysOfTheOriginal() throws {
        let body = """
            var names : void [];
            names = new void[]();
            names[0] = "zero";
            names[1] = "one";
            names[5] = "five";
            boot.print(names[0], names[1], names[2], names[5], " ", names.length, " ");
            var squares : int [] = new int[4];
            for (var i : int = 0; i < squares.length; i++) squares[i] = i * i;
            squares[2] += 10;
            boot.print(squares[2], " ", squares[3], " ", squares.size());
            """
        try expectOutput(body, "zeroonenullfive 6 14 9 4")
    }

    @Test func kernelArraysAreReadable() throws {
        let body = """
            var d = new .internal.directory();
            d.put("a", 1);
            var keys : .internal.array = d.keys();
            boot.print(keys.size(), keys[0], keys.get(0), keys.length);
            """
        try expectOutput(body, "1aa1")
    }

    // MARK: Statements

    @Test func ifElseChains() throws {
        let members = """
            string classify(var n : int) {
                if (n < 0) return "negative";
                else if (n == 0) return "zero";
                else if (n < 10) { return "small"; }
                return "big";
            }
            """
        try expectOutput(#"boot.print(classify(-5), classify(0), classify(3), classify(99));"#, members: members, "negativezerosmallbig")
    }

    @Test func whileLoopsWithIntsAsConditions() throws {
        let body = """
            var i : int = 5;
            var sum : int = 0;
            while (i) { sum += i; i = i - 1; }
            while (i < 3) i++;
            boot.print(sum, " ", i);
            """
        try expectOutput(body, "15 3")
    }

    @Test func doWhileRunsTheTrailingStatementAfterEachTrueTest() throws {
        // PVM-NOTES: i=3; j=0; do { j=j+1; } while(i) i=i-1;  ends with j == 4.
        let body = """
            var i : int; var j : int;
            i = 3; j = 0;
            do { j = j + 1; } while(i) i = i - 1;
            boot.print(i, " ", j, " ");
            var k : int = 0;
            do k++; while (k < 5);
            boot.print(k);
            """
        try expectOutput(body, "0 4 5")
    }

    @Test func forLoopsWithBreakAndContinue() throws {
        let body = """
            for (var i : int = 0; i < 10; i++) {
                if (i % 2 == 1) continue;
                if (i > 6) break;
                boot.print(i);
            }
            var n : int = 0;
            for (;;) { if (++n == 3) break; }
            for (var a : int = 0, b = 0; a < 3; a++, b += 2) boot.print(" ", a, b);
            boot.print(" ", n);
            """
        try expectOutput(body, "0246 00 12 24 3")
    }

    @Test func countDownLoopsUseDecrementAndJump() throws {
        let body = """
            var total : int = 0;
            for (var i : int = 4; i > 0; i--) { if (i == 2) continue; total = total * 10 + i; }
            var k : int = 3;
            while (k != 0) { total = total + 1000; k = k - 1; }
            var z : int = 0;
            for (var j : int = z; j > 0; j--) total = -1;
            boot.print(total, " ", k);
            """
        try expectOutput(body, "3431 0")
    }

    @Test func switchFallsThroughLikeC() throws {
        let members = """
            string name(var n : int) {
                var s : string = "";
                switch (n) {
                case 1: s = s + "one ";
                case 2: s = s + "two "; break;
                case -3:
                case 'x': s = "minus three or x"; break;
                default: s = "other";
                }
                return s;
            }
            """
        try expectOutput(#"boot.print(name(1), "|", name(2), "|", name(-3), "|", name(120), "|", name(9));"#, members: members, "one two |two |minus three or x|minus three or x|other")
    }

    @Test func switchOnStrings() throws {
        let members = """
            int code(var s : string) {
                switch (s) { case "a": return 1; case "b": case "c": return 2; }
                return 0;
            }
            """
        try expectOutput(#"boot.print(code("a"), code("c"), code("z"));"#, members: members, "120")
    }

    @Test func throwAndCatchAnyObject() throws {
        let members = """
            void fail(var what) { throw what; }
            """
        let body = """
            try { fail("text"); } catch (var e : string) { boot.print("string ", e, "; "); }
            try { fail(7); } catch (var e : int) { boot.print("int ", e + 1, "; "); }
            try { fail(this); } catch (var e : string) { boot.print("wrong"); } catch (test e) { boot.print("test object; "); }
            try { var z : int = 0; boot.print(1 / z); } catch (e) { boot.print(e.substring(0, 16)); }
            """
        try expectOutput(body, members: members, "string text; int 8; test object; division by zero")
    }

    @Test func nestedTryBlocksAndRethrow() throws {
        let body = """
            try {
                try { throw "inner"; }
                catch (var e : int) { boot.print("not here"); }
                boot.print("not here either");
            } catch (var e) { boot.print("outer got ", e); }
            try {
                try { throw "x"; } catch (var e) { throw e + "y"; }
            } catch (var e) { boot.print(" ", e); }
            """
        try expectOutput(body, "outer got inner xy")
    }

    @Test func finallyRunsOnEveryWayOut() throws {
        let members = """
            var log : string = "";
            int f(var mode : int) {
                try {
                    if (mode == 1) return 10;
                    if (mode == 2) throw "boom";
                    log = log + "body ";
                } catch (var e : string) {
                    log = log + "caught ";
                } finally {
                    log = log + "finally" + mode + " ";
                }
                return 0;
            }
            """
        let body = """
            boot.print(f(0), f(1), f(2), " ");
            for (var i : int = 0; i < 3; i++) { try { if (i == 1) break; } finally { log = log + "loop" + i + " "; } }
            boot.print(log);
            """
        try expectOutput(body, members: members, "0100 body finally0 finally1 caught finally2 loop0 loop1 ")
    }

    @Test func uncaughtExceptionsCarryTheSourceLine() throws {
        let source = """
            class crash {
                int divide(var a : int, var b : int) {
                    return a / b;
                }
                void run(var boot) {
                    boot.print("start\\n");
                    divide(1, 0);
                }
            };
            """
        let text = try run(source, className: "crash")
        #expect(text.hasPrefix("start\nthread failed with an uncaught exception: division by zero"))
        #expect(text.contains("at crash.divide (pc "))
        #expect(text.contains("line 3)"))
        #expect(text.contains("line 7)"))
    }

    @Test func returnValuesOfEveryKind() throws {
        let members = """
            int one() { return 1; }
            string two() { return "2"; }
            var three() { return 3; }
            void four() { return; }
            test self() { return this; }
            """
        try expectOutput(#"four(); boot.print(one(), two(), three(), self().one());"#, members: members, "1231")
    }

    // MARK: Expressions

    @Test func shortCircuitLogic() throws {
        let members = """
            var calls : int;
            int yes() { calls++; return 1; }
            int no() { calls++; return 0; }
            """
        let body = """
            var a : int = no() && yes();
            var b : int = yes() || no();
            var c : int = !no() && (no() || yes());
            boot.print(a, b, c, " calls ", calls);
            if (no() || !yes()) boot.print("wrong");
            """
        try expectOutput(body, members: members, "011 calls 5")
    }

    @Test func comparisonsOfIntsAndObjects() throws {
        let body = """
            var a : int = 3;
            boot.print(a < 4, a <= 3, a > 3, a >= 4, a == 3, a != 3, " ");
            var s = "x";
            var t = s;
            var nothing;
            boot.print(s == t, s != t, nothing == null, s == null, null != s, " ", (a > 2) + (a > 1));
            """
        try expectOutput(body, "110010 10101 2")
    }

    @Test func conditionalExpressions() throws {
        try expectOutput(#"var n : int = 5; boot.print(n > 3 ? "big" : "small", n % 2 == 0 ? 0 : n * 2);"#, "big10")
    }

    @Test func incrementAndCompoundAssignment() throws {
        let members = "var f : int;"
        let body = """
            var i : int = 5;
            var a : int = i++;
            var b : int = ++i;
            var c : int = i--;
            f = 10; f++; ++f; f -= 2; f *= 3;
            var arr = new int[2];
            arr[1]++; arr[1] += 5; var old : int = arr[1]++;
            i <<= 2; i |= 1; i >>= 1;
            boot.print(a, " ", b, " ", c, " ", i, " ", f, " ", arr[1], " ", old, " ", i % 3);
            """
        try expectOutput(body, members: members, "5 7 7 12 30 7 6 0")
    }

    @Test func otherObjectsFieldsThroughAccessors() throws {
        let classes = """
            class cell { var value : int; var next : cell; };
            """
        let body = """
            var a = new cell();
            var b = new cell();
            a.value = 1; b.value = 2; a.next = b;
            a.next.value += 40;
            a.value++;
            boot.print(a.value, " ", a.next.value, " ", b.value, " ", b.next == null);
            """
        try expectOutput(body, classes: classes, "2 42 42 1")
    }

    @Test func castsAndInstanceof() throws {
        let classes = """
            class a { };
            class b extends a { int id() { return 2; } };
            """
        let body = """
            var x = new b();
            var o : a = x;
            boot.print(x instanceof a, x instanceof b, o instanceof b, new a() instanceof b, "s" instanceof .internal.string, 5 instanceof .internal.int, " ");
            boot.print(((b) o).id(), " ");
            var n : a = null;
            var m : b = (b) n;
            boot.print(m == null, " ");
            try { var bad : b = (b) new a(); } catch (var e : string) { boot.print(e); }
            """
        try expectOutput(body, classes: classes, "111011 2 1 cannot cast to b")
    }

    @Test func callsByOrdinalAndByNameOnUntypedValues() throws {
        let classes = """
            class greeter { string greet(var who) { return "hi " + who; } };
            """
        let body = """
            var g = new greeter();
            var boxed;
            boxed = g;
            boot.16(boxed.greet("you"), " ");
            boot.16(g.8("ordinal"), " ");
            var d;
            d = new .internal.directory();
            d.put(1, "one");
            boot.print(d.get(1), " ", d.size(), " ", d.containsKey(1), d.containsKey(2));
            """
        try expectOutput(body, classes: classes, "hi you hi ordinal one 1 10")
    }

    @Test func evaluationOrderIsLeftToRight() throws {
        let members = """
            var log : string = "";
            int note(var n : int) { log = log + n; return n; }
            int pair(var a : int, var b : int) { return a * 10 + b; }
            """
        let body = """
            var r : int = note(1) - note(2) * note(3);
            var s : string = "x" + note(4) + note(5);
            var p : int = pair(note(6), note(7));
            var sh : int = note(8) << note(1);
            boot.print(log, " ", r, " ", s, " ", p, " ", sh);
            """
        try expectOutput(body, members: members, "123456781 -5 x45 67 16")
    }

    // MARK: Kernel classes

    @Test func kernelStringBuilderDirectoryAndMutex() throws {
        let body = """
            var sb = new .internal.string_builder();
            sb.append("x").append(42).append(null);
            boot.print(sb.toString(), " ", sb.length(), " ");
            var m = new .internal.mutex();
            m.lock();
            m.unlock();
            synchronized (m) { boot.print("locked "); }
            synchronized (m) { }
            var d = new .internal.directory();
            d.put("a", 1); d.put("b", 2); d.remove("a");
            boot.print(d.size(), d.get("a"), d.get("b"), " ", sb.clear().length());
            """
        try expectOutput(body, "x42null 7 locked 1null2 0")
    }

    @Test func universalMethodsOnAnyObject() throws {
        let body = """
            var s = "abc";
            var n : int = 7;
            boot.print(s.hashCode(), " ", n.toString(), " ", n.equals(7), " ", s.getClass() == .internal.string, " ", this.toString().length() > 0);
            """
        try expectOutput(body, "440920331 7 1 1 1")
    }
}
