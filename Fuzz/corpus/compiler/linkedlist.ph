// A singly linked list of objects, written in Phantom.
//   phantom run examples/linkedlist.ph
package .examples.list;

class node {
    var value;
    var next : node;

    node(var v, var n : node) {
        value = v;
        next = n;
    }
};

class list {
    var head : node;
    var tail : node;
    var count : int;

    void add(var value) {
        var n = new node(value, null);
        if (tail == null) head = n; else tail.next = n;
        tail = n;
        count++;
    }

    void push(var value) {
        head = new node(value, head);
        if (tail == null) tail = head;
        count++;
    }

    // Removes the first element equal to value; returns 1 if one was removed.
    int remove(var value) {
        var previous : node = null;
        for (var n = head; n != null; n = n.next) {
            if (n.value.equals(value)) {
                if (previous == null) head = n.next; else previous.next = n.next;
                if (tail == n) tail = previous;
                count--;
                return 1;
            }
            previous = n;
        }
        return 0;
    }

    void reverse() {
        var previous : node = null;
        var current = head;
        tail = head;
        while (current != null) {
            var next = current.next;
            current.next = previous;
            previous = current;
            current = next;
        }
        head = previous;
    }

    int size() { return count; }

    string toString() {
        var text = new .internal.string_builder();
        text.append("[");
        for (var n = head; n != null; n = n.next) {
            text.append(n.value);
            if (n.next != null) text.append(", ");
        }
        return text.append("]").toString();
    }
};

class demo {
    void run(var boot : .internal.boot) {
        var l = new list();
        for (var i : int = 1; i <= 5; i++) l.add(i * i);
        l.push("first");
        boot.print("list: ", l.toString(), " size ", l.size(), "\n");
        l.reverse();
        boot.print("reversed: ", l.toString(), "\n");
        l.remove(9);
        l.remove("first");
        l.remove(42);
        boot.print("removed 9 and \"first\": ", l.toString(), " size ", l.size(), "\n");
        var sum : int = 0;
        for (var n = l.head; n != null; n = n.next) sum += (int) n.value;
        boot.print("sum: ", sum, "\n");
    }
};
