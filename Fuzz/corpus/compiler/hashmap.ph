// A hash map with separate chaining, written in Phantom (the VM has its own,
// .internal.directory; this one is for the language). Keys are strings or ints.
//   phantom run examples/hashmap.ph
package .examples.map;

class entry {
    var key;
    var value;
    var next : entry;
    var hash : int;
};

class hashmap {
    var buckets : void [];
    var capacity : int;
    var count : int;

    hashmap() {
        capacity = 8;
        buckets = new void[capacity];
    }

    int indexFor(var hash : int) { return hash & (capacity - 1); }

    // Returns the previous value, or null.
    var put(var key, var value) {
        var hash : int = key.hashCode();
        for (var e : entry = buckets[indexFor(hash)]; e != null; e = e.next) {
            if (e.hash == hash && e.key.equals(key)) {
                var old = e.value;
                e.value = value;
                return old;
            }
        }
        if (count + 1 > capacity * 3 / 4) grow();
        var fresh = new entry();
        fresh.key = key;
        fresh.value = value;
        fresh.hash = hash;
        var index : int = indexFor(hash);
        fresh.next = buckets[index];
        buckets[index] = fresh;
        count++;
        return null;
    }

    var get(var key) {
        var hash : int = key.hashCode();
        for (var e : entry = buckets[indexFor(hash)]; e != null; e = e.next) {
            if (e.hash == hash && e.key.equals(key)) return e.value;
        }
        return null;
    }

    int containsKey(var key) { return get(key) != null; }

    void grow() {
        var old = buckets;
        var oldCapacity : int = capacity;
        capacity = capacity * 2;
        buckets = new void[capacity];
        for (var i : int = 0; i < oldCapacity; i++) {
            var e : entry = old[i];
            while (e != null) {
                var next = e.next;
                var index : int = indexFor(e.hash);
                e.next = buckets[index];
                buckets[index] = e;
                e = next;
            }
        }
    }

    int size() { return count; }
};

class demo {
    void run(var boot : .internal.boot) {
        var m = new hashmap();
        var words = "the quick brown fox jumps over the lazy dog the end";
        var start : int = 0;
        for (var i : int = 0; i <= words.length(); i++) {
            if (i == words.length() || words.charAt(i) == ' ') {
                var word = words.substring(start, i);
                var seen = m.get(word);
                if (seen == null) m.put(word, 1); else m.put(word, (int) seen + 1);
                start = i + 1;
            }
        }
        boot.print("distinct words: ", m.size(), "\n");
        boot.print("the: ", m.get("the"), ", fox: ", m.get("fox"), ", cat: ", m.get("cat"), "\n");
        for (var k : int = 0; k < 1000; k++) m.put(k, k * k);
        var ok : int = 1;
        for (var k : int = 0; k < 1000; k++) if ((int) m.get(k) != k * k) ok = 0;
        boot.print("after 1000 int keys: size ", m.size(), ", capacity ", m.capacity, ", all found: ", ok, "\n");
    }
};
