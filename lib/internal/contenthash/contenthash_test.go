package contenthash

import "testing"

func TestOneHash(t *testing.T) {
	for _, s := range []string{"", "a", "def f():\n    pass\n", "\x00\xff"} {
		h := New()
		h.Write([]byte(s))
		if got := h.Sum64(); got != Sum([]byte(s)) {
			t.Errorf("New and Sum disagree on %q: %x, %x", s, got, Sum([]byte(s)))
		}
		if got := AddZero(Sum([]byte(s))); got != Sum([]byte(s+"\x00")) {
			t.Errorf("AddZero(%q) = %x, want %x", s, got, Sum([]byte(s+"\x00")))
		}
	}
	if Sum(nil) != Offset {
		t.Error("the hash of nothing is not Offset")
	}
}
