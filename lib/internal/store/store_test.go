package store

import (
	"database/sql"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEncodeDecodeIDs(t *testing.T) {
	tests := []struct {
		name string
		in   []int64
		want []int64
	}{
		{"empty", nil, nil},
		{"one", []int64{7}, []int64{7}},
		{"unsorted with duplicates", []int64{300, 5, 5, 70000, 1}, []int64{1, 5, 300, 70000}},
		{"large ids", []int64{1 << 40, 1<<40 + 1}, []int64{1 << 40, 1<<40 + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			if err := DecodeIDs(EncodeIDs(tt.in), func(id int64) bool { got = append(got, id); return true }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if err := DecodeIDs([]byte{0xff}, func(int64) bool { return true }); err == nil {
		t.Error("truncated varint: want an error")
	}
}

func TestOpenSetsAsideUnusableFiles(t *testing.T) {
	foreign := func(path string) {
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE x (y)"); err != nil {
			t.Fatal(err)
		}
	}
	version := func(v int) func(path string) {
		return func(path string) {
			db, _, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.conn.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		prepare func(path string)
		warning string // substring; "" means no warning
	}{
		{"missing", func(string) {}, ""},
		{"empty file", func(p string) { os.WriteFile(p, nil, 0o644) }, ""},
		{"garbage", func(p string) { os.WriteFile(p, []byte(strings.Repeat("not a database ", 100)), 0o644) }, "not a pytest-difftest database"},
		{"foreign sqlite", foreign, "another application"},
		{"newer schema", version(99), "newer"},
		// A baseline of an earlier version is a cache: it is not migrated.
		{"earlier schema", version(SchemaVersion - 1), fmt.Sprintf("unknown schema version %d", SchemaVersion-1)},
		{"truncated", func(p string) {
			db, _, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2000; i++ {
				if _, err := db.conn.Exec("INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps) VALUES (1, ?, 0, 0, 0, x'')", strings.Repeat("x", 50)+string(rune(i))); err != nil {
					t.Fatal(err)
				}
			}
			db.conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			db.Close()
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "not a pytest-difftest database"},
		// SQLite reads the missing end of the last page as zeros.
		{"truncated within the last page", truncate(t, func(b []byte) []byte { return b[:len(b)-10] }), "truncated"},
		{"only the header", truncate(t, func(b []byte) []byte { return b[:100] }), "truncated"},
		{"less than the header", truncate(t, func(b []byte) []byte { return b[:60] }), "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "d.db")
			os.MkdirAll(filepath.Dir(path), 0o755)
			tt.prepare(path)
			db, set, err := Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			warning := ""
			if set != nil {
				warning = set.String()
			}
			if tt.warning == "" && warning != "" || !strings.Contains(warning, tt.warning) {
				t.Errorf("warning %q, want it to contain %q", warning, tt.warning)
			}
			if n, err := CountTests(db); err != nil || n != 0 {
				t.Errorf("CountTests = %d, %v; want a fresh database", n, err)
			}
			if tt.warning != "" {
				aside, _ := filepath.Glob(path + ".bad-*")
				if len(aside) == 0 {
					t.Error("the unusable file was not kept aside")
				}
			}
		})
	}
}

// truncate returns a preparation that writes a baseline with a test and
// then cuts its file.
func truncate(t *testing.T, cut func([]byte) []byte) func(string) {
	return func(p string) {
		db, _, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := UpsertTest(db, Test{NodeID: "t.py::a"}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		b, _ := os.ReadFile(p)
		os.WriteFile(p, cut(b), 0o644)
	}
}

func TestOpenExistingRejects(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "g.db")
	os.WriteFile(garbage, []byte("hello"), 0o644)
	if _, err := OpenExisting(garbage); err == nil {
		t.Error("garbage: want an error")
	}
	if _, err := OpenExisting(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("missing: want an error")
	}
	if _, err := OpenExisting(dir); err == nil {
		t.Error("directory: want an error")
	}
}

func TestBlocksAndTests(t *testing.T) {
	db, _, err := Open(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fid, err := UpsertFile(db, File{Path: "a.py", Size: 3, MtimeNs: 4, Hash: 1<<63 + 5})
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := upsertBlock(db, fid, "f", 1<<63+1, nil)
	b2, _ := upsertBlock(db, fid, "<defs>", 9, []string{"f", "g"})
	again, _ := upsertBlock(db, fid, "f", 1<<63+1, nil)
	if again != b1 {
		t.Errorf("same block version got two ids: %d, %d", b1, again)
	}
	if err := SetStale(db, []int64{b1}, true); err != nil {
		t.Fatal(err)
	}
	stale, _ := StaleBlocks(db)
	if len(stale) != 1 || stale[0].ID != b1 || stale[0].Checksum != 1<<63+1 {
		t.Errorf("StaleBlocks = %+v", stale)
	}
	// Recording the version again means it is current: no longer stale.
	upsertBlock(db, fid, "f", 1<<63+1, nil)
	if stale, _ := StaleBlocks(db); len(stale) != 0 {
		t.Errorf("after upsert, StaleBlocks = %+v", stale)
	}
	bs, _ := BlocksOfFile(db, fid)
	slices.SortFunc(bs, func(a, b Block) int { return strings.Compare(a.Name, b.Name) })
	if len(bs) != 2 || !slices.Equal(bs[0].Names, []string{"f", "g"}) || bs[1].Names != nil {
		t.Errorf("BlocksOfFile = %+v", bs)
	}
	files, _ := Files(db)
	if len(files) != 1 || files[0].Hash != 1<<63+5 {
		t.Errorf("Files = %+v", files)
	}
	for _, tc := range []Test{
		{NodeID: "t.py::a", Outcome: Passed, Deps: EncodeIDs([]int64{b1, b2})},
		{NodeID: "t.py::b", Outcome: Failed},
		{NodeID: "u.py::c", Outcome: Error},
	} {
		if err := UpsertTest(db, tc); err != nil {
			t.Fatal(err)
		}
	}
	failing, _ := FailingTests(db, 0)
	var names []string
	for _, f := range failing {
		names = append(names, f.NodeID)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"t.py::b", "u.py::c"}) {
		t.Errorf("FailingTests = %v", names)
	}
	files2, _ := RecordedTestFiles(db, 0)
	slices.Sort(files2)
	if !slices.Equal(files2, []string{"t.py", "u.py"}) {
		t.Errorf("RecordedTestFiles = %v", files2)
	}
}

// Paths are passed to SQLite as file: URIs, where "?", "#" and "%" mean
// something: each must still name the file itself.
func TestOpenPathsWithURICharacters(t *testing.T) {
	for _, name := range []string{"a#b", "a?b", "a%20b", "plain"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			path := filepath.Join(dir, "d.db")
			db, aside, err := Open(path)
			if err != nil || aside != nil {
				t.Fatalf("Open: %v %v", err, aside)
			}
			if err := UpsertTest(db, Test{NodeID: "t.py::a"}); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the database is not at %s: %v", path, err)
			}
			ro, err := OpenReadOnly(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if n, _ := CountTests(ro); n != 1 {
				t.Errorf("read back %d tests, want 1", n)
			}
		})
	}
}

// A test file's tests are a range of node ids within one environment; odd
// paths (a prefix of another path, a trailing ":", no "::") must not leak
// into another file's range, another environment's tests never show, and the
// range must be a search of the key, not a scan.
func TestTestsOfAFile(t *testing.T) {
	db, _, err := Open(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	nodeids := []string{
		"a.py", "a.py::t", "a.py::C::t", "a.py::t[x::y]", "a.py-b::t", "a.pyc::t", "a.py/b.py::t",
		"b/a.py::t", "a:", "a:::x", "a::y", "é.py::t", "z.py::t",
	}
	env, _ := EnsureEnv(db, "3.11")
	other, _ := EnsureEnv(db, "3.13")
	for _, id := range nodeids {
		if err := UpsertTest(db, Test{Env: env, NodeID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// The other environment shares some files and has one of its own.
	for _, id := range []string{"a.py::t", "a.py::only13", "c.py::t", "é.py::t"} {
		if err := UpsertTest(db, Test{Env: other, NodeID: id}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{}
	for _, id := range nodeids {
		want[TestFile(id)] = append(want[TestFile(id)], id)
	}
	files, err := RecordedTestFiles(db, env)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := slices.Sorted(maps.Keys(want))
	if !slices.Equal(files, wantFiles) {
		t.Errorf("RecordedTestFiles = %q, want %q", files, wantFiles)
	}
	for _, f := range append(wantFiles, "a.p", "none.py", "c.py") {
		ts, err := TestsInFiles(db, env, []string{f})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tc := range ts {
			got = append(got, tc.NodeID)
		}
		slices.Sort(got)
		slices.Sort(want[f])
		if !slices.Equal(got, want[f]) {
			t.Errorf("TestsInFiles(%q) = %q, want %q", f, got, want[f])
		}
	}
	n, err := DeleteTestsInFile(db, env, "a.py")
	if err != nil || n != len(want["a.py"]) {
		t.Errorf("DeleteTestsInFile = %d, %v; want %d", n, err, len(want["a.py"]))
	}
	if left, _ := CountTestsIn(db, env); left != len(nodeids)-len(want["a.py"]) {
		t.Errorf("%d tests left", left)
	}
	if got, _ := RecordedTestFiles(db, other); !slices.Equal(got, []string{"a.py", "c.py", "é.py"}) {
		t.Errorf("the other environment's files: %q", got)
	}
	if left, _ := CountTestsIn(db, other); left != 4 {
		t.Errorf("the other environment lost tests: %d left", left)
	}

	for _, q := range []string{"SELECT nodeid FROM tests WHERE " + inFile, "DELETE FROM tests WHERE " + inFile} {
		text := strings.Join(explain(t, db, q, "a.py", env), "; ")
		if strings.Contains(text, "SCAN") || !strings.Contains(text, "SEARCH tests USING PRIMARY KEY (env=? AND nodeid>? AND nodeid<?)") {
			t.Errorf("%s: plan %q, want a range search of the key", q, text)
		}
	}
}

// Each environment's tests, test files and counts are its own (SPEC 4.7);
// every lookup the no-change --diff path makes stays a search of a key.
func TestEnvironmentsKeepTheirOwnResults(t *testing.T) {
	db, _, err := Open(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := EnsureEnv(db, "3.11")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := EnsureEnv(db, "3.11"); again != a {
		t.Errorf("EnsureEnv gave %d, then %d", a, again)
	}
	b, _ := EnsureEnv(db, "ci")
	if id, ok, err := EnvByName(db, "ci"); id != b || !ok || err != nil {
		t.Errorf("EnvByName(ci) = %d, %v, %v", id, ok, err)
	}
	if _, ok, _ := EnvByName(db, "nope"); ok {
		t.Error("EnvByName(nope): want not found")
	}
	records := []Test{
		{Env: a, NodeID: "t.py::x", Outcome: Passed, RecordedAt: 1},
		{Env: a, NodeID: "t.py::y", Outcome: Failed, RecordedAt: 1},
		{Env: b, NodeID: "t.py::x", Outcome: Failed, RecordedAt: 2},
	}
	for _, r := range records {
		if err := UpsertTest(db, r); err != nil {
			t.Fatal(err)
		}
	}
	SetTestFile(db, a, "t.py", 5)
	SetTestFile(db, b, "t.py", 6)
	tests := []struct {
		env         int64
		failing     []string
		count       int
		testFileSum uint64
		outcomeOfX  Outcome
	}{
		{a, []string{"t.py::y"}, 2, 5, Passed},
		{b, []string{"t.py::x"}, 1, 6, Failed},
	}
	for _, tc := range tests {
		failing, _ := FailingTests(db, tc.env)
		var names []string
		for _, f := range failing {
			names = append(names, f.NodeID)
		}
		if !slices.Equal(names, tc.failing) {
			t.Errorf("env %d: FailingTests = %v, want %v", tc.env, names, tc.failing)
		}
		if n, _ := CountTestsIn(db, tc.env); n != tc.count {
			t.Errorf("env %d: CountTestsIn = %d, want %d", tc.env, n, tc.count)
		}
		if tf, _ := TestFiles(db, tc.env); tf["t.py"] != tc.testFileSum || len(tf) != 1 {
			t.Errorf("env %d: TestFiles = %v", tc.env, tf)
		}
		if x, ok, _ := TestByNodeID(db, tc.env, "t.py::x"); !ok || x.Outcome != tc.outcomeOfX || x.Env != tc.env {
			t.Errorf("env %d: TestByNodeID = %+v, %v", tc.env, x, ok)
		}
		var each []string
		EachTestIn(db, tc.env, func(t *Test) error { each = append(each, t.NodeID); return nil })
		if len(each) != tc.count {
			t.Errorf("env %d: EachTestIn saw %v", tc.env, each)
		}
	}
	if envs, _ := EnvsOfTest(db, "t.py::x"); !slices.Equal(envs, []int64{a, b}) {
		t.Errorf("EnvsOfTest = %v", envs)
	}
	DeleteTest(db, b, "t.py::x")
	if _, ok, _ := TestByNodeID(db, a, "t.py::x"); !ok {
		t.Error("deleting a test in one environment dropped it in the other")
	}
	if err := SetEnvRecorded(db, a, 42, map[string]string{"python": "3.11"}); err != nil {
		t.Fatal(err)
	}
	envs, err := Envs(db)
	if err != nil || len(envs) != 2 || envs[0].Name != "3.11" || envs[0].RecordedAt != 42 || envs[0].Vars["python"] != "3.11" || envs[1].RecordedAt != 0 {
		t.Errorf("Envs = %+v, %v", envs, err)
	}
	if n, _ := CountTestsByEnv(db); n[a] != 2 || n[b] != 0 {
		t.Errorf("CountTestsByEnv = %v", n)
	}

	plans := []struct {
		query string
		args  []any
		want  string
	}{
		{"SELECT outcome FROM tests WHERE env = ? AND nodeid = ?", []any{a, "t.py::x"}, "SEARCH tests USING PRIMARY KEY (env=? AND nodeid=?)"},
		{"SELECT count(*) FROM tests WHERE env = ?", []any{a}, "SEARCH tests USING PRIMARY KEY (env=?)"},
		{"SELECT nodeid FROM tests WHERE env = ? AND nodeid >= ? ORDER BY nodeid LIMIT 1", []any{a, ""}, "SEARCH tests USING PRIMARY KEY (env=? AND nodeid>?)"},
		{"SELECT path, hash FROM test_files WHERE env = ?", []any{a}, "SEARCH test_files USING PRIMARY KEY (env=?)"},
		{"SELECT id FROM envs WHERE name = ?", []any{"3.11"}, "SEARCH envs USING COVERING INDEX sqlite_autoindex_envs_1 (name=?)"},
	}
	for _, p := range plans {
		if got := strings.Join(explain(t, db, p.query, p.args...), "; "); got != p.want {
			t.Errorf("%s: plan %q, want %q", p.query, got, p.want)
		}
	}
}

// explain returns the details of a query's plan.
func explain(t *testing.T, db *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.conn.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return out
}

func TestDurationsAreStoredInMicroseconds(t *testing.T) {
	db, _, err := Open(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		in, want float64
	}{
		{0.0021038579998, 0.002104},
		{12.5, 12.5},
		{0, 0},
		{-1, 0},
		{math.NaN(), 0},
		{math.Inf(1), 0},
		{1e300, 0},
	}
	for i, tt := range tests {
		id := fmt.Sprintf("t.py::t%d", i)
		if err := UpsertTest(db, Test{NodeID: id, Duration: tt.in}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := TestByNodeID(db, 0, id)
		if err != nil || !ok || got.Duration != tt.want {
			t.Errorf("duration %v: read back %v (%v, %v), want %v", tt.in, got.Duration, ok, err, tt.want)
		}
	}
}

// A node id stored as a blob sorts after every text: seeking from one file
// to the next must stop on it rather than find it again and again.
func TestRecordedTestFilesStopsOnDisorder(t *testing.T) {
	db, _, err := Open(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.conn.Exec("INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps) VALUES (1, 'b.py::t', 0, 0, 0, x''), (1, CAST('a.py::t' AS BLOB), 0, 0, 0, x'')"); err != nil {
		t.Fatal(err)
	}
	if files, err := RecordedTestFiles(db, 1); err == nil {
		t.Errorf("RecordedTestFiles = %q, want an error", files)
	}
}

// upsertBlock is storetest.UpsertBlock, which this package's tests cannot
// import.
func upsertBlock(q Querier, fileID int64, name string, checksum uint64, names []string) (int64, error) {
	stored, err := BlocksOfFile(q, fileID)
	if err != nil {
		return 0, err
	}
	for _, b := range stored {
		if b.Name == name && b.Checksum == checksum {
			if b.Stale {
				err = SetStale(q, []int64{b.ID}, false)
			}
			return b.ID, err
		}
	}
	return InsertBlock(q, fileID, name, checksum, names)
}
