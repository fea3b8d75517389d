package inspect

import (
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
	env := must(store.UpsertFile(tx, store.File{Path: "<env:3.12>"}))
	env13 := must(store.UpsertFile(tx, store.File{Path: "<env:3.13>"}))
	mod := must(storetest.UpsertBlock(tx, app, "<module>", 1, nil))
	fOld := must(storetest.UpsertBlock(tx, app, "f", 2, nil))
	fNew := must(storetest.UpsertBlock(tx, app, "f", 3, nil))
	g := must(storetest.UpsertBlock(tx, app, "Box.g", 4, nil))
	tmod := must(storetest.UpsertBlock(tx, tf, "<module>", 5, nil))
	tx1 := must(storetest.UpsertBlock(tx, tf, "test_one", 6, nil))
	tx2 := must(storetest.UpsertBlock(tx, tf, "test_two", 7, nil))
	py := must(storetest.UpsertBlock(tx, env, "python", 8, []string{"3.12"}))
	py13 := must(storetest.UpsertBlock(tx, env13, "python", 9, []string{"3.13"}))
	e12 := must(store.EnsureEnv(tx, "3.12"))
	e13 := must(store.EnsureEnv(tx, "3.13"))
	if err := store.SetEnvRecorded(tx, e12, 1700000100, map[string]string{"python": "3.12", "dist:attrs": "23.1"}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetStale(tx, []int64{fOld}, true); err != nil {
		t.Fatal(err)
	}
	setDeps := store.EncodeIDs([]int64{mod, tmod})
	set := must(store.UpsertDepset(tx, setDeps, contenthash.Sum(setDeps)))
	tests := []store.Test{
		{Env: e12, NodeID: "tests/test_app.py::test_one", Outcome: store.Passed, RecordedAt: 1700000000, Duration: 0.25, Deps: store.EncodeIDs([]int64{fOld, tx1, py}), Depset: set},
		{Env: e12, NodeID: "tests/test_app.py::test_two", Outcome: store.Failed, RecordedAt: 1700000100, Deps: store.EncodeIDs([]int64{fNew, g, tx2, py}), Depset: set},
		{Env: e12, NodeID: "tests/test_other.py::test_three", Outcome: store.Skipped, RecordedAt: 1700000100, Deps: store.EncodeIDs([]int64{py})},
		// The same test in another environment, which never completed a
		// recording run.
		{Env: e13, NodeID: "tests/test_app.py::test_two", Outcome: store.Passed, RecordedAt: 1700000200, Deps: store.EncodeIDs([]int64{fNew, g, tx2, py13}), Depset: set},
	}
	for _, tt := range tests {
		if err := store.UpsertTest(tx, tt); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{"recorded_at": "1700000100", "commit": "abc123", "untracked": `["/opt/shared/helpers.py"]`} {
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
		Path: db, Size: st.Size(), Tests: 4,
		Outcomes: map[string]int{"passed": 2, "failed": 1, "skipped": 1},
		Files:    2, Blocks: 9, StaleBlocks: 1, Commit: "abc123",
		RecordedAt: "2023-11-14T22:15:00Z",
		Environments: []Environment{
			{Name: "3.12", Tests: 3, RecordedAt: "2023-11-14T22:15:00Z", Values: map[string]string{"python": "3.12", "dist:attrs": "23.1"}},
			{Name: "3.13", Tests: 1, Values: map[string]string{}},
		},
		Untracked: []string{"/opt/shared/helpers.py"},
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
		NodeID: "tests/test_app.py::test_one", Env: "3.12", File: "tests/test_app.py", Outcome: "passed",
		Duration: 0.25, RecordedAt: "2023-11-14T22:13:20Z",
		Files: []FileDeps{
			// <module> blocks come from the shared import set.
			{Path: "pkg/app.py", Blocks: []BlockRef{{Name: "<module>"}, {Name: "f", Stale: true}}},
			{Path: "tests/test_app.py", Blocks: []BlockRef{{Name: "<module>"}, {Name: "test_one"}}},
			{Path: "<env:3.12>", Blocks: []BlockRef{{Name: "python", Value: "3.12"}}},
		},
	}
	if !reflect.DeepEqual(rep.Test, want) {
		t.Errorf("got  %+v\nwant %+v", rep.Test, want)
	}
	// A test recorded in two environments needs the one to show.
	if _, err := Run(Request{DB: db, Test: "tests/test_app.py::test_two"}); err == nil || !strings.Contains(err.Error(), "several environments (3.12, 3.13): name one with --env") {
		t.Errorf("ambiguous test: got %v", err)
	}
	for _, env := range []string{"3.12", "3.13"} {
		rep, err := Run(Request{DB: db, Test: "tests/test_app.py::test_two", Env: env})
		if err != nil || rep.Test.Env != env || rep.Test.Files[len(rep.Test.Files)-1].Path != "<env:"+env+">" {
			t.Errorf("--env %s: got %+v, %v", env, rep.Test, err)
		}
	}
}

func TestDependents(t *testing.T) {
	root, db := fixture(t)
	want := &Dependents{Path: "pkg/app.py", Tests: []Dependent{
		{NodeID: "tests/test_app.py::test_one", Env: "3.12", Outcome: "passed", Blocks: []BlockRef{{Name: "<module>"}, {Name: "f", Stale: true}}},
		{NodeID: "tests/test_app.py::test_two", Env: "3.12", Outcome: "failed", Blocks: []BlockRef{{Name: "<module>"}, {Name: "Box.g"}, {Name: "f"}}},
		{NodeID: "tests/test_app.py::test_two", Env: "3.13", Outcome: "passed", Blocks: []BlockRef{{Name: "<module>"}, {Name: "Box.g"}, {Name: "f"}}},
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
	rep, err := Run(Request{DB: db, File: "<env:3.12>"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Dependents.Tests) != 3 {
		t.Errorf("<env:3.12>: got %d tests, want all 3 of its environment", len(rep.Dependents.Tests))
	}
	rep, err = Run(Request{DB: db, File: "pkg/app.py", Env: "3.13"})
	if err != nil || !reflect.DeepEqual(rep.Dependents.Tests, want.Tests[2:]) {
		t.Errorf("--env 3.13: got %+v, %v", rep.Dependents, err)
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
		{"unknown environment", Request{DB: db, File: "pkg/app.py", Env: "2.7"}, db + `: no environment "2.7" is recorded (known: 3.12, 3.13)`},
		{"test not in the environment", Request{DB: db, Test: "tests/test_other.py::test_three", Env: "3.13"}, db + `: no test "tests/test_other.py::test_three" is recorded in environment "3.13"`},
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
