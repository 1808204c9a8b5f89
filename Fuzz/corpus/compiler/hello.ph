// Hello world in Phantom.
//   phantom run examples/hello.ph
class hello {
    void run(var boot @const) {
        boot.16("hello, world\n");      // the original's print: method 16 of the boot object
        boot.print("hello again, ", 2026, "\n");
    }
};
