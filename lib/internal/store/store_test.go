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
			if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
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
				if _, err := db.Exec("INSERT INTO tests (nodeid, outcome, duration_us, recorded_at, deps) VALUES (?, 0, 0, 0, x'')", strings.Repeat("x", 50)+string(rune(i))); err != nil {
					t.Fatal(err)
				}
			}
			db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
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
			if n, err := db.CountTests(); err != nil || n != 0 {
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
	failing, _ := FailingTests(db)
	var names []string
	for _, f := range failing {
		names = append(names, f.NodeID)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"t.py::b", "u.py::c"}) {
		t.Errorf("FailingTests = %v", names)
	}
	files2, _ := RecordedTestFiles(db)
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
			if n, _ := ro.CountTests(); n != 1 {
				t.Errorf("read back %d tests, want 1", n)
			}
		})
	}
}

// A test file's tests are a range of node ids; odd paths (a prefix of
// another path, a trailing ":", no "::") must not leak into another file's
// range, and the range must be a search of the key, not a scan.
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
	for _, id := range nodeids {
		if err := UpsertTest(db, Test{NodeID: id}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{}
	for _, id := range nodeids {
		want[TestFile(id)] = append(want[TestFile(id)], id)
	}
	files, err := RecordedTestFiles(db)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := slices.Sorted(maps.Keys(want))
	if !slices.Equal(files, wantFiles) {
		t.Errorf("RecordedTestFiles = %q, want %q", files, wantFiles)
	}
	for _, f := range append(wantFiles, "a.p", "none.py") {
		ts, err := TestsInFiles(db, []string{f})
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
	n, err := DeleteTestsInFile(db, "a.py")
	if err != nil || n != len(want["a.py"]) {
		t.Errorf("DeleteTestsInFile = %d, %v; want %d", n, err, len(want["a.py"]))
	}
	if left, _ := db.CountTests(); left != len(nodeids)-len(want["a.py"]) {
		t.Errorf("%d tests left", left)
	}

	for _, q := range []string{"SELECT nodeid FROM tests WHERE " + inFile, "DELETE FROM tests WHERE " + inFile} {
		text := strings.Join(explain(t, db, q), "; ")
		if strings.Contains(text, "SCAN") || !strings.Contains(text, "SEARCH tests USING PRIMARY KEY (nodeid>? AND nodeid<?)") {
			t.Errorf("%s: plan %q, want a range search of the key", q, text)
		}
	}
}

// explain returns the details of a query's plan.
func explain(t *testing.T, db *DB, q string) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, "a.py")
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
		got, ok, err := TestByNodeID(db, id)
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
	if _, err := db.Exec("INSERT INTO tests (nodeid, outcome, duration_us, recorded_at, deps) VALUES ('b.py::t', 0, 0, 0, x''), (CAST('a.py::t' AS BLOB), 0, 0, 0, x'')"); err != nil {
		t.Fatal(err)
	}
	if files, err := RecordedTestFiles(db); err == nil {
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
