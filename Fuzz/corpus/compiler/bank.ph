// A small bank ledger shared by two teller threads. Transfers between four
// accounts happen under one mutex; the total never changes. The last
// teller to finish prints the balances.
//   phantom run --image bank.img examples/bank.ph
package .examples.bank;

class account {
    var name : string;
    var balance : int;

    account(var owner : string, var opening : int) {
        name = owner;
        balance = opening;
    }
};

class ledger {
    var accounts : void [];
    var lock : .internal.mutex;
    var boot : .internal.boot;
    var tellers : int;          // tellers that have started
    var finished : int;         // tellers that are done
    var transfers : int;

    void run(var b : .internal.boot) {
        boot = b;
        lock = new .internal.mutex();
        accounts = new void[]();
        accounts[0] = new account("alice", 100000);
        accounts[1] = new account("bob", 100000);
        accounts[2] = new account("carol", 100000);
        accounts[3] = new account("dave", 100000);
        boot.print("opening total: ", total(), "\n");
        // Two teller threads on this same object (each gets the boot object).
        boot.spawn(this, "teller");
        boot.spawn(this, "teller");
    }

    int total() {
        var sum : int = 0;
        for (var i : int = 0; i < accounts.length; i++) {
            var a : account = accounts[i];     // elements of void [] are untyped: no cast needed
            sum += a.balance;
        }
        return sum;
    }

    void transfer(var from : int, var to : int, var amount : int) {
        synchronized (lock) {
            var source : account = accounts[from];
            var target : account = accounts[to];
            if (source.balance < amount) throw "insufficient funds in " + source.name;
            source.balance -= amount;
            target.balance += amount;
            transfers++;
        }
    }

    // Run by each teller thread (started by run with boot.spawn).
    void teller(var b) {
        var id : int;
        synchronized (lock) {
            id = tellers;
            tellers++;
        }
        for (var i : int = 0; i < 3000; i++) {
            var from : int = (i + id) % 4;
            var to : int = (from + 1 + id) % 4;
            transfer(from, to, 1 + (i * 7 + id) % 13);
        }
        synchronized (lock) {
            finished++;
            if (finished == 2) report();
        }
    }

    void report() {
        for (var i : int = 0; i < accounts.length; i++) {
            var a : account = (account) accounts[i];
            boot.print(a.name, ": ", a.balance, "\n");
        }
        boot.print("transfers: ", transfers, ", closing total: ", total(), "\n");
    }
};
