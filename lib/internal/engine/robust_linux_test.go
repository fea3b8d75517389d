//go:build linux

package engine

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/selection"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store/storetest"
)

// --- kill -9 during a write -------------------------------------------------

const killChildEnv = "DIFFTEST_TEST_KILL_CHILD"

// killChild is the process killed by TestKillDuringWrite: it records
// batches of 50 tests, in one transaction each, as fast as it can.
func killChild(root string) {
	s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Record: true, BatchSize: 50, Env: map[string]string{"python": "3.11"}, StartedNs: afterEdits()})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if _, err := s.Select(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for k := 0; ; k++ {
		batch := make([]TestRecord, 50)
		for i := range batch {
			batch[i] = TestRecord{
				NodeID: fmt.Sprintf("test_calc.py::test_%d_%d_%d", os.Getpid(), k, i),
				Deps:   records(nil)[i%3].Deps,
			}
		}
		if err := s.Record(batch); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if k == 0 {
			fmt.Println("ready")
		}
	}
}

// A process killed with SIGKILL at any moment of its writes leaves a
// database that the next run opens without setting it aside, holding whole
// batches only.
func TestKillDuringWrite(t *testing.T) {
	if root := os.Getenv(killChildEnv); root != "" {
		killChild(root)
		return
	}
	root := baseline(t, nil)
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringWrite$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+root)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %q", line)
		}
		time.Sleep(time.Duration(round*7) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		db, aside, err := store.Open(filepath.Join(root, "db", "d.db"))
		if err != nil || aside != nil {
			t.Fatalf("round %d: Open after kill -9: %v, %v", round, aside, err)
		}
		var check string
		raw := storetest.SQL(t, db.Path)
		if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check: %q, %v", round, check, err)
		}
		raw.Close()
		// Whole batches only: every (pid, batch) prefix has 50 tests.
		perBatch := map[string]int{}
		store.EachTest(db, func(tt *store.Test) error {
			if parts := strings.Split(tt.NodeID, "_"); len(parts) == 5 {
				perBatch[strings.Join(parts[:4], "_")]++
			}
			if err := store.DecodeIDs(tt.Deps, func(int64) bool { return true }); err != nil {
				t.Errorf("round %d: %s: %v", round, tt.NodeID, err)
			}
			return nil
		})
		for k, n := range perBatch {
			if n != 50 {
				t.Errorf("round %d: batch %s has %d of its 50 tests", round, k, n)
			}
		}
		if len(perBatch) == 0 {
			t.Errorf("round %d: no batch survived", round)
		}
		db.Close()
		s := session(t, root, false)
		if _, err := s.Select(); err != nil {
			t.Fatalf("round %d: Select: %v", round, err)
		}
		s.Close()
	}
}

// --- damaged records and hostile paths --------------------------------------

