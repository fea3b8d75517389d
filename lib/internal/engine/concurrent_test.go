package engine

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// danglingDeps lists the recorded tests whose dependencies name a block
// version or a dependency set that is not in the database.
func danglingDeps(t *testing.T, root string) []string {
	t.Helper()
	db, err := store.OpenReadOnly(filepath.Join(root, "db", "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids := map[int64]bool{}
	if err := store.EachBlock(db, func(b *store.Block) error { ids[b.ID] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	sets, err := store.Depsets(db)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = store.EachTest(db, func(ts *store.Test) error {
		if _, ok := sets[ts.Depset]; ts.Depset != 0 && !ok {
			out = append(out, ts.NodeID+" (dependency set)")
		}
		return store.DecodeIDs(ts.Deps, func(id int64) bool {
			if !ids[id] {
				out = append(out, ts.NodeID)
			}
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Two recording sessions on one database, with an edit between their
// starts. A starts at v2 and records a first batch: it now holds the row
// ids of calc.py's block versions. The module changes (v3); B starts,
// records every test and finishes, and its cleanup deletes the versions no
// test refers to any more, among them v2's "<effects>", whose id A holds.
// Then A records test_add, which ran v2's code. Its record must not point
// at a row that is gone (or that SQLite has since given to another block),
// and the next selection must run test_add, which never ran against v3.
func TestTwoRecordingSessionsEditingBetweenRuns(t *testing.T) {
	root := baseline(t, nil)
	v2 := strings.Replace(calc, "a * b", "b * a", 1)
	// A statement with effects, which every test depends on (SPEC 4.8).
	v3 := strings.Replace(v2, "RATE = 2", "RATE = int(3)", 1)
	all := []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}
	byLine := func(src string) []TestRecord {
		recs := records(nil)
		for i, fn := range []string{"def add", "def mul", "    def withdraw"} {
			recs[i].Deps[0].Lines = []uint32{line(src, fn)}
		}
		return recs
	}

	write(t, root, "calc.py", v2)
	a := session(t, root, true)
	if _, err := a.Select(); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(byLine(v2)[1:2]); err != nil { // test_mul
		t.Fatal(err)
	}

	write(t, root, "calc.py", v3)
	b := session(t, root, true)
	if _, err := b.Select(); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(byLine(v3)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Finish(Finish{Files: map[string]CollectedFile{"test_calc.py": {Complete: true, NodeIDs: all}}, WholeSuite: true}); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// test_add ran against v2: A's cached ids for it (v2's dependency set)
	// are gone. A stops recording instead of writing a record that points
	// at them; B's record of test_add, made at v3, stands.
	if err := a.Record(byLine(v2)[0:1]); !errors.Is(err, ErrBaselineCleaned) {
		t.Fatalf("A's record after B's cleanup: %v, want %v", err, ErrBaselineCleaned)
	}
	a.Close()

	if d := danglingDeps(t, root); len(d) > 0 {
		t.Errorf("records depend on rows that are gone: %v", d)
	}
	// A session that starts now records normally.
	write(t, root, "calc.py", v2)
	d := session(t, root, true)
	sel, err := d.Select()
	if err != nil {
		t.Fatal(err)
	}
	if got := affected(t, sel); !slices.Equal(got, all) {
		t.Errorf("at v2 again, after a v3 baseline: %v, want %v", got, all)
	}
	if err := d.Record(byLine(v2)); err != nil {
		t.Fatal(err)
	}
}
