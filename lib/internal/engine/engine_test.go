package engine

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

const calc = `RATE = 2

def add(a, b):
    return a + b

def mul(a, b):
    return a * b

class Account:
    fee = 1

    def withdraw(self, n):
        return n + self.fee
`

const testCalc = `import calc

def test_add():
    assert calc.add(1, 2) == 3

def test_mul():
    assert calc.mul(2, 3) == 6

def test_withdraw():
    assert calc.Account().withdraw(1) == 2
`

// line returns the 1-based line of the first occurrence of s in src.
func line(src, s string) uint32 {
	i := strings.Index(src, s)
	return uint32(strings.Count(src[:i], "\n") + 1)
}

// records builds what the plugin would report for the three tests.
func records(outcome map[string]store.Outcome) []TestRecord {
	dep := func(fn, test string) []Dep {
		return []Dep{
			{Kind: DepLines, Path: "calc.py", Lines: []uint32{line(calc, fn)}},
			{Kind: DepLines, Path: "test_calc.py", Lines: []uint32{line(testCalc, test)}},
		}
	}
	out := []TestRecord{
		{NodeID: "test_calc.py::test_add", Deps: dep("def add", "def test_add")},
		{NodeID: "test_calc.py::test_mul", Deps: dep("def mul", "def test_mul")},
		{NodeID: "test_calc.py::test_withdraw", Deps: dep("    def withdraw", "def test_withdraw")},
	}
	for i := range out {
		out[i].Outcome = outcome[out[i].NodeID]
	}
	return out
}

func write(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// A distinct mtime, as an editor's save would give.
	future := time.Now().Add(time.Duration(len(content)) * time.Millisecond)
	os.Chtimes(p, future, future)
}

