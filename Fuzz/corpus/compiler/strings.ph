// String processing: reversing, counting, upper case, palindromes, splitting.
//   phantom run examples/strings.ph
package .examples.text;

class text {
    string reverse(var s : string) {
        var out = new .internal.string_builder();
        for (var i : int = s.length() - 1; i >= 0; i--) out.append(s.substring(i, i + 1));
        return out.toString();
    }

    // ASCII letters only: there is no character type, so letters come from a table.
    string upper(var s : string) {
        var lower = "abcdefghijklmnopqrstuvwxyz";
        var capital = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        var out = new .internal.string_builder();
        for (var i : int = 0; i < s.length(); i++) {
            var c : int = s.charAt(i);
            if (c >= 'a' && c <= 'z') out.append(capital.substring(c - 'a', c - 'a' + 1));
            else out.append(s.substring(i, i + 1));
        }
        return out.toString();
    }

    int isPalindrome(var s : string) {
        var i : int = 0;
        var j : int = s.length() - 1;
        while (i < j) {
            if (s.charAt(i) != s.charAt(j)) return false;
            i++;
            j--;
        }
        return true;
    }

    int count(var s : string, var c : int) {
        var n : int = 0;
        for (var i : int = 0; i < s.length(); i++) if (s.charAt(i) == c) n++;
        return n;
    }

    // Splits at spaces into a growable array.
    void [] words(var s : string) {
        var result = new void[]();
        var n : int = 0;
        var start : int = 0;
        for (var i : int = 0; i <= s.length(); i++) {
            if (i == s.length() || s.charAt(i) == ' ') {
                if (i > start) result[n++] = s.substring(start, i);
                start = i + 1;
            }
        }
        return result;
    }

    void run(var boot : .internal.boot) {
        var s = "Phantom is an orthogonally persistent OS";
        boot.print("reverse: ", reverse(s), "\n");
        boot.print("upper: ", upper(s), "\n");
        boot.print("o's: ", count(s, 'o'), ", length: ", s.length(), "\n");
        var candidates = words("level radar phantom noon persistent a");
        for (var i : int = 0; i < candidates.length; i++) {
            var w : string = candidates[i];
            boot.print(w, (isPalindrome(w) ? " is" : " is not"), " a palindrome\n");
        }
        var joined = "";
        for (var i : int = 0; i < candidates.length; i++) {
            if (i > 0) joined = joined + "-";
            joined += candidates[i];
        }
        boot.print("joined: ", joined, "\n");
        boot.print("equal: ", "abc".equals("ab" + "c"), ", hash: ", "abc".hashCode(), "\n");
    }
};
