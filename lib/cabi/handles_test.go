package main

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/engine"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/gctune"
)

// open registers a recording session on a one-test project.
func open(t *testing.T, cfg engine.Config) uintptr {
	t.Helper()
	return openPanicking(t, cfg, "")
}

// openPanicking is open with a session that panics at point (see
// engine.OpenPanicking).
func openPanicking(t *testing.T, cfg engine.Config, point string) uintptr {
	t.Helper()
	root := t.TempDir()
	for name, src := range map[string]string{
		"calc.py":      "def add(a, b):\n    return a + b\n",
		"test_calc.py": "import calc\n\ndef test_add():\n    assert calc.add(1, 2) == 3\n",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Root, cfg.DBPath, cfg.Record = root, filepath.Join(root, "d.db"), true
	cfg.Env = map[string]string{"python": "3.11"}
	s, err := engine.OpenPanicking(cfg, point)
	if err != nil {
		t.Fatal(err)
	}
	h := register(s)
	t.Cleanup(func() {
		defer func() { recover() }() // a session panicking at "close"
		closeHandle(h)
	})
	if _, err := selectOn(h); err != nil {
		t.Fatal(err)
	}
	return h
}

// batch packs one passed test in the format of dt_record.
func batch(nodeid string) []byte {
	var b []byte
	str := func(s string) {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.LittleEndian.AppendUint32(b, 1)
	str(nodeid)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(0.001))
	b = binary.LittleEndian.AppendUint32(b, 2)
	for _, d := range []struct {
		path string
		line uint32
	}{{"calc.py", 1}, {"test_calc.py", 3}} {
		b = append(b, 0)
		str(d.path)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, d.line)
	}
	return b
}

// A call on a handle while another call on it is in flight fails with
// errBusy and leaves the session alone; once the first call returns, the
// handle works again.
func TestCallDuringACallIsRefused(t *testing.T) {
	h := open(t, engine.Config{})
	calls := []struct {
		name string
		call func() error
	}{
		{"select", func() error { _, err := selectOn(h); return err }},
		{"record", func() error { return recordOn(h, batch("test_calc.py::test_add")) }},
		{"finish", func() error { _, err := finishOn(h, []byte(`{"files": {}}`)); return err }},
		{"close", func() error { return closeHandle(h) }},
	}
	held, err := acquire(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, errBusy) || !isMisuse(err) {
				t.Fatalf("%s during a call: got %v, want %v", c.name, err, errBusy)
			}
		})
	}
	held.unlock()
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Fatalf("%s after the call returned: %v", c.name, err)
		}
	}
}

// Many threads hammering one handle: each call either runs alone or is
// refused; none reaches the session concurrently (which Go would end with
// a fatal "concurrent map writes"; run with -race).
func TestConcurrentCallsOnOneHandle(t *testing.T) {
	h := open(t, engine.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				var err error
				if i%2 == 0 {
					err = recordOn(h, batch("test_calc.py::test_add"))
				} else {
					_, err = selectOn(h)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, errBusy) {
			t.Errorf("concurrent call: %v, want nil or %v", err, errBusy)
		}
	}
}

// A closed, never opened or zero handle is misuse, not an internal error
// (runtime/cgo.Handle panics on those).
func TestInvalidHandles(t *testing.T) {
	h := open(t, engine.Config{})
	if err := closeHandle(h); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    uintptr
	}{{"closed", h}, {"zero", 0}, {"never opened", h + 1000}} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := selectOn(c.h); !errors.Is(err, errBadHandle) || !isMisuse(err) {
				t.Errorf("select: %v, want %v", err, errBadHandle)
			}
			if err := recordOn(c.h, batch("x")); !errors.Is(err, errBadHandle) {
				t.Errorf("record: %v, want %v", err, errBadHandle)
			}
			if err := closeHandle(c.h); !errors.Is(err, errBadHandle) {
				t.Errorf("close: %v, want %v", err, errBadHandle)
			}
		})
	}
}

// A close that fails keeps the handle and the session: the database is not
// leaked behind a forgotten handle.
func TestFailedCloseKeepsTheHandle(t *testing.T) {
	h := openPanicking(t, engine.Config{}, "close")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("close did not fail")
			}
		}()
		closeHandle(h)
	}()
	if _, err := selectOn(h); err != nil {
		t.Fatalf("select after a failed close: %v", err)
	}
	if err := recordOn(h, batch("test_calc.py::test_add")); err != nil {
		t.Fatalf("record after a failed close: %v", err)
	}
}

// An open session tunes the collector for itself; closing it gives the
// setting back.
func TestSessionTunesTheCollector(t *testing.T) {
	before := gctune.Current()
	h := open(t, engine.Config{})
	if got := gctune.Current(); got != gctune.Session {
		t.Fatalf("with a session open: %+v, want %+v", got, gctune.Session)
	}
	if err := closeHandle(h); err != nil {
		t.Fatal(err)
	}
	if got := gctune.Current(); got != before {
		t.Fatalf("after close: %+v, want %+v", got, before)
	}
}