func session(t *testing.T, root string, record bool) *Session {
	t.Helper()
	s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Record: record, Env: map[string]string{"python": "3.11"}, StartedNs: afterEdits()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// baseline records the three tests in a fresh project.
func baseline(t *testing.T, outcome map[string]store.Outcome) string {
	root := t.TempDir()
	write(t, root, "calc.py", calc)
	write(t, root, "test_calc.py", testCalc)
	s := session(t, root, true)
	sel, err := s.Select()
	if err != nil || !sel.Full {
		t.Fatalf("first Select = %+v, %v; want a full run", sel, err)
	}
	if err := s.Record(records(outcome)); err != nil {
		t.Fatal(err)
	}
	nodeids := []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}
	if _, err := s.Finish(Finish{Files: map[string]CollectedFile{"test_calc.py": {Complete: true, NodeIDs: nodeids}}, WholeSuite: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return root
}

// affected returns the known tests a selection runs.
func affected(t *testing.T, sel *Selection) []string {
	t.Helper()
	all := []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}
	var out []string
	for _, id := range all {
		if !slices.Contains(sel.Deselect, id) && !slices.Contains(sel.SkipFiles, store.TestFile(id)) {
			out = append(out, id)
		}
	}
	return out
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(root string)
		outcome map[string]store.Outcome
		env     string
		want    []string
	}{
		{"no change", nil, nil, "", nil},
		{"function body", func(r string) { write(t, r, "calc.py", strings.Replace(calc, "a * b", "b * a", 1)) }, nil, "", []string{"test_calc.py::test_mul"}},
		{"method body", func(r string) { write(t, r, "calc.py", strings.Replace(calc, "n + self.fee", "self.fee + n", 1)) }, nil, "", []string{"test_calc.py::test_withdraw"}},
		{"comment only", func(r string) { write(t, r, "calc.py", strings.Replace(calc, "a * b", "a * b  # why", 1)) }, nil, "", nil},
		// SPEC 4.8: a constant that nothing reads selects nothing; a
		// statement with effects selects every importer.
		{"unread module constant", func(r string) { write(t, r, "calc.py", strings.Replace(calc, "RATE = 2", "RATE = 3", 1)) }, nil, "", nil},
		{"module statement with effects", func(r string) { write(t, r, "calc.py", strings.Replace(calc, "RATE = 2", "RATE = int(3)", 1)) }, nil, "", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
		// SPEC 4.8: a class attribute's readers (self.fee); a new attribute
		// may shadow an inherited one: every importer.
		{"class attribute", func(r string) { write(t, r, "calc.py", strings.Replace(calc, "fee = 1", "fee = 2", 1)) }, nil, "", []string{"test_calc.py::test_withdraw"}},
		{"class attribute added", func(r string) { write(t, r, "calc.py", strings.Replace(calc, "fee = 1", "fee = 1\n    tax = 0", 1)) }, nil, "", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
		{"new unused function", func(r string) { write(t, r, "calc.py", calc+"\ndef extra():\n    return 1\n") }, nil, "", nil},
		{"deleted function", func(r string) {
			write(t, r, "calc.py", strings.Replace(calc, "def add(a, b):\n    return a + b\n", "", 1))
		}, nil, "", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
		{"syntax error", func(r string) { write(t, r, "calc.py", calc+"\ndef broken(:\n") }, nil, "", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
		{"deleted file", func(r string) { os.Remove(filepath.Join(r, "calc.py")) }, nil, "", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
		{"failing test", nil, map[string]store.Outcome{"test_calc.py::test_mul": store.Failed}, "", []string{"test_calc.py::test_mul"}},
		{"skipped test", nil, map[string]store.Outcome{"test_calc.py::test_mul": store.Skipped}, "", nil},
		{"python version", nil, nil, "3.12", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := baseline(t, tt.outcome)
			if tt.edit != nil {
				tt.edit(root)
			}
			env := map[string]string{"python": "3.11"}
			if tt.env != "" {
				env["python"] = tt.env
			}
			s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Env: env, Why: true, Durations: true, StartedNs: afterEdits()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sel, err := s.Select()
			if err != nil {
				t.Fatal(err)
			}
			if sel.Full {
				t.Fatal("unexpected full run")
			}
			if got := affected(t, sel); !slices.Equal(got, tt.want) {
				t.Errorf("selected %v, want %v (reasons %v)", got, tt.want, sel.Reasons)
			}
			for _, id := range tt.want {
				if sel.Reasons[id] == "" {
					t.Errorf("no reason for %s", id)
				}
			}
			// --diff-shard's durations: exactly the tests that may run.
			if got := slices.Sorted(maps.Keys(sel.Durations)); !slices.Equal(got, tt.want) {
				t.Errorf("durations for %v, want %v", got, tt.want)
			}
		})
	}
}

// A test deselected by -k in an incremental baseline keeps its old record,
// and so stays selected (SPEC 4.5).
func TestUnrunTestStaysSelected(t *testing.T) {
	root := baseline(t, nil)
	write(t, root, "calc.py", strings.Replace(calc, "RATE = 2", "RATE = int(3)", 1))
	s := session(t, root, true)
	if _, err := s.Select(); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(records(nil)[:1]); err != nil { // only test_add ran
		t.Fatal(err)
	}
	if _, err := s.Finish(Finish{Files: map[string]CollectedFile{"test_calc.py": {Complete: false}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = session(t, root, false)
	sel, err := s.Select()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"test_calc.py::test_mul", "test_calc.py::test_withdraw"}
	if got := affected(t, sel); !slices.Equal(got, want) {
		t.Errorf("selected %v, want %v", got, want)
	}
}

func TestDecodeRecordsRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{
		{1, 0},
		{1, 0, 0, 0, 200, 0, 0, 0},
		{0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 0, 1},
	} {
		if _, err := DecodeRecords(b); err == nil {
			t.Errorf("DecodeRecords(%v): want an error", b)
		}
	}
	if got, err := DecodeRecords([]byte{0, 0, 0, 0}); err != nil || len(got) != 0 {
		t.Errorf("empty batch: %v, %v", got, err)
	}
}

// A test's own list leaves out what its file's shared list holds; one too
// long for its row to stay within a page moves, with the shared list, into
// a list of its own. Either way the test depends on the union (SPEC 4.5).
func TestDependencyListsSplit(t *testing.T) {
	const n = 250
	root := t.TempDir()
	var big strings.Builder
	var lines []uint32
	for i := range n {
		lines = append(lines, uint32(strings.Count(big.String(), "\n")+1))
		fmt.Fprintf(&big, "def f_%d():\n    return %d\n\n", i, i)
	}
	write(t, root, "big.py", big.String())
	const testBig = "import big\n\ndef test_all():\n    pass\n\ndef test_one():\n    pass\n"
	write(t, root, "test_big.py", testBig)
	own := func(test string, funcs []uint32) []Dep {
		return []Dep{
			{Kind: DepLines, Path: "test_big.py", Lines: []uint32{line(testBig, test)}},
			{Kind: DepLines, Path: "big.py", Lines: funcs},
		}
	}
	s := session(t, root, true)
	if _, err := s.Select(); err != nil {
		t.Fatal(err)
	}
	err := s.Record([]TestRecord{
		{NodeID: "test_big.py::test_all", Deps: own("def test_all", lines)},
		{NodeID: "test_big.py::test_one", Deps: own("def test_one", lines[:1])},
	})
	if err != nil {
		t.Fatal(err)
	}
	all, _, _ := store.TestByNodeID(s.db, s.envID, "test_big.py::test_all")
	one, _, _ := store.TestByNodeID(s.db, s.envID, "test_big.py::test_one")
	shared := s.depsets["test_big.py"]
	if len(all.Deps) != 0 || all.Depset == shared.id || all.Depset == 0 {
		t.Errorf("test_all: %d bytes of own deps, depset %d (file's %d); want them in a list of its own", len(all.Deps), all.Depset, shared.id)
	}
	if one.Depset != shared.id || len(one.Deps) == 0 {
		t.Errorf("test_one: depset %d, want its file's %d", one.Depset, shared.id)
	}
	err = store.DecodeIDs(one.Deps, func(id int64) bool {
		if _, in := slices.BinarySearch(shared.ids, id); in {
			t.Errorf("test_one's own list repeats block %d of its file's shared list", id)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	// What a fixture did at teardown: test_one's list grows past the limit.
	if err := s.Record([]TestRecord{{NodeID: "test_big.py::test_one", Outcome: store.MergeDeps, Deps: own("def test_one", lines[30:])}}); err != nil {
		t.Fatal(err)
	}
	if one, _, _ = store.TestByNodeID(s.db, s.envID, "test_big.py::test_one"); len(one.Deps) != 0 || one.Depset == shared.id {
		t.Errorf("test_one after merging: %d bytes of own deps, depset %d", len(one.Deps), one.Depset)
	}
	if _, err := s.Finish(Finish{Files: map[string]CollectedFile{"test_big.py": {Complete: true, NodeIDs: []string{"test_big.py::test_all", "test_big.py::test_one"}}}, WholeSuite: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	for _, tt := range []struct {
		edit int // function whose body changes
		want []string
	}{
		{0, []string{"test_big.py::test_all", "test_big.py::test_one"}},
		{10, []string{"test_big.py::test_all"}},
		{200, []string{"test_big.py::test_all", "test_big.py::test_one"}},
	} {
		write(t, root, "big.py", strings.Replace(big.String(), fmt.Sprintf("return %d\n", tt.edit), fmt.Sprintf("return -%d\n", tt.edit), 1))
		s := session(t, root, false)
		sel, err := s.Select()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, id := range []string{"test_big.py::test_all", "test_big.py::test_one"} {
			if !slices.Contains(sel.Deselect, id) {
				got = append(got, id)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("f_%d changed: selected %v, want %v", tt.edit, got, tt.want)
		}
		s.Close()
	}
}

// What importing a module ran is charged to every test file that imports
// it, whatever the order of the records in the batch.
func TestImportDepsReachImporters(t *testing.T) {
	const consts = "import calc\n\nTABLE = calc.mul(2, 3)\n"
	const testA = "import consts\n\ndef test_table():\n    assert consts.TABLE == 6\n"
	const testB = "def test_alone():\n    assert True\n"
	root := t.TempDir()
	write(t, root, "calc.py", calc)
	write(t, root, "consts.py", consts)
	write(t, root, "a_test.py", testA)
	write(t, root, "b_test.py", testB)
	recordBaseline(t, root, []TestRecord{
		{NodeID: "a_test.py::test_table", Deps: []Dep{{Kind: DepLines, Path: "a_test.py", Lines: []uint32{line(testA, "def test_table")}}}},
		{NodeID: "b_test.py::test_alone", Deps: []Dep{{Kind: DepLines, Path: "b_test.py", Lines: []uint32{1}}}},
		// After the test in the batch, and after it in node id order too.
		{NodeID: "consts.py", Outcome: store.ImportDeps, Deps: []Dep{{Kind: DepLines, Path: "calc.py", Lines: []uint32{line(calc, "def mul")}}}},
	})

	write(t, root, "calc.py", strings.Replace(calc, "a * b", "b * a", 1))
	sel, err := session(t, root, false).Select()
	if err != nil {
		t.Fatal(err)
	}
	if sel.Affected != 1 || !slices.Contains(sel.SkipFiles, "b_test.py") || slices.Contains(sel.SkipFiles, "a_test.py") {
		t.Fatalf("selection = %+v; want only a_test.py::test_table", sel)
	}
}

// What ran outside tests and imports (a SessionDeps record) is every
// test's dependency, and a conftest.py's hook functions are the
// dependencies of the tests in its directory, run or not.
func TestSessionAndConftestHookDeps(t *testing.T) {
	const conftest = "def pytest_configure(config):\n    pass\n\ndef helper():\n    return 1\n"
	const subConftest = "def pytest_runtest_makereport(item, call):\n    pass\n\nclass Plugin:\n    def pytest_runtest_setup(self, item):\n        x = 1\n"
	const testTop = "def test_top():\n    assert True\n"
	const testSub = "def test_sub():\n    assert True\n"
	tests := []struct {
		name string
		file string
		old  string
		new  string
		want []string // test files selected
	}{
		{"session helper", "calc.py", "a * b", "b * a", []string{"sub/sub_test.py", "top_test.py"}},
		{"root hook body", "conftest.py", "    pass\n\ndef", "    return\n\ndef", []string{"sub/sub_test.py", "top_test.py"}},
		{"sub hook body", "sub/conftest.py", "pass", "return", []string{"sub/sub_test.py"}},
		{"hook method of a plugin class", "sub/conftest.py", "x = 1", "x = 2", []string{"sub/sub_test.py"}},
		{"conftest function no hook ran", "conftest.py", "return 1", "return 2", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			src := map[string]string{"calc.py": calc, "conftest.py": conftest, "sub/conftest.py": subConftest, "top_test.py": testTop, "sub/sub_test.py": testSub}
			for rel, content := range src {
				write(t, root, rel, content)
			}
			recordBaseline(t, root, []TestRecord{
				{NodeID: "top_test.py::test_top", Deps: []Dep{{Kind: DepLines, Path: "top_test.py", Lines: []uint32{1}}}},
				{NodeID: "sub/sub_test.py::test_sub", Deps: []Dep{{Kind: DepLines, Path: "sub/sub_test.py", Lines: []uint32{1}}}},
				{NodeID: SessionDeps, Outcome: store.ImportDeps, Deps: []Dep{{Kind: DepLines, Path: "calc.py", Lines: []uint32{line(calc, "def mul")}}}},
			})

			write(t, root, tc.file, strings.Replace(src[tc.file], tc.old, tc.new, 1))
			sel, err := session(t, root, false).Select()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range []string{"sub/sub_test.py", "top_test.py"} {
				if !slices.Contains(sel.SkipFiles, f) {
					got = append(got, f)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("selected files = %v; want %v (selection %+v)", got, tc.want, sel)
			}
		})
	}
}

// recordBaseline records one batch as a whole-suite recording run does,
// each test file complete with the tests the batch names.
func recordBaseline(t *testing.T, root string, batch []TestRecord) {
	t.Helper()
	s := session(t, root, true)
	defer s.Close()
	if _, err := s.Select(); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(batch); err != nil {
		t.Fatal(err)
	}
	files := map[string]CollectedFile{}
	for _, r := range batch {
		if r.Outcome == store.ImportDeps {
			continue
		}
		f := files[store.TestFile(r.NodeID)]
		f.Complete = true
		f.NodeIDs = append(f.NodeIDs, r.NodeID)
		files[store.TestFile(r.NodeID)] = f
	}
	if _, err := s.Finish(Finish{Files: files, WholeSuite: true}); err != nil {
		t.Fatal(err)
	}
}

// afterEdits is a session start later than every edit a test makes: the
// runs it simulates begin once their files are written (Config.StartedNs).
func afterEdits() int64 { return time.Now().Add(time.Hour).UnixNano() }

// A file saved while a recording run runs is never trusted: the tests
// recorded against it run again, whichever version they ran, and a test file
// saved mid-run is not complete (it may hold tests never collected).
func TestEditDuringRecording(t *testing.T) {
	tests := []struct {
		name string
		edit string // the file saved after Select, before Record
		want []string
	}{
		{"nothing saved", "", nil},
		{"source saved", "calc.py", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
		{"test file saved", "test_calc.py", []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := baseline(t, nil)
			// The files settle before the run (write dates them ahead).
			past := time.Now().Add(-time.Hour)
			for _, f := range []string{"calc.py", "test_calc.py"} {
				os.Chtimes(filepath.Join(root, f), past, past)
			}
			time.Sleep(150 * time.Millisecond)
			s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Record: true, Env: map[string]string{"python": "3.11"}, StartedNs: time.Now().UnixNano()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Select(); err != nil {
				t.Fatal(err)
			}
			if tt.edit != "" {
				p := filepath.Join(root, tt.edit)
				src, _ := os.ReadFile(p)
				os.WriteFile(p, append(src, "\n\ndef test_new():\n    pass\n"...), 0o644)
			}
			if err := s.Record(records(nil)); err != nil {
				t.Fatal(err)
			}
			nodeids := []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}
			if _, err := s.Finish(Finish{Files: map[string]CollectedFile{"test_calc.py": {Complete: true, NodeIDs: nodeids}}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Why: true, Env: map[string]string{"python": "3.11"}, StartedNs: afterEdits()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sel, err := s.Select()
			if err != nil {
				t.Fatal(err)
			}
			if got := affected(t, sel); !slices.Equal(got, tt.want) {
				t.Errorf("selected %v, want %v (%v)", got, tt.want, sel.Reasons)
			}
			skipped := slices.Contains(sel.SkipFiles, "test_calc.py")
			if want := tt.edit == ""; skipped != want {
				t.Errorf("test_calc.py skipped: %v, want %v", skipped, want)
			}
		})
	}
}
