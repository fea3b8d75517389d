package merge

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store/storetest"
)

// baseline describes an input database in a few lines.
type baseline struct {
	at        int64             // meta recorded_at; 0 leaves it unset
	meta      map[string]string // more meta
	files     map[string]uint64 // path -> content hash
	blocks    []blk
	tests     []tst
	sets      map[string][]string // nodeid -> its shared (import) dependency set
	testFiles map[string]uint64   // of environment env
	env       string              // the environment of tests and testFiles; fixtureEnv when ""
}

// fixtureEnv is the environment of a fixture's tests unless it names
// another. In content, keys of other environments' tests and test files are
// prefixed with "<env>|".
const fixtureEnv = "3.11"

func envKey(env, key string) string {
	if env == fixtureEnv {
		return key
	}
	return env + "|" + key
}

// blk is a block version: "path::name@checksum".
type blk struct {
	ref   string
	stale bool
	value string // the names column (environment value)
}

// tst is a test record; a nodeid "<env>|<nodeid>" puts it in another
// environment than the baseline's.
type tst struct {
	nodeid  string
	outcome store.Outcome
	at      int64
	deps    []string // block refs
}

func parseRef(ref string) (path, name string, sum uint64) {
	path, rest, _ := strings.Cut(ref, "::")
	name, s, _ := strings.Cut(rest, "@")
	sum, _ = strconv.ParseUint(s, 10, 64)
	return path, name, sum
}

