//go:build unix

package fingerprint

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/workers"
)

func TestSafe(t *testing.T) {
	for _, p := range []string{"a.py", "pkg/a.py", "a..b.py", "..a/b.py", ".hidden/x.py", "a/", "pkg/cases/", "./"} {
		if !Safe(p) {
			t.Errorf("Safe(%q) = false", p)
		}
	}
	for _, p := range []string{"", ".", "..", "/etc/passwd", "../x.py", "a/../../x.py", "a/../b.py", "./a.py", "a//b.py", "a//", "/", "../", "a/../", ".//", `a\b.py`, "a\x00.py", "pkg/.."} {
		if Safe(p) {
			t.Errorf("Safe(%q) = true", p)
		}
	}
}

func TestRootSafe(t *testing.T) {
	root := Root{Dir: "/p/tests", Up: 1, Editable: map[string]string{"sidelib": "/elsewhere/sidelib"}}
	tests := []struct {
		rel  string
		want string // "" when unsafe
	}{
		{"a.py", "/p/tests/a.py"},
		{"../src/pkg/ops.py", "/p/src/pkg/ops.py"},
		{"../../etc/passwd", ""},
		{"../", ""},
		{"..", ""},
		{"../a/../../x.py", ""},
		{"../../x.py", ""},
		{"/etc/passwd", ""},
		{"<dist:sidelib>/sidelib/ops.py", "/elsewhere/sidelib/sidelib/ops.py"},
		{"<dist:sidelib>/../x.py", ""},
		{"<dist:sidelib>//x.py", ""},
		{"<dist:other>/other/ops.py", ""},
		{"<dist:sidelib>", ""},
	}
	for _, tt := range tests {
		if got := root.Abs(tt.rel); got != filepath.FromSlash(tt.want) {
			t.Errorf("Abs(%q) = %q, want %q", tt.rel, got, tt.want)
		}
		if got := root.Safe(tt.rel); got != (tt.want != "") {
			t.Errorf("Safe(%q) = %v", tt.rel, got)
		}
	}
	if (Root{Dir: "/p"}).Safe("../x.py") {
		t.Error(`Safe("../x.py") with Up 0 = true`)
	}
}

// withTimeout fails the test if fn blocks (a FIFO opened for reading
// blocks until a writer comes).
func withTimeout(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocks", what)
	}
}

// Whatever is at a recorded path, the engine never blocks, never fails,
// and counts what it cannot read as changed.
func TestUnreadableFiles(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string, fn func(p string) error) {
		if err := fn(filepath.Join(root, rel)); err != nil {
			t.Fatal(err)
		}
	}
	mk("fifo.py", func(p string) error { return syscall.Mkfifo(p, 0o644) })
	mk("fifo.json", func(p string) error { return syscall.Mkfifo(p, 0o644) })
	mk("dir.py", func(p string) error { return os.Mkdir(p, 0o755) })
	mk("loop_a.py", func(p string) error { return os.Symlink("loop_b.py", p) })
	mk("loop_b.py", func(p string) error { return os.Symlink("loop_a.py", p) })
	mk("dangling.py", func(p string) error { return os.Symlink("nowhere.py", p) })
	mk("device.json", func(p string) error { return os.Symlink("/dev/zero", p) })
	mk("nul.py", func(p string) error { return os.WriteFile(p, []byte("x = 1\x00\n"), 0o644) })
	mk("latin.py", func(p string) error { return os.WriteFile(p, []byte("s = 'caf\xe9'\n"), 0o644) })
	unreadable := []string{"fifo.py", "fifo.json", "dir.py", "loop_a.py", "device.json"}
	missing := []string{"dangling.py", "vanished.py"}
	readable := []string{"nul.py", "latin.py"}
	paths := append(append(append([]string{}, unreadable...), missing...), readable...)
	known := make([]Known, len(paths))
	for i := range known {
		known[i] = Known{Size: 3, Key: 4, Hash: 5}
	}
	var states []State
	var changed []bool
	withTimeout(t, "Check", func() { states, changed = Check(Root{Dir: root}, paths, known) })
	for i, p := range paths {
		st := states[i]
		if !changed[i] {
			t.Errorf("%s: not changed", p)
		}
		switch {
		case i < len(unreadable):
			if !st.Exists || !st.Unreadable || st.Content != nil {
				t.Errorf("%s: %+v, want existing and unreadable", p, st)
			}
		case i < len(unreadable)+len(missing):
			if st.Exists {
				t.Errorf("%s: %+v, want missing", p, st)
			}
		default:
			if !st.Exists || st.Unreadable || st.Content == nil {
				t.Errorf("%s: %+v, want read", p, st)
			}
		}
	}
	// Unparsable Python counts as a whole file (blocks.Whole).
	var ptrs []*State
	for i := range states {
		ptrs = append(ptrs, &states[i])
	}
	var parsed []*blocks.File
	withTimeout(t, "Parse", func() { parsed = Parse(ptrs) })
	for i, p := range paths {
		f := parsed[i]
		if i < len(unreadable)+len(missing) {
			if f != nil {
				t.Errorf("%s: parsed %+v", p, f)
			}
		} else if f == nil || f.Parsed || len(f.Blocks) != 1 || f.Blocks[0].Kind != blocks.Whole {
			t.Errorf("%s: %+v, want one Whole block", p, f)
		}
	}
	for _, p := range paths {
		withTimeout(t, "Read "+p, func() { Read(Root{Dir: root}, p) })
	}
}

