// Recursive Fibonacci numbers.
//   phantom run examples/fib.ph
package .examples;

class fib {
    int fib(var n : int) {
        if (n < 2) return n;
        return fib(n - 1) + fib(n - 2);
    }

    void run(var boot : .internal.boot) {
        for (var i : int = 0; i <= 20; i++) {
            boot.print("fib(", i, ") = ", fib(i), "\n");
        }
    }
};
