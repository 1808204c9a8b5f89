// A persistent counter: prints 1, 2, 3, ... up to 100 million, one per line.
// Its state is the field n of a persistent object and the thread itself: run
// it persistently, kill it, run it again, and it continues where the last
// snapshot left it.
//   phantom run --image counter.img examples/counter.ph
// (Ctrl-C stops it after a final snapshot; the same command, or
// `phantom run --image counter.img`, continues it.)
class counter {
    var n : int;        // starts at 0 (a new object's fields are null; an int field reads null as 0)
    var limit : int;

    void run(var boot) {
        if (limit == 0) limit = 100000000;
        while (n < limit) {
            n++;
            boot.print(n, "\n");
        }
    }
};