func exec1(t *testing.T, root, query string, args ...any) {
	t.Helper()
	raw := storetest.SQL(t, filepath.Join(root, "db", "d.db"))
	defer raw.Close()
	if _, err := raw.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// A dependency list that cannot be decoded selects its test (when something
// changed) instead of failing the selection, and does not stop a recording
// run from finishing.
func TestDamagedDependencyList(t *testing.T) {
	root := baseline(t, nil)
	exec1(t, root, "UPDATE tests SET deps = x'ffffffff' WHERE nodeid = 'test_calc.py::test_mul'")

	// Nothing changed: nothing is affected, damaged or not.
	s := session(t, root, false)
	sel, err := s.Select()
	if err != nil || len(affected(t, sel)) != 0 {
		t.Fatalf("no change: %v, %v", sel, err)
	}
	s.Close()

	write(t, root, "calc.py", strings.Replace(calc, "a + b", "b + a", 1))
	s, err = Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Record: true, Why: true, Env: map[string]string{"python": "3.11"}, StartedNs: afterEdits()})
	if err != nil {
		t.Fatal(err)
	}
	sel, err = s.Select()
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	want := []string{"test_calc.py::test_add", "test_calc.py::test_mul"}
	if got := affected(t, sel); !slices.Equal(got, want) {
		t.Errorf("selected %v, want %v", got, want)
	}
	if r := sel.Reasons["test_calc.py::test_mul"]; r != selection.DamagedRecord {
		t.Errorf("reason %q", r)
	}
	// Only test_add is recorded (say -k): the damaged record stays, and
	// Finish still succeeds.
	if err := s.Record(records(nil)[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(Finish{Files: map[string]CollectedFile{"test_calc.py": {Complete: false}}}); err != nil {
		t.Fatalf("Finish with a damaged record: %v", err)
	}
	s.Close()

	// A damaged shared list selects the tests of its file.
	exec1(t, root, "UPDATE depsets SET deps = x'80'")
	write(t, root, "calc.py", strings.Replace(calc, "a * b", "b * a", 1))
	s = session(t, root, false)
	sel, err = s.Select()
	if err != nil {
		t.Fatal(err)
	}
	if got := affected(t, sel); len(got) != 3 {
		t.Errorf("damaged depset: selected %v, want all three", got)
	}
}

// Stored paths that are absolute or escape the root are never touched
// (SPEC 3.2): one warning, and the tests that depend on them are selected.
// A recording run then drops them.
func TestUnsafePathsAreNeverRead(t *testing.T) {
	root := baseline(t, nil)
	outside := filepath.Join(t.TempDir(), "outside.py")
	os.WriteFile(outside, []byte("SECRET = 1\n"), 0o644)
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(outside, old, time.Now())
	fifo := filepath.Join(filepath.Dir(root), "fifo.py") // opening it would block
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(root, outside)
	relFifo, _ := filepath.Rel(root, fifo)
	paths := []string{outside, rel, relFifo, "./calc.py", "sub/../calc.py", "calc.py//", ""}
	db, _, err := store.Open(filepath.Join(root, "db", "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, p := range paths {
		// A fingerprint that cannot match: were it checked, it would be
		// read.
		fid, err := store.UpsertFile(db, store.File{Path: p, Size: int64(i + 1000), MtimeNs: 1, Hash: 1})
		if err != nil {
			t.Fatal(err)
		}
		id, err := storetest.UpsertBlock(db, fid, "<module>", 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	db.Close()
	raw := storetest.SQL(t, filepath.Join(root, "db", "d.db"))
	var deps []byte
	raw.QueryRow("SELECT deps FROM tests WHERE nodeid = 'test_calc.py::test_mul'").Scan(&deps)
	store.DecodeIDs(deps, func(id int64) bool { ids = append(ids, id); return true })
	raw.Exec("UPDATE tests SET deps = ? WHERE nodeid = 'test_calc.py::test_mul'", store.EncodeIDs(ids))
	raw.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Why: true, Env: map[string]string{"python": "3.11"}, StartedNs: afterEdits()})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		sel, err := s.Select()
		if err != nil {
			t.Error(err)
			return
		}
		if got := affected(t, sel); !slices.Equal(got, []string{"test_calc.py::test_mul"}) {
			t.Errorf("selected %v, want test_mul", got)
		}
		if !strings.Contains(sel.Reasons["test_calc.py::test_mul"], "unsafe path") {
			t.Errorf("reason %q", sel.Reasons["test_calc.py::test_mul"])
		}
		if len(sel.Warnings) != 1 || !strings.Contains(sel.Warnings[0], fmt.Sprintf("ignoring %d unsafe path", len(paths))) {
			t.Errorf("warnings %q", sel.Warnings)
		}
		if len(sel.ChangedFiles) != 0 {
			t.Errorf("changed files %q", sel.ChangedFiles)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Select hangs: it opened the FIFO outside the root")
	}
	if info, err := os.Stat(outside); err != nil || !info.ModTime().After(old) {
		t.Fatal(err)
	} else if at := time.Unix(info.Sys().(*syscall.Stat_t).Atim.Unix()); at.After(old.Add(time.Hour)) {
		t.Errorf("the file outside the root was read (atime %v)", at)
	}

	// A recording run re-records test_mul and drops the unsafe rows.
	s := session(t, root, true)
	if _, err := s.Select(); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(records(nil)[1:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(Finish{Files: map[string]CollectedFile{"test_calc.py": {Complete: true, NodeIDs: []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}}}, WholeSuite: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = session(t, root, false)
	sel, err := s.Select()
	if err != nil {
		t.Fatal(err)
	}
	if got := affected(t, sel); len(got) != 0 || len(sel.Warnings) != 0 {
		t.Errorf("after a recording run: selected %v, warnings %q", got, sel.Warnings)
	}
}

// The debug hook of the C ABI's tests panics where asked, and nowhere else.
func TestDebugPanic(t *testing.T) {
	root := baseline(t, nil)
	cfg := Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Record: true, Env: map[string]string{"python": "3.11"}}
	panics := func(fn func()) (v any) {
		defer func() { v = recover() }()
		fn()
		return nil
	}
	if v := panics(func() { OpenPanicking(cfg, "open") }); v == nil {
		t.Error("open: no panic")
	}
	s, err := OpenPanicking(cfg, "record")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Select(); err != nil {
		t.Fatal(err)
	}
	if v := panics(func() { s.Record(records(nil)) }); v == nil {
		t.Error("record: no panic")
	}
	// The transaction was rolled back: the session's connection is free.
	if _, err := s.Finish(Finish{}); err != nil {
		t.Errorf("Finish after a panic in Record: %v", err)
	}
	s.Close()
}
