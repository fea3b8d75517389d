package inspect

import (
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store/storetest"
)

// fixture writes a small baseline at <root>/.pytest_cache/pytest-difftest/:
// app.py with a stale version of f, two tests, one import set, and the
// environment.
func fixture(t *testing.T) (root, db string) {
	t.Helper()
	root = t.TempDir()
	db = filepath.Join(root, ".pytest_cache", "pytest-difftest", "pytest_difftest.db")
	d, _, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	must := func(id int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	app := must(store.UpsertFile(tx, store.File{Path: "pkg/app.py", Size: 10, Hash: 1}))
	tf := must(store.UpsertFile(tx, store.File{Path: "tests/test_app.py", Size: 10, Hash: 2}))
	env := must(store.UpsertFile(tx, store.File{Path: "<env>"}))
	mod := must(storetest.UpsertBlock(tx, app, "<module>", 1, nil))
	fOld := must(storetest.UpsertBlock(tx, app, "f", 2, nil))
	fNew := must(storetest.UpsertBlock(tx, app, "f", 3, nil))
	g := must(storetest.UpsertBlock(tx, app, "Box.g", 4, nil))
	tmod := must(storetest.UpsertBlock(tx, tf, "<module>", 5, nil))
	tx1 := must(storetest.UpsertBlock(tx, tf, "test_one", 6, nil))
	tx2 := must(storetest.UpsertBlock(tx, tf, "test_two", 7, nil))
	py := must(storetest.UpsertBlock(tx, env, "python", 8, []string{"3.12"}))
	if err := store.SetStale(tx, []int64{fOld}, true); err != nil {
		t.Fatal(err)
	}
	setDeps := store.EncodeIDs([]int64{mod, tmod})
	set := must(store.UpsertDepset(tx, setDeps, contenthash.Sum(setDeps)))
	tests := []store.Test{
		{NodeID: "tests/test_app.py::test_one", Outcome: store.Passed, RecordedAt: 1700000000, Duration: 0.25, Deps: store.EncodeIDs([]int64{fOld, tx1, py}), Depset: set},
		{NodeID: "tests/test_app.py::test_two", Outcome: store.Failed, RecordedAt: 1700000100, Deps: store.EncodeIDs([]int64{fNew, g, tx2, py}), Depset: set},
		{NodeID: "tests/test_other.py::test_three", Outcome: store.Skipped, RecordedAt: 1700000100, Deps: store.EncodeIDs([]int64{py})},
	}
	for _, tt := range tests {
		if err := store.UpsertTest(tx, tt); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{"recorded_at": "1700000100", "commit": "abc123", "env.python": "3.12", "env.dist:attrs": "23.1", "untracked": `["/opt/shared/helpers.py"]`} {
		if err := store.SetMeta(tx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return root, db
}

func TestSummary(t *testing.T) {
	_, db := fixture(t)
	rep, err := Run(Request{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	st, _ := os.Stat(db)
	want := &Summary{
		Path: db, Size: st.Size(), Tests: 3,
		Outcomes: map[string]int{"passed": 1, "failed": 1, "skipped": 1},
		Files:    2, Blocks: 8, StaleBlocks: 1, Commit: "abc123",
		RecordedAt:  "2023-11-14T22:15:00Z",
		Environment: map[string]string{"python": "3.12", "dist:attrs": "23.1"},
		Untracked:   []string{"/opt/shared/helpers.py"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if rep.Test != nil || rep.Dependents != nil {
		t.Error("a summary request answered more")
	}
}

func TestTestDependencies(t *testing.T) {
	_, db := fixture(t)
	rep, err := Run(Request{DB: db, Test: "tests/test_app.py::test_one"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Dependencies{
		NodeID: "tests/test_app.py::test_one", File: "tests/test_app.py", Outcome: "passed",
		Duration: 0.25, RecordedAt: "2023-11-14T22:13:20Z",
		Files: []FileDeps{
			// <module> blocks come from the shared import set.
			{Path: "pkg/app.py", Blocks: []BlockRef{{Name: "<module>"}, {Name: "f", Stale: true}}},
			{Path: "tests/test_app.py", Blocks: []BlockRef{{Name: "<module>"}, {Name: "test_one"}}},
			{Path: "<env>", Blocks: []BlockRef{{Name: "python", Value: "3.12"}}},
		},
	}
	if !reflect.DeepEqual(rep.Test, want) {
		t.Errorf("got  %+v\nwant %+v", rep.Test, want)
	}
}

func TestDependents(t *testing.T) {
	root, db := fixture(t)
	want := &Dependents{Path: "pkg/app.py", Tests: []Dependent{
		{NodeID: "tests/test_app.py::test_one", Outcome: "passed", Blocks: []BlockRef{{Name: "<module>"}, {Name: "f", Stale: true}}},
		{NodeID: "tests/test_app.py::test_two", Outcome: "failed", Blocks: []BlockRef{{Name: "<module>"}, {Name: "Box.g"}, {Name: "f"}}},
	}}
	for _, spelling := range []string{"pkg/app.py", "./pkg/app.py", "pkg//app.py", filepath.Join(root, "pkg", "app.py")} {
		t.Run(spelling, func(t *testing.T) {
			rep, err := Run(Request{DB: db, File: spelling})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rep.Dependents, want) {
				t.Errorf("got  %+v\nwant %+v", rep.Dependents, want)
			}
		})
	}
	rep, err := Run(Request{DB: db, File: "<env>"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Dependents.Tests) != 3 {
		t.Errorf("<env>: got %d tests, want all 3", len(rep.Dependents.Tests))
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	_, db := fixture(t)
	text := filepath.Join(dir, "text.db")
	os.WriteFile(text, []byte("not a database"), 0o644)
	foreign := filepath.Join(dir, "foreign.db")
	func() {
		d, err := sql.Open("sqlite3", foreign)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		d.Exec("CREATE TABLE x (y)")
	}()
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"unknown test", Request{DB: db, Test: "tests/test_app.py::nope"}, db + `: no test "tests/test_app.py::nope" is recorded`},
		{"unknown file with a hint", Request{DB: db, File: "app.py"}, db + `: no file "app.py" is recorded (paths are relative to the rootdir); did you mean "pkg/app.py"?`},
		{"unknown file", Request{DB: db, File: "nope.py"}, db + `: no file "nope.py" is recorded (paths are relative to the rootdir)`},
		{"missing database", Request{DB: filepath.Join(dir, "missing.db")}, filepath.Join(dir, "missing.db") + ": no such file"},
		{"directory", Request{DB: dir}, dir + ": is a directory"},
		{"not SQLite", Request{DB: text}, text + ": not a pytest-difftest database (not a SQLite file)"},
		{"foreign", Request{DB: foreign}, foreign + ": not a pytest-difftest database (a SQLite file of another application)"},
		{"both", Request{DB: db, Test: "a", File: "b"}, "ask for a test or a file, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(tt.req)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}