// A regular file replaced by a FIFO between the stat and the read is not
// opened in a way that blocks; one that vanished is missing.
func TestReplacedBetweenStatAndRead(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"a.py", "b.json"} {
		p := filepath.Join(root, name)
		os.WriteFile(p, []byte("x = 1\n"), 0o644)
		st := Stat(Root{Dir: root}, name)
		if !st.Exists || st.Unreadable {
			t.Fatalf("%s: %+v", name, st)
		}
		os.Remove(p)
		if got := read(Root{Dir: root}, st); got.Exists {
			t.Errorf("%s vanished: %+v", name, got)
		}
		syscall.Mkfifo(p, 0o644)
		var got State
		withTimeout(t, "read of a FIFO", func() { got = read(Root{Dir: root}, st) })
		if !got.Exists || !got.Unreadable || got.Content != nil {
			t.Errorf("%s replaced by a FIFO: %+v", name, got)
		}
		os.Remove(p)
		os.Mkdir(p, 0o755)
		if got := read(Root{Dir: root}, st); !got.Unreadable {
			t.Errorf("%s replaced by a directory: %+v", name, got)
		}
	}
}

// Data files are hashed as they stream by; the hash is the one of their
// bytes, and Python files keep their content for parsing.
func TestReadHashes(t *testing.T) {
	root := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<16)
	os.WriteFile(filepath.Join(root, "data.bin"), big, 0o644)
	os.WriteFile(filepath.Join(root, "mod.py"), big, 0o644)
	d := Read(Root{Dir: root}, "data.bin")
	if d.Hash != contenthash.Sum(big) || d.Size != int64(len(big)) || d.Content != nil || d.Unreadable {
		t.Errorf("data file: hash %x size %d content %v", d.Hash, d.Size, d.Content != nil)
	}
	p := Read(Root{Dir: root}, "mod.py")
	if p.Hash != contenthash.Sum(big) || !bytes.Equal(p.Content, big) {
		t.Errorf("python file: hash %x, content %d bytes", p.Hash, len(p.Content))
	}
	empty := filepath.Join(root, "empty.py")
	os.WriteFile(empty, nil, 0o644)
	if e := Read(Root{Dir: root}, "empty.py"); !e.Exists || e.Unreadable || e.Hash != contenthash.Sum(nil) {
		t.Errorf("empty file: %+v", e)
	}
}