// create writes b as a database file under dir.
func (b baseline) create(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	db, _, err := store.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	fileID := map[string]int64{}
	for _, path := range slices.Sorted(maps.Keys(b.files)) {
		id, err := store.UpsertFile(tx, store.File{Path: path, Size: 10, MtimeNs: 1, Hash: b.files[path]})
		if err != nil {
			t.Fatal(err)
		}
		fileID[path] = id
	}
	envID := map[string]int64{}
	env := func(name string) int64 {
		if name == "" {
			name = cmp.Or(b.env, fixtureEnv)
		}
		if id, ok := envID[name]; ok {
			return id
		}
		id, err := store.EnsureEnv(tx, name)
		if err != nil {
			t.Fatal(err)
		}
		envID[name] = id
		return id
	}
	blockID := map[string]int64{}
	for _, bl := range b.blocks {
		path, name, sum := parseRef(bl.ref)
		var names []string
		if bl.value != "" {
			names = []string{bl.value}
		}
		id, err := storetest.UpsertBlock(tx, fileID[path], name, sum, names)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.SetStale(tx, []int64{id}, bl.stale); err != nil {
			t.Fatal(err)
		}
		blockID[bl.ref] = id
	}
	for _, ts := range b.tests {
		var ids []int64
		for _, d := range ts.deps {
			id, ok := blockID[d]
			if !ok {
				t.Fatalf("fixture: test %s depends on undeclared block %s", ts.nodeid, d)
			}
			ids = append(ids, id)
		}
		var set int64
		if refs, ok := b.sets[ts.nodeid]; ok {
			var setIDs []int64
			for _, d := range refs {
				setIDs = append(setIDs, blockID[d])
			}
			deps := store.EncodeIDs(setIDs)
			if set, err = store.UpsertDepset(tx, deps, contenthash.Sum(deps)); err != nil {
				t.Fatal(err)
			}
		}
		envName, nodeid, ok := strings.Cut(ts.nodeid, "|")
		if !ok {
			envName, nodeid = "", ts.nodeid
		}
		err := store.UpsertTest(tx, store.Test{Env: env(envName), NodeID: nodeid, Outcome: ts.outcome, Duration: 0.5, RecordedAt: ts.at, Deps: store.EncodeIDs(ids), Depset: set})
		if err != nil {
			t.Fatal(err)
		}
	}
	for p, h := range b.testFiles {
		if err := store.SetTestFile(tx, env(""), p, h); err != nil {
			t.Fatal(err)
		}
	}
	for name, id := range envID {
		if err := store.SetEnvRecorded(tx, id, b.at, map[string]string{"python": name}); err != nil {
			t.Fatal(err)
		}
	}
	meta := maps.Clone(b.meta)
	if meta == nil {
		meta = map[string]string{}
	}
	if b.at != 0 {
		meta["recorded_at"] = strconv.FormatInt(b.at, 10)
	}
	for k, v := range meta {
		if err := store.SetMeta(tx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return p
}

// content is a database read back in the fixture's terms, ids resolved.
type content struct {
	files     map[string]uint64
	blocks    map[string]bool // ref -> stale
	values    map[string]string
	tests     map[string]string // nodeid -> "outcome@at deps... | set..."
	sets      int               // how many depsets
	testFiles map[string]uint64
	meta      map[string]string
	envs      map[string]string // name -> "recorded_at python"
}

func read(t testing.TB, path string) content {
	t.Helper()
	db, err := store.OpenExisting(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := content{files: map[string]uint64{}, blocks: map[string]bool{}, values: map[string]string{}, tests: map[string]string{}}
	files, err := store.Files(db)
	if err != nil {
		t.Fatal(err)
	}
	pathOf := map[int64]string{}
	for _, f := range files {
		c.files[f.Path] = f.Hash
		pathOf[f.ID] = f.Path
	}
	refOf := map[int64]string{}
	err = store.EachBlock(db, func(b *store.Block) error {
		p, ok := pathOf[b.FileID]
		if !ok {
			return fmt.Errorf("block %d: no file %d", b.ID, b.FileID)
		}
		ref := fmt.Sprintf("%s::%s@%d", p, b.Name, b.Checksum)
		c.blocks[ref] = b.Stale
		if len(b.Names) > 0 {
			c.values[ref] = strings.Join(b.Names, ",")
		}
		refOf[b.ID] = ref
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(b []byte) string {
		var deps []string
		store.DecodeIDs(b, func(id int64) bool {
			r, ok := refOf[id]
			if !ok {
				r = fmt.Sprintf("<dangling %d>", id)
			}
			deps = append(deps, r)
			return true
		})
		slices.Sort(deps)
		return strings.Join(deps, " ")
	}
	sets, err := store.Depsets(db)
	if err != nil {
		t.Fatal(err)
	}
	c.sets = len(sets)
	hashes := map[int64]uint64{}
	raw := storetest.SQL(t, path)
	for id := range sets {
		if hashes[id], err = hashOf(raw, id); err != nil {
			t.Fatal(err)
		}
	}
	envs, err := store.Envs(db)
	if err != nil {
		t.Fatal(err)
	}
	envName := map[int64]string{}
	c.testFiles = map[string]uint64{}
	c.envs = map[string]string{}
	for _, e := range envs {
		envName[e.ID] = e.Name
		c.envs[e.Name] = fmt.Sprintf("%d %s", e.RecordedAt, e.Vars["python"])
		tf, err := store.TestFiles(db, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		for p, h := range tf {
			c.testFiles[envKey(e.Name, p)] = h
		}
	}
	err = store.EachTest(db, func(ts *store.Test) error {
		name, ok := envName[ts.Env]
		if !ok {
			return fmt.Errorf("test %s: no environment %d", ts.NodeID, ts.Env)
		}
		key := envKey(name, ts.NodeID)
		c.tests[key] = fmt.Sprintf("%s@%d %s", ts.Outcome, ts.RecordedAt, resolve(ts.Deps))
		if ts.Depset != 0 {
			b, ok := sets[ts.Depset]
			if !ok {
				return fmt.Errorf("test %s: no depset %d", ts.NodeID, ts.Depset)
			}
			if h := hashes[ts.Depset]; h != contenthash.Sum(b) {
				return fmt.Errorf("depset %d: hash %x does not match its content", ts.Depset, h)
			}
			c.tests[key] += " | " + resolve(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.meta, err = store.AllMeta(db); err != nil {
		t.Fatal(err)
	}
	return c
}

func hashOf(db *sql.DB, depset int64) (uint64, error) {
	var h int64
	err := db.QueryRow("SELECT hash FROM depsets WHERE id = ?", depset).Scan(&h)
	return uint64(h), err
}

func rec(outcome store.Outcome, at int64, deps ...string) string {
	deps = slices.Clone(deps)
	slices.Sort(deps)
	return fmt.Sprintf("%s@%d %s", outcome, at, strings.Join(deps, " "))
}

func mergeFixtures(t *testing.T, inputs ...baseline) content {
	t.Helper()
	dir := t.TempDir()
	var args []string
	for i, b := range inputs {
		args = append(args, b.create(t, dir, fmt.Sprintf("in%d.db", i)))
	}
	out := filepath.Join(dir, "out.db")
	if _, err := Run(context.Background(), out, args, Options{}); err != nil {
		t.Fatal(err)
	}
	return read(t, out)
}

// Two shards of one project: same files, different tests, and block ids
// that collide between the inputs.
var (
	shardA = baseline{
		at:    100,
		files: map[string]uint64{"app.py": 1, "tests/test_a.py": 2},
		blocks: []blk{
			{ref: "app.py::<module>@10"}, {ref: "app.py::add@11"},
			{ref: "tests/test_a.py::<module>@20"}, {ref: "tests/test_a.py::test_add@21"},
		},
		tests: []tst{
			{"tests/test_a.py::test_add", store.Passed, 90, []string{"app.py::<module>@10", "app.py::add@11", "tests/test_a.py::<module>@20", "tests/test_a.py::test_add@21"}},
		},
		testFiles: map[string]uint64{"tests/test_a.py": 2},
	}
	shardB = baseline{
		at:    200,
		files: map[string]uint64{"app.py": 1, "tests/test_b.py": 3},
		blocks: []blk{
			{ref: "tests/test_b.py::<module>@30"}, {ref: "tests/test_b.py::test_sub@31"},
			{ref: "app.py::sub@12"}, {ref: "app.py::<module>@10"},
		},
		tests: []tst{
			{"tests/test_b.py::test_sub", store.Failed, 190, []string{"app.py::<module>@10", "app.py::sub@12", "tests/test_b.py::<module>@30", "tests/test_b.py::test_sub@31"}},
		},
		testFiles: map[string]uint64{"tests/test_b.py": 3},
	}
)

func TestMergeRemapsBlocks(t *testing.T) {
	for _, order := range [][]baseline{{shardA, shardB}, {shardB, shardA}} {
		got := mergeFixtures(t, order...)
		want := map[string]string{
			"tests/test_a.py::test_add": rec(store.Passed, 90, "app.py::<module>@10", "app.py::add@11", "tests/test_a.py::<module>@20", "tests/test_a.py::test_add@21"),
			"tests/test_b.py::test_sub": rec(store.Failed, 190, "app.py::<module>@10", "app.py::sub@12", "tests/test_b.py::<module>@30", "tests/test_b.py::test_sub@31"),
		}
		if !maps.Equal(got.tests, want) {
			t.Errorf("tests:\n got %v\nwant %v", got.tests, want)
		}
		wantBlocks := map[string]bool{
			"app.py::<module>@10": false, "app.py::add@11": false, "app.py::sub@12": false,
			"tests/test_a.py::<module>@20": false, "tests/test_a.py::test_add@21": false,
			"tests/test_b.py::<module>@30": false, "tests/test_b.py::test_sub@31": false,
		}
		if !maps.Equal(got.blocks, wantBlocks) {
			t.Errorf("blocks:\n got %v\nwant %v", got.blocks, wantBlocks)
		}
		if want := map[string]uint64{"app.py": 1, "tests/test_a.py": 2, "tests/test_b.py": 3}; !maps.Equal(got.files, want) {
			t.Errorf("files: got %v, want %v", got.files, want)
		}
		if want := map[string]uint64{"tests/test_a.py": 2, "tests/test_b.py": 3}; !maps.Equal(got.testFiles, want) {
			t.Errorf("test files: got %v, want %v", got.testFiles, want)
		}
		if got.meta["recorded_at"] != "200" {
			t.Errorf("recorded_at = %q, want the latest, 200", got.meta["recorded_at"])
		}
	}
}

func TestMergeNewestRecordWins(t *testing.T) {
	const id = "tests/test_a.py::test_add"
	input := func(at int64, o store.Outcome, recAt int64) baseline {
		return baseline{
			at:     at,
			files:  map[string]uint64{"tests/test_a.py": 2},
			blocks: []blk{{ref: "tests/test_a.py::test_add@21"}},
			tests:  []tst{{id, o, recAt, []string{"tests/test_a.py::test_add@21"}}},
		}
	}
	tests := []struct {
		name   string
		inputs []baseline
		want   string
	}{
		{"newer passed, first", []baseline{input(60, store.Passed, 50), input(20, store.Failed, 10)}, rec(store.Passed, 50, "tests/test_a.py::test_add@21")},
		{"newer passed, last", []baseline{input(20, store.Failed, 10), input(60, store.Passed, 50)}, rec(store.Passed, 50, "tests/test_a.py::test_add@21")},
		{"newer failed, first", []baseline{input(60, store.Failed, 50), input(20, store.Passed, 10)}, rec(store.Failed, 50, "tests/test_a.py::test_add@21")},
		{"newer failed, last", []baseline{input(20, store.Passed, 10), input(60, store.Failed, 50)}, rec(store.Failed, 50, "tests/test_a.py::test_add@21")},
		{"newer error kept", []baseline{input(60, store.Error, 50), input(20, store.Passed, 10)}, rec(store.Error, 50, "tests/test_a.py::test_add@21")},
		// The test's own time decides, not the input's.
		{"older input, newer record", []baseline{input(90, store.Passed, 10), input(40, store.Failed, 30)}, rec(store.Failed, 30, "tests/test_a.py::test_add@21")},
		{"tie: later input", []baseline{input(60, store.Passed, 50), input(60, store.Skipped, 50)}, rec(store.Skipped, 50, "tests/test_a.py::test_add@21")},
		{"tie: later input, swapped", []baseline{input(60, store.Skipped, 50), input(60, store.Passed, 50)}, rec(store.Passed, 50, "tests/test_a.py::test_add@21")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeFixtures(t, tt.inputs...)
			if got.tests[id] != tt.want {
				t.Errorf("got %q, want %q", got.tests[id], tt.want)
			}
		})
	}
}

func TestMergeStaleFlags(t *testing.T) {
	// app.py is at hash 1 in the old input and hash 2 in the new one; the
	// new input's fingerprint is chosen.
	old := func(blocks ...blk) baseline {
		return baseline{at: 100, files: map[string]uint64{"app.py": 1}, blocks: blocks,
			tests: []tst{{"t.py::old", store.Passed, 100, refs(blocks)}}}
	}
	newer := func(blocks ...blk) baseline {
		return baseline{at: 200, files: map[string]uint64{"app.py": 2}, blocks: blocks,
			tests: []tst{{"t.py::new", store.Passed, 200, refs(blocks)}}}
	}
	sameHash := func(at int64, test string, blocks ...blk) baseline {
		return baseline{at: at, files: map[string]uint64{"app.py": 2}, blocks: blocks,
			tests: []tst{{test, store.Passed, at, refs(blocks)}}}
	}
	const f, g = "app.py::f@7", "app.py::g@8"
	tests := []struct {
		name   string
		inputs []baseline
		want   map[string]bool
	}{
		{"other content, chosen has it current", []baseline{old(blk{ref: f}), newer(blk{ref: f})}, map[string]bool{f: false}},
		{"other content, chosen lacks it", []baseline{old(blk{ref: f}), newer(blk{ref: g})}, map[string]bool{f: true, g: false}},
		{"other content, chosen has it stale", []baseline{old(blk{ref: f}), newer(blk{ref: f, stale: true})}, map[string]bool{f: true}},
		{"other content, stale there, current in chosen", []baseline{old(blk{ref: f, stale: true}), newer(blk{ref: f})}, map[string]bool{f: false}},
		{"same content keeps stale", []baseline{sameHash(100, "t.py::x", blk{ref: f, stale: true}), newer(blk{ref: g})}, map[string]bool{f: true, g: false}},
		{"same content keeps current", []baseline{sameHash(100, "t.py::x", blk{ref: f}), newer(blk{ref: g})}, map[string]bool{f: false, g: false}},
		{"same content disagrees: stale", []baseline{sameHash(100, "t.py::x", blk{ref: f, stale: true}), newer(blk{ref: f})}, map[string]bool{f: true}},
		{"newest input chosen whatever the order", []baseline{newer(blk{ref: g}), old(blk{ref: f})}, map[string]bool{f: true, g: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeFixtures(t, tt.inputs...)
			if !maps.Equal(got.blocks, tt.want) {
				t.Errorf("stale flags: got %v, want %v", got.blocks, tt.want)
			}
			if got.files["app.py"] != 2 {
				t.Errorf("app.py fingerprint: got hash %d, want the newest input's, 2", got.files["app.py"])
			}
		})
	}
}

func refs(blocks []blk) []string {
	var out []string
	for _, b := range blocks {
		out = append(out, b.ref)
	}
	return out
}

func TestMergeInputTime(t *testing.T) {
	// Without meta, an input's time is its newest test record.
	a := baseline{files: map[string]uint64{"app.py": 1}, blocks: []blk{{ref: "app.py::f@1"}},
		tests: []tst{{"t.py::a", store.Passed, 500, []string{"app.py::f@1"}}}}
	b := baseline{at: 300, files: map[string]uint64{"app.py": 2}, blocks: []blk{{ref: "app.py::f@2"}},
		tests: []tst{{"t.py::b", store.Passed, 300, []string{"app.py::f@2"}}}, meta: map[string]string{"commit": "bbb", "env.python": "3.12"}}
	for _, order := range [][]baseline{{a, b}, {b, a}} {
		got := mergeFixtures(t, order...)
		if got.files["app.py"] != 1 {
			t.Errorf("app.py: got hash %d, want 1 (the input without meta is newer)", got.files["app.py"])
		}
		if got.meta["recorded_at"] != "500" {
			t.Errorf("recorded_at = %q, want 500", got.meta["recorded_at"])
		}
		if got.meta["commit"] != "" || got.meta["env.python"] != "" {
			t.Errorf("commit and environment come from the newest input (none): got %v", got.meta)
		}
	}
}

func TestMergeMetaFromNewest(t *testing.T) {
	a := baseline{at: 100, meta: map[string]string{"commit": "aaa", "env.python": "3.11"}}
	b := baseline{at: 200, meta: map[string]string{"commit": "bbb", "env.python": "3.12", "env.dist:x": "1"}}
	for _, order := range [][]baseline{{a, b}, {b, a}} {
		got := mergeFixtures(t, order...)
		want := map[string]string{"recorded_at": "200", "commit": "bbb", "env.python": "3.12", "env.dist:x": "1"}
		if !maps.Equal(got.meta, want) {
			t.Errorf("meta: got %v, want %v", got.meta, want)
		}
	}
}

func TestMergeEnvironmentBlocks(t *testing.T) {
	env := func(at int64, test, version string, sum uint64) baseline {
		ref := fmt.Sprintf("<env>::python@%d", sum)
		return baseline{at: at, files: map[string]uint64{"<env>": 0},
			blocks: []blk{{ref: ref, value: version}},
			tests:  []tst{{test, store.Passed, at, []string{ref}}}}
	}
	got := mergeFixtures(t, env(100, "t.py::a", "3.11", 311), env(200, "t.py::b", "3.12", 312))
	want := map[string]string{"<env>::python@311": "3.11", "<env>::python@312": "3.12"}
	if !maps.Equal(got.values, want) {
		t.Errorf("environment values: got %v, want %v", got.values, want)
	}
	if want := map[string]bool{"<env>::python@311": false, "<env>::python@312": false}; !maps.Equal(got.blocks, want) {
		t.Errorf("environment blocks: got %v, want %v", got.blocks, want)
	}
}

// Each environment keeps its own tests and test files; the newest record
// wins per (environment, test) (SPEC 4.7, 8.1).
func TestMergeKeepsEnvironmentsApart(t *testing.T) {
	in := func(env string, at int64, outcome store.Outcome, tfHash uint64) baseline {
		ref := fmt.Sprintf("<env:%s>::python@%d", env, at)
		return baseline{at: at, env: env,
			files:     map[string]uint64{"app.py": 1, "<env:" + env + ">": 0},
			blocks:    []blk{{ref: "app.py::f@1"}, {ref: ref, value: env}},
			tests:     []tst{{"t.py::x", outcome, at, []string{"app.py::f@1", ref}}},
			testFiles: map[string]uint64{"t.py": tfHash}}
	}
	a := in("3.11", 100, store.Passed, 5)
	b := in("3.13", 200, store.Failed, 6)
	newer := in("3.11", 300, store.Skipped, 7)
	older := in("3.13", 50, store.Passed, 6)
	tests := []struct {
		name      string
		inputs    []baseline
		tests     map[string]string
		testFiles map[string]uint64
		envs      map[string]string
	}{
		{"two environments", []baseline{a, b},
			map[string]string{
				"t.py::x":      rec(store.Passed, 100, "<env:3.11>::python@100", "app.py::f@1"),
				"3.13|t.py::x": rec(store.Failed, 200, "<env:3.13>::python@200", "app.py::f@1"),
			},
			map[string]uint64{"t.py": 5, "3.13|t.py": 6},
			map[string]string{"3.11": "100 3.11", "3.13": "200 3.13"}},
		{"newest per environment", []baseline{newer, b, a, older},
			map[string]string{
				"t.py::x":      rec(store.Skipped, 300, "<env:3.11>::python@300", "app.py::f@1"),
				"3.13|t.py::x": rec(store.Failed, 200, "<env:3.13>::python@200", "app.py::f@1"),
			},
			// 3.11's inputs disagree about t.py: not known complete.
			map[string]uint64{"3.13|t.py": 6},
			map[string]string{"3.11": "300 3.11", "3.13": "200 3.13"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeFixtures(t, tt.inputs...)
			if !maps.Equal(got.tests, tt.tests) {
				t.Errorf("tests:\n got %v\nwant %v", got.tests, tt.tests)
			}
			if !maps.Equal(got.testFiles, tt.testFiles) {
				t.Errorf("test files: got %v, want %v", got.testFiles, tt.testFiles)
			}
			if !maps.Equal(got.envs, tt.envs) {
				t.Errorf("environments: got %v, want %v", got.envs, tt.envs)
			}
		})
	}
}

func TestMergeTestFiles(t *testing.T) {
	in := func(at int64, tf map[string]uint64) baseline { return baseline{at: at, testFiles: tf} }
	tests := []struct {
		name   string
		inputs []baseline
		want   map[string]uint64
	}{
		{"agree", []baseline{in(1, map[string]uint64{"t.py": 5}), in(2, map[string]uint64{"t.py": 5})}, map[string]uint64{"t.py": 5}},
		{"disagree: dropped", []baseline{in(1, map[string]uint64{"t.py": 5}), in(2, map[string]uint64{"t.py": 6})}, map[string]uint64{}},
		{"only one has it", []baseline{in(1, map[string]uint64{"t.py": 5}), in(2, nil)}, map[string]uint64{"t.py": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeFixtures(t, tt.inputs...)
			if !maps.Equal(got.testFiles, tt.want) {
				t.Errorf("got %v, want %v", got.testFiles, tt.want)
			}
		})
	}
}

// A block version only an overridden record used is not carried over.
func TestMergeDropsUnusedBlocks(t *testing.T) {
	a := baseline{at: 100, files: map[string]uint64{"app.py": 1}, blocks: []blk{{ref: "app.py::f@1"}},
		tests: []tst{{"t.py::x", store.Passed, 100, []string{"app.py::f@1"}}}}
	b := baseline{at: 200, files: map[string]uint64{"app.py": 1}, blocks: []blk{{ref: "app.py::f@2"}},
		tests: []tst{{"t.py::x", store.Passed, 200, []string{"app.py::f@2"}}}}
	got := mergeFixtures(t, a, b)
	if want := map[string]bool{"app.py::f@2": false}; !maps.Equal(got.blocks, want) {
		t.Errorf("blocks: got %v, want %v", got.blocks, want)
	}
}

func TestMergeDirectoryAndProgress(t *testing.T) {
	dir := t.TempDir()
	shards := filepath.Join(dir, "shards")
	os.Mkdir(shards, 0o755)
	for i := range 6 {
		b := baseline{at: int64(i + 1), files: map[string]uint64{"app.py": 1}, blocks: []blk{{ref: "app.py::f@1"}},
			tests: []tst{{fmt.Sprintf("t.py::t%d", i), store.Passed, int64(i + 1), []string{"app.py::f@1"}}}}
		b.create(t, shards, fmt.Sprintf("s%d.db", i))
	}
	os.WriteFile(filepath.Join(shards, "notes.txt"), []byte("not a database"), 0o644)
	var log bytes.Buffer
	out := filepath.Join(dir, "out.db")
	res, err := Run(context.Background(), out, []string{shards}, Options{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tests != 6 || len(res.Inputs) != 6 {
		t.Errorf("got %d tests from %d inputs, want 6 from 6", res.Tests, len(res.Inputs))
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 6 || lines[0] != "merging 1/6: "+filepath.Join(shards, "s0.db") {
		t.Errorf("progress:\n%s", log.String())
	}
	// Five inputs or fewer: quiet.
	log.Reset()
	if _, err := Run(context.Background(), out, res.Inputs[:5], Options{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if log.Len() != 0 {
		t.Errorf("progress with 5 inputs: %q", log.String())
	}
}

func TestMergeErrorsLeaveOutputUntouched(t *testing.T) {
	dir := t.TempDir()
	good := shardA.create(t, dir, "good.db")
	text := filepath.Join(dir, "text.db")
	os.WriteFile(text, []byte("hello, I am not a database at all"), 0o644)
	foreign := filepath.Join(dir, "foreign.db")
	func() {
		db, err := sql.Open("sqlite3", foreign)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE x (y)"); err != nil {
			t.Fatal(err)
		}
	}()
	newer := shardB.create(t, dir, "newer.db")
	func() {
		db := storetest.SQL(t, newer)
		defer db.Close()
		if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
			t.Fatal(err)
		}
	}()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	dangling := baseline{files: map[string]uint64{"a.py": 1}, blocks: []blk{{ref: "a.py::f@1"}},
		tests: []tst{{"t.py::x", store.Passed, 1, []string{"a.py::f@1"}}}}.create(t, dir, "dangling.db")
	func() {
		db := storetest.SQL(t, dangling)
		defer db.Close()
		if _, err := db.Exec("UPDATE tests SET deps = ?", store.EncodeIDs([]int64{1, 99})); err != nil {
			t.Fatal(err)
		}
	}()

	tests := []struct {
		name   string
		input  string
		want   string
		notADB bool
	}{
		{"missing", filepath.Join(dir, "missing.db"), filepath.Join(dir, "missing.db") + ": no such file or directory", false},
		{"not SQLite", text, text + ": not a pytest-difftest database (not a SQLite file)", true},
		{"foreign", foreign, foreign + ": not a pytest-difftest database (a SQLite file of another application)", true},
		{"newer schema", newer, newer + ": not a pytest-difftest database (schema version 99 is newer", true},
		{"empty directory", empty, empty + ": no .db files in this directory", false},
		{"missing remote", "file://" + filepath.Join(dir, "nope.db"), "file://" + filepath.Join(dir, "nope.db") + ": file does not exist", false},
		{"empty remote prefix", "file://" + empty + "/", "file://" + empty + "/: no .db objects under this prefix", false},
		{"damaged", dangling, dangling + ": damaged: test t.py::x depends on block 99", false},
	}
	out := filepath.Join(dir, "out.db")
	if _, err := Run(context.Background(), out, []string{good}, Options{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(out)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), out, []string{good, tt.input}, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want one starting %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on several lines: %q", err)
			}
			if tt.notADB && !errors.Is(err, store.ErrNotDatabase) && !strings.Contains(err.Error(), store.ErrNotDatabase.Error()) {
				t.Errorf("error %v does not say it is not a database", err)
			}
			after, _ := os.ReadFile(out)
			if !bytes.Equal(before, after) {
				t.Error("output changed")
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".tmp") {
					t.Errorf("temporary file left behind: %s", e.Name())
				}
			}
		})
	}
	t.Run("output is not a database", func(t *testing.T) {
		_, err := Run(context.Background(), text, []string{good}, Options{})
		if err == nil || !strings.Contains(err.Error(), "not overwriting") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("output is a directory", func(t *testing.T) {
		_, err := Run(context.Background(), empty, []string{good}, Options{})
		if err == nil || err.Error() != empty+": is a directory" {
			t.Fatalf("got %v", err)
		}
	})
}

// The merged output is a complete database: no WAL beside it, and merging
// it again with an input changes nothing.
func TestMergeOutputIsSelfContained(t *testing.T) {
	dir := t.TempDir()
	a := shardA.create(t, dir, "a.db")
	b := shardB.create(t, dir, "b.db")
	out := filepath.Join(dir, "out.db")
	if _, err := Run(context.Background(), out, []string{a, b}, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(out + s); err == nil {
			t.Errorf("%s left beside the output", out+s)
		}
	}
	first := read(t, out)
	again := filepath.Join(dir, "again.db")
	if _, err := Run(context.Background(), again, []string{out, a}, Options{}); err != nil {
		t.Fatal(err)
	}
	second := read(t, again)
	if !maps.Equal(first.tests, second.tests) || !maps.Equal(first.blocks, second.blocks) || !maps.Equal(first.files, second.files) {
		t.Errorf("merging the output with one of its inputs changed it:\n%v\n%v", first, second)
	}
}

// Remote objects and prefixes through the file:// client, and a remote
// output.
func TestMergeRemoteFile(t *testing.T) {
	dir := t.TempDir()
	shards := filepath.Join(dir, "shards")
	os.Mkdir(shards, 0o755)
	shardA.create(t, shards, "a.db")
	b := shardB.create(t, dir, "b.db")
	outURL := "file://" + filepath.Join(dir, "remote", "out.db")
	res, err := Run(context.Background(), outURL, []string{"file://" + shards + "/", "file://" + b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tests != 2 {
		t.Errorf("got %d tests, want 2", res.Tests)
	}
	got := read(t, filepath.Join(dir, "remote", "out.db"))
	if len(got.tests) != 2 {
		t.Errorf("tests: %v", got.tests)
	}
}

// Shared dependency sets (what a test file imports) are remapped like the
// tests' own lists, stored once per content, and their blocks' stale flags
// follow the same rule.
func TestMergeDepsets(t *testing.T) {
	lib := []blk{{ref: "lib.py::<module>@1"}, {ref: "lib.py::<defs>@2"}}
	a := baseline{
		at:    100,
		files: map[string]uint64{"lib.py": 1, "t_a.py": 2},
		// Declared in another order than in b: other ids for the same versions.
		blocks: append([]blk{{ref: "t_a.py::test_x@3"}, {ref: "t_a.py::test_y@4"}}, lib...),
		tests: []tst{
			{"t_a.py::test_x", store.Passed, 100, []string{"t_a.py::test_x@3"}},
			{"t_a.py::test_y", store.Passed, 100, []string{"t_a.py::test_y@4"}},
		},
		sets: map[string][]string{"t_a.py::test_x": refs(lib), "t_a.py::test_y": refs(lib)},
	}
	b := baseline{
		at:     200,
		files:  map[string]uint64{"lib.py": 1, "t_b.py": 5},
		blocks: append(slices.Clone(lib), blk{ref: "t_b.py::test_z@6"}, blk{ref: "lib.py::old@9"}),
		tests: []tst{
			{"t_b.py::test_z", store.Failed, 200, []string{"t_b.py::test_z@6"}},
		},
		sets: map[string][]string{"t_b.py::test_z": refs(lib)},
	}
	shared := " | lib.py::<defs>@2 lib.py::<module>@1"
	for _, order := range [][]baseline{{a, b}, {b, a}} {
		got := mergeFixtures(t, order...)
		want := map[string]string{
			"t_a.py::test_x": rec(store.Passed, 100, "t_a.py::test_x@3") + shared,
			"t_a.py::test_y": rec(store.Passed, 100, "t_a.py::test_y@4") + shared,
			"t_b.py::test_z": rec(store.Failed, 200, "t_b.py::test_z@6") + shared,
		}
		if !maps.Equal(got.tests, want) {
			t.Errorf("tests:\n got %v\nwant %v", got.tests, want)
		}
		if got.sets != 1 {
			t.Errorf("got %d dependency sets, want 1 (same content)", got.sets)
		}
		if _, ok := got.blocks["lib.py::old@9"]; ok {
			t.Error("a block version no test depends on was kept")
		}
	}

	// A newer input where lib.py changed: the set's versions are stale
	// unless the newer input holds them as current.
	c := baseline{
		at:     300,
		files:  map[string]uint64{"lib.py": 7, "t_c.py": 8},
		blocks: []blk{{ref: "lib.py::<module>@1"}, {ref: "lib.py::<defs>@10"}, {ref: "t_c.py::test_w@11"}},
		tests:  []tst{{"t_c.py::test_w", store.Passed, 300, []string{"t_c.py::test_w@11"}}},
		sets:   map[string][]string{"t_c.py::test_w": {"lib.py::<module>@1", "lib.py::<defs>@10"}},
	}
	got := mergeFixtures(t, a, c)
	if want := map[string]bool{
		"lib.py::<module>@1": false, "lib.py::<defs>@2": true, "lib.py::<defs>@10": false,
		"t_a.py::test_x@3": false, "t_a.py::test_y@4": false, "t_c.py::test_w@11": false,
	}; !maps.Equal(got.blocks, want) {
		t.Errorf("stale flags: got %v, want %v", got.blocks, want)
	}
	if got.sets != 2 {
		t.Errorf("got %d dependency sets, want 2", got.sets)
	}
}

func TestMergeDanglingDepset(t *testing.T) {
	dir := t.TempDir()
	p := baseline{files: map[string]uint64{"a.py": 1}, blocks: []blk{{ref: "a.py::f@1"}},
		tests: []tst{{"t.py::x", store.Passed, 1, []string{"a.py::f@1"}}}}.create(t, dir, "in.db")
	db := storetest.SQL(t, p)
	if _, err := db.Exec("UPDATE tests SET depset = 42"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Run(context.Background(), filepath.Join(dir, "out.db"), []string{p}, Options{})
	if want := p + ": damaged: test t.py::x: its dependency set 42 does not exist"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// copyFile copies src to dst, or does nothing if src does not exist.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// crashedWriter leaves at path a baseline whose last transaction is
// committed only in its write-ahead log, as a process killed while it had
// the database open leaves it.
func crashedWriter(t *testing.T, from, path string) {
	t.Helper()
	db := storetest.SQL(t, from)
	defer db.Close()
	for _, q := range []string{
		"PRAGMA journal_mode = WAL",
		"PRAGMA wal_autocheckpoint = 0",
		"INSERT INTO meta (key, value) VALUES ('only_in_the_wal', 'yes')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	// A copy while the connection is open: the "killed" state.
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, from+suffix, path+suffix)
	}
	if st, err := os.Stat(path + "-wal"); err != nil || st.Size() == 0 {
		t.Fatalf("no write-ahead log beside %s: %v", path, err)
	}
}

// Fault injection: a final rename that fails leaves the old output as it
// was, byte for byte when it had no write-ahead log, and with every
// committed transaction when it had one.
func TestMergeFailedRenameKeepsTheOutput(t *testing.T) {
	dir := t.TempDir()
	a := shardA.create(t, dir, "a.db")
	b := shardB.create(t, dir, "b.db")
	fail := errors.New("injected rename failure")
	tests := []struct {
		name  string
		setup func(t *testing.T, out string)
	}{
		{"closed output", func(t *testing.T, out string) {
			if _, err := Run(context.Background(), out, []string{a}, Options{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"output with committed data in its log", func(t *testing.T, out string) {
			if _, err := Run(context.Background(), out+".src", []string{a}, Options{}); err != nil {
				t.Fatal(err)
			}
			crashedWriter(t, out+".src", out)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := t.TempDir()
			out := filepath.Join(sub, "out.db")
			tt.setup(t, out)
			_, hadLog := os.Stat(out + "-wal")
			before, _ := os.ReadFile(out)

			rename = func(string, string) error { return fail }
			_, err := Run(context.Background(), out, []string{a, b}, Options{})
			rename = os.Rename
			if err == nil || !strings.Contains(err.Error(), fail.Error()) {
				t.Fatalf("Run: %v, want the rename failure", err)
			}
			if after, _ := os.ReadFile(out); hadLog != nil && !bytes.Equal(before, after) {
				t.Error("output changed")
			}
			got := read(t, out)
			if len(got.tests) == 0 {
				t.Error("output lost its tests")
			}
			if hadLog == nil && got.meta["only_in_the_wal"] != "yes" {
				t.Error("output lost the transaction committed in its write-ahead log")
			}
			entries, _ := os.ReadDir(sub)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".tmp") {
					t.Errorf("temporary file left behind: %s", e.Name())
				}
			}
			// And the next merge succeeds over it.
			if _, err := Run(context.Background(), out, []string{a, b}, Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
