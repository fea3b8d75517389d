package selection

import (
	"maps"
	"slices"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// A small baseline: a.py (files row 1) with functions f and g and a
// module-level name RATE; the environment "<env:3.11>" (row 3) with its
// python version; tests that depend on them, one through a shared list.
const (
	aFile, envFile, goneFile = 1, 3, 9
	fID, gID, rateID, pyID   = 10, 11, 12, 30
)

var (
	envPath = store.EnvPath("3.11")

	recordedA = []store.Block{
		{ID: fID, FileID: aFile, Name: "f", Checksum: 100},
		{ID: gID, FileID: aFile, Name: "g", Checksum: 200},
		{ID: rateID, FileID: aFile, Name: NamePrefix + "RATE", Checksum: 300},
	}
	recordedEnv = []store.Block{{ID: pyID, FileID: envFile, Name: "python", Checksum: EnvCurrent(map[string]string{"python": "3.11"}).Checksums["python"], Names: []string{"3.11"}}}

	// aAsRecorded is a.py as the baseline recorded it (parsed).
	aAsRecorded = Current{Exists: true, Parsed: true, File: &blocks.File{Parsed: true},
		Checksums: map[string]uint64{Content: 1, "f": 100, "g": 200, NamePrefix + "RATE": 300}}
)

func ids(v ...int64) []byte { return store.EncodeIDs(v) }

// baseTests: test_f reads f, test_g reads g and RATE, test_env depends on
// the interpreter, test_set on f through its file's shared list 7.
func baseTests() []store.Test {
	return []store.Test{
		{NodeID: "t.py::test_f", Deps: ids(fID)},
		{NodeID: "t.py::test_g", Deps: ids(gID, rateID)},
		{NodeID: "t.py::test_env", Deps: ids(pyID)},
		{NodeID: "u.py::test_set", Depset: 7},
	}
}

func baseSets() map[int64][]byte { return map[int64][]byte{7: ids(fID)} }

// input is what the engine would read from the baseline and the disk.
type input struct {
	aNow    *Current // nil: a.py unchanged, not compared
	env     map[string]string
	unsafe  bool          // a.py's stored path turned out unsafe
	marked  []store.Block // versions stored as stale
	orphans []store.Block
	absent  []int64 // versions the baseline does not hold
	sets    map[int64][]byte
	tests   []store.Test
	failing []store.Test
	why     bool
}

type output struct {
	reasons map[string]string
	byName  map[string]string // node id -> name block
	flips   map[int64]bool    // id -> new stale flag
}

// decide runs the algorithm in the engine's order.
func decide(in input) output {
	c := NewChanges()
	recorded := slices.Clone(recordedA)
	for i := range recorded {
		for _, m := range in.marked {
			if m.ID == recorded[i].ID {
				recorded[i].Stale = true
			}
		}
	}
	switch {
	case in.unsafe:
		c.Unsafe(store.File{ID: aFile, Path: "../a.py"}, recorded)
	case in.aNow != nil:
		c.CheckFile(aFile, "a.py", recorded, *in.aNow, in.why)
	}
	env := in.env
	if env == nil {
		env = map[string]string{"python": "3.11"}
	}
	c.CheckFile(envFile, envPath, recordedEnv, EnvCurrent(env), in.why)
	c.Marked(in.marked, map[int64]string{aFile: "a.py", envFile: envPath})
	reasons := Failing(in.failing)
	tests := in.tests
	if tests == nil {
		tests = baseTests()
	}
	var pending []store.Test
	for _, t := range tests {
		if _, ok := reasons[t.NodeID]; !ok {
			pending = append(pending, t)
		}
	}
	sets := in.sets
	if sets == nil {
		sets = baseSets()
	}
	c.Orphans(in.orphans)
	var missing []int64
	for _, id := range c.Refs(sets, pending) {
		if slices.Contains(in.absent, id) {
			missing = append(missing, id)
		}
	}
	c.Missing(missing)
	byName := c.Affected(sets, pending, reasons)
	out := output{reasons: reasons, byName: map[string]string{}, flips: map[int64]bool{}}
	for n, nc := range byName {
		out.byName[n] = nc.Block
	}
	for _, b := range c.Flips {
		out.flips[b.ID] = b.Stale
	}
	return out
}

func with(cur Current, name string, sum uint64) *Current {
	c := cur
	c.Checksums = maps.Clone(cur.Checksums)
	if sum == 0 {
		delete(c.Checksums, name)
	} else {
		c.Checksums[name] = sum
	}
	return &c
}

func TestDecide(t *testing.T) {
	damaged := baseTests()
	damaged[0].Deps = []byte{0xff, 0xff, 0xff, 0xff}
	tests := []struct {
		name    string
		in      input
		reasons map[string]string
		byName  map[string]string
		flips   map[int64]bool
	}{
		{
			name:    "nothing changed",
			in:      input{},
			reasons: map[string]string{},
		},
		{
			name:    "a.py read again, unchanged",
			in:      input{aNow: &aAsRecorded},
			reasons: map[string]string{},
		},
		{
			name: "a changed function selects its readers, directly and through a shared list",
			in:   input{aNow: with(aAsRecorded, "f", 101)},
			reasons: map[string]string{
				"t.py::test_f":   "a.py::f changed",
				"u.py::test_set": "imports: a.py::f changed",
			},
			flips: map[int64]bool{fID: true},
		},
		{
			name:    "a removed function",
			in:      input{aNow: with(aAsRecorded, "g", 0)},
			reasons: map[string]string{"t.py::test_g": "a.py::g removed"},
			flips:   map[int64]bool{gID: true},
		},
		{
			name: "a file changed back clears its stored stale flag",
			in: input{aNow: &aAsRecorded,
				marked: []store.Block{{ID: fID, FileID: aFile, Name: "f", Checksum: 100, Stale: true}}},
			reasons: map[string]string{},
			flips:   map[int64]bool{fID: false},
		},
		{
			name: "a version stored as stale, of a file not read again, selects",
			in:   input{marked: []store.Block{{ID: fID, FileID: aFile, Name: "f", Checksum: 100, Stale: true}}},
			reasons: map[string]string{
				"t.py::test_f":   "a.py::f changed",
				"u.py::test_set": "imports: a.py::f changed",
			},
		},
		{
			name:    "a version recorded while its file was edited",
			in:      input{marked: []store.Block{{ID: 40, FileID: aFile, Name: Edited, Stale: true}}, tests: []store.Test{{NodeID: "t.py::test_e", Deps: ids(40)}}},
			reasons: map[string]string{"t.py::test_e": "a.py changed while the tests ran"},
		},
		{
			name:    "a stale version of a file no longer in the baseline",
			in:      input{marked: []store.Block{{ID: 41, FileID: goneFile, Name: "h", Stale: true}}, tests: []store.Test{{NodeID: "t.py::test_h", Deps: ids(41)}}},
			reasons: map[string]string{"t.py::test_h": "h changed (its file is no longer in the baseline)"},
		},
		{
			name: "a deleted file",
			in:   input{aNow: &Current{}},
			reasons: map[string]string{
				"t.py::test_f":   "a.py deleted",
				"t.py::test_g":   "a.py deleted",
				"u.py::test_set": "imports: a.py deleted",
			},
			flips: map[int64]bool{fID: true, gID: true, rateID: true},
		},
		{
			name: "an unreadable file",
			in:   input{aNow: &Current{Exists: true, Unreadable: true}},
			reasons: map[string]string{
				"t.py::test_f":   "a.py unreadable",
				"t.py::test_g":   "a.py unreadable",
				"u.py::test_set": "imports: a.py unreadable",
			},
			flips: map[int64]bool{fID: true, gID: true, rateID: true},
		},
		{
			name: "a stored path that is unsafe selects without reading",
			in:   input{unsafe: true},
			reasons: map[string]string{
				"t.py::test_f":   `"../a.py": unsafe path in the baseline`,
				"t.py::test_g":   `"../a.py": unsafe path in the baseline`,
				"u.py::test_set": `imports: "../a.py": unsafe path in the baseline`,
			},
			flips: map[int64]bool{fID: true, gID: true, rateID: true},
		},
		{
			name:    "another interpreter version",
			in:      input{env: map[string]string{"python": "3.12"}},
			reasons: map[string]string{"t.py::test_env": "python 3.11 -> 3.12"},
			flips:   map[int64]bool{pyID: true},
		},
		{
			name:    "an environment value gone",
			in:      input{env: map[string]string{}},
			reasons: map[string]string{"t.py::test_env": "python 3.11 -> (absent)"},
			flips:   map[int64]bool{pyID: true},
		},
		{
			name:    "failing tests run whatever their dependencies",
			in:      input{failing: []store.Test{{NodeID: "t.py::test_f", Outcome: store.Failed}, {NodeID: "t.py::test_g", Outcome: store.Error}}},
			reasons: map[string]string{"t.py::test_f": "failed last time", "t.py::test_g": "error last time"},
		},
		{
			name: "a failing test keeps its reason when its code changed too",
			in:   input{aNow: with(aAsRecorded, "f", 101), failing: []store.Test{{NodeID: "t.py::test_f", Outcome: store.Failed}}},
			reasons: map[string]string{
				"t.py::test_f":   "failed last time",
				"u.py::test_set": "imports: a.py::f changed",
			},
			flips: map[int64]bool{fID: true},
		},
		{
			name:    "a passed test is not failing",
			in:      input{failing: []store.Test{{NodeID: "t.py::test_f", Outcome: store.Passed}}},
			reasons: map[string]string{},
		},
		{
			name: "a version missing from the baseline is stale",
			in:   input{absent: []int64{fID}},
			reasons: map[string]string{
				"t.py::test_f":   MissingRows,
				"u.py::test_set": "imports: " + MissingRows,
			},
		},
		{
			name:    "a shared list missing from the baseline",
			in:      input{sets: map[int64][]byte{}},
			reasons: map[string]string{"u.py::test_set": MissingRows},
		},
		{
			name:    "a version whose file row is missing",
			in:      input{orphans: []store.Block{{ID: gID, FileID: goneFile, Name: "g"}}},
			reasons: map[string]string{"t.py::test_g": "g changed (its file is missing from the baseline)"},
		},
		{
			name:    "a list that cannot be decoded",
			in:      input{tests: damaged},
			reasons: map[string]string{"t.py::test_f": DamagedRecord},
		},
		{
			name:    "with why, a changed module-level name says which",
			in:      input{aNow: with(aAsRecorded, NamePrefix+"RATE", 301), why: true},
			reasons: map[string]string{"t.py::test_g": "a.py: RATE (module level) changed"},
			byName:  map[string]string{"t.py::test_g": NamePrefix + "RATE"},
			flips:   map[int64]bool{rateID: true},
		},
		{
			name:    "without why, no name is noted",
			in:      input{aNow: with(aAsRecorded, NamePrefix+"RATE", 301)},
			reasons: map[string]string{"t.py::test_g": "a.py: RATE (module level) changed"},
			flips:   map[int64]bool{rateID: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(tt.in)
			if !maps.Equal(got.reasons, tt.reasons) {
				t.Errorf("reasons %v, want %v", got.reasons, tt.reasons)
			}
			if tt.byName == nil {
				tt.byName = map[string]string{}
			}
			if !maps.Equal(got.byName, tt.byName) {
				t.Errorf("by name %v, want %v", got.byName, tt.byName)
			}
			if tt.flips == nil {
				tt.flips = map[int64]bool{}
			}
			if !maps.Equal(got.flips, tt.flips) {
				t.Errorf("flips %v, want %v", got.flips, tt.flips)
			}
		})
	}
}

// A recorded test file is skipped only when it has no affected test, was
// completely recorded, and is still what it was then; any other may hold
// tests never recorded (new ones), so it is collected.
func TestCollect(t *testing.T) {
	unchanged := map[string]uint64{"t.py": 1, "u.py": 2, "v.py": 3}
	tests := []struct {
		name     string
		affected map[string]string
		complete map[string]uint64
		now      map[string]uint64 // absent: missing, unreadable or changed
		skip     []string
	}{
		{"nothing affected", nil, unchanged, unchanged, []string{"t.py", "u.py", "v.py"}},
		{"a file with an affected test", map[string]string{"u.py::test_x": "r"}, unchanged, unchanged, []string{"t.py", "v.py"}},
		{"a parametrized affected test", map[string]string{"u.py::test_x[1-2]": "r"}, unchanged, unchanged, []string{"t.py", "v.py"}},
		{"a file not completely recorded (new tests)", nil, map[string]uint64{"t.py": 1, "v.py": 3}, unchanged, []string{"t.py", "v.py"}},
		{"a changed test file", nil, unchanged, map[string]uint64{"t.py": 1, "v.py": 3}, []string{"t.py", "v.py"}},
		{"a test file recorded at another content", nil, unchanged, map[string]uint64{"t.py": 1, "u.py": 9, "v.py": 3}, []string{"t.py", "v.py"}},
		{"no file complete", nil, nil, unchanged, nil},
	}
	files := []string{"t.py", "u.py", "v.py"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := func(p string) (uint64, bool) { h, ok := tt.now[p]; return h, ok }
			skip, collect := Collect(files, tt.affected, tt.complete, now)
			if !slices.Equal(skip, tt.skip) {
				t.Errorf("skip %v, want %v", skip, tt.skip)
			}
			var want []string
			for _, f := range files {
				if !slices.Contains(tt.skip, f) {
					want = append(want, f)
				}
			}
			if !slices.Equal(collect, want) {
				t.Errorf("collect %v, want %v", collect, want)
			}
		})
	}
}

func TestDeselect(t *testing.T) {
	collected := []store.Test{{NodeID: "t.py::a"}, {NodeID: "t.py::b"}, {NodeID: "u.py::c"}}
	tests := []struct {
		name     string
		affected map[string]string
		want     []string
	}{
		{"none affected", nil, []string{"t.py::a", "t.py::b", "u.py::c"}},
		{"one affected", map[string]string{"t.py::b": "r"}, []string{"t.py::a", "u.py::c"}},
		{"all affected", map[string]string{"t.py::a": "r", "t.py::b": "r", "u.py::c": "r"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Deselect(collected, tt.affected); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