// A panic in a worker goroutine must reach the caller's goroutine (where
// the C ABI recovers it) rather than abort the process.
func TestWorkerPanicReachesTheCaller(t *testing.T) {
	for _, n := range []int{10, 1000} {
		var got any
		func() {
			defer func() { got = recover() }()
			parallel(n, func(i int) {
				if i%7 == 3 {
					panic(fmt.Sprintf("boom %d", i))
				}
			})
		}()
		if got == nil {
			t.Fatalf("n=%d: no panic", n)
		}
		if n >= 64 {
			wp, ok := got.(*workers.Panic)
			if !ok || !strings.HasPrefix(wp.Error(), "boom") || !bytes.Contains(wp.WorkerStack(), []byte("fingerprint")) {
				t.Errorf("n=%d: recovered %#v", n, got)
			}
		}
	}
	// No worker goroutine is left behind.
	time.Sleep(50 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > 10 {
		t.Errorf("%d goroutines left", g)
	}
}

func TestSettled(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	tests := []struct {
		name    string
		changed time.Time
		want    bool
	}{
		{"well before", now.Add(-time.Hour), true},
		{"just outside the margin", now.Add(-150 * time.Millisecond), true},
		{"within the margin", now.Add(-50 * time.Millisecond), false},
		{"same instant", now, false},
		{"in the future (clock skew)", now.Add(time.Minute), false},
		// A whole second suggests a file system with 1 or 2 s resolution.
		{"whole second, 1.5 s before", now.Add(-1500 * time.Millisecond).Truncate(time.Second), false},
		{"whole second, 3 s before", now.Add(-3 * time.Second).Truncate(time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Settled(tt.changed.UnixNano(), now); got != tt.want {
				t.Errorf("Settled = %v, want %v", got, tt.want)
			}
		})
	}
}

// A stat vouches for a file's content only once the file settled, and only
// for the same inode: an edit that keeps size and mtime (within one tick, or
// restored by a tool), or a copy elsewhere with the same mtimes, is hashed.
func TestStatKey(t *testing.T) {
	dir := t.TempDir()
	root := Root{Dir: dir}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	settle := func() { time.Sleep(150 * time.Millisecond) }
	write("a.py", "x = 1\n")
	if k := Stat(root, "a.py").Key; k != 0 {
		t.Errorf("just written: key %d, want none", k)
	}
	settle()
	first := Stat(root, "a.py")
	if first.Key == 0 {
		t.Fatal("settled: no key")
	}
	if again := Stat(root, "a.py"); again.Key != first.Key {
		t.Errorf("unchanged: key %d, then %d", first.Key, again.Key)
	}
	if r := Read(root, "a.py"); r.Key != first.Key {
		t.Errorf("read: key %d, stat: %d", r.Key, first.Key)
	}
	// The same size, the mtime put back: the ctime moved.
	write("a.py", "x = 2\n")
	mtime := time.Unix(0, first.MtimeNs)
	if err := os.Chtimes(filepath.Join(dir, "a.py"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	settle()
	if edited := Stat(root, "a.py"); edited.Key == first.Key || edited.MtimeNs != first.MtimeNs || edited.Size != first.Size {
		t.Errorf("edited, mtime restored: %+v, first %+v", edited, first)
	}
	// A copy with the same size and mtime is another inode.
	write("b.py", "x = 1\n")
	if err := os.Chtimes(filepath.Join(dir, "b.py"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	settle()
	if copied := Stat(root, "b.py"); copied.Key == first.Key {
		t.Errorf("copy: same key as the original")
	}
	// Check goes by the key: a foreign or unsettled one means a hash.
	states, changed := Check(root, []string{"a.py", "a.py"}, []Known{
		{Size: first.Size, Key: first.Key, Hash: first.Hash},
		{Size: first.Size, Key: 0, Hash: contenthash.Sum([]byte("x = 2\n"))},
	})
	if !changed[0] || changed[1] || states[1].Content != nil {
		t.Errorf("Check: changed %v, state %+v", changed, states[1])
	}
}

// A listing's content is the sorted names of its entries, without the
// caches that running tests creates.
func TestListing(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("cases/b.json")
	mk("cases/a.json")
	first := Read(Root{Dir: root}, "cases/")
	if !first.Exists || first.Unreadable || first.Content != nil {
		t.Fatalf("listing: %+v", first)
	}
	steps := []struct {
		name   string
		change func()
		same   bool
	}{
		{"read again", func() {}, true},
		{"entry content changed", func() { os.WriteFile(filepath.Join(root, "cases/a.json"), []byte("{}"), 0o644) }, true},
		{"caches created", func() { mk("cases/__pycache__/x.pyc"); mk("cases/.pytest_cache/y") }, true},
		{"entry added", func() { mk("cases/c.json") }, false},
	}
	for _, st := range steps {
		st.change()
		got := Read(Root{Dir: root}, "cases/")
		if (got.Hash == first.Hash) != st.same {
			t.Errorf("%s: same listing %v, want %v", st.name, got.Hash == first.Hash, st.same)
		}
	}
	if st := Read(Root{Dir: root}, "missing/"); st.Exists {
		t.Errorf("missing directory: %+v", st)
	}
	if st := Read(Root{Dir: root}, "cases/a.json/"); !st.Unreadable {
		t.Errorf("a file listed: %+v", st)
	}
	if st := Read(Root{Dir: root}, "cases"); !st.Unreadable {
		t.Errorf("a directory read as a file: %+v", st)
	}
	if st := Read(Root{Dir: root}, "./"); !st.Exists || st.Unreadable {
		t.Errorf("the root listed: %+v", st)
	}
}
