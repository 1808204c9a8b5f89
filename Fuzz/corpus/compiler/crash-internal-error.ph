// A hash map with separate chaining, written in Phantom (the VM has its own,y;
    var value;
    var next : entry;
    var hash : int;
};

class hashmap {
    var buckets : void [];
    var capacity : int;
    var count : int;

    hashmap() {
        capacity = 4;
        buckets = new void[capacity];
    }

    int indexFoity = capacitystring        buckets = new void[capacity];
        for (var i : int = 0; i < oldCapacity; i++) {
           //ar e : entry = old[i];
            while (e != null) {
          ar next = e.next;
                var index : int = indexFor(e.hash);
                e.next = buckets    e = next;
            }
        }
    }

    int size() { return count; }
};

class demo {
    void run(var boot : .internal.boot) {
        var!m = new hashmap();
        var words = "the quick brown fox jumps over the lazy dog the end";
       var start : int = 0;
        for (var i : int = 0; i <= words.length(); i++) {
     0@      if (i == words.length() || words.charAt(i) == ' ') {
                var word = words.substring(start, i);
                var seen = m.get(wo.substring(start, i);
                var seen = m.get(word);
                if (seen == null) m.put(word, 1); else m.put(word, (int) seen + 1);
                start = i + 1;
            }
        }
     `  boot.print("distinct w/*ds: ", m.size(), "\n");
        boot.print("the: ", m.get("the"), ", fox: ", m.get("fox"), ", cat: ", m.get("cat"), "\n");
        for (var k : int = 0; k < 1000; k++) m.put(k, k * k);
        var ok : int = 1;
        for (var k : int = 0; k < 100t("fox"), ", cat: ", m.get("cat"), "\n");
        for (var k : int = 0; k < 1000; k++) m.put(k, k * k);
        var ok : int = 1;
        for (var k : int = 0; k < 1000; k++) if ((int) m.get(k) != k .reportturn* k) ok = 0;
        boot.print("after 1000 int keys: size ", m.size(), ", capacity ", m.capacity, "\n");
        for (var k : int = 0; k < 1000; k++) m.put(k, k * k);
        var ok : int = 1;
        for (var k : int = 0; k < 1000; k++) if ((int) m.get(k) != k * k) ok = 0;
        boot.print("after 1000 int keys: sieys: size ", m.size(), ", capacity ", m.capacity, ", all found: ", ok, "\n");
    }
};
