package store

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleDB returns the bytes of a small, valid baseline (WAL checkpointed
// into the main file), for seeds and for damaging.
func sampleDB(tb testing.TB) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "seed.db")
	db, _, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	fid, err := UpsertFile(db, File{Path: "a.py", Size: 10, MtimeNs: 5, Hash: 99})
	if err != nil {
		tb.Fatal(err)
	}
	b1, _ := upsertBlock(db, fid, "f", 1, nil)
	b2, _ := upsertBlock(db, fid, "<defs>", 2, []string{"f"})
	ds, _ := UpsertDepset(db, EncodeIDs([]int64{b2}), 7)
	env, err := EnsureEnv(db, "3.11")
	if err != nil {
		tb.Fatal(err)
	}
	for _, id := range []string{"t.py::a", "t.py::b"} {
		if err := UpsertTest(db, Test{Env: env, NodeID: id, Deps: EncodeIDs([]int64{b1, b2}), Depset: ds}); err != nil {
			tb.Fatal(err)
		}
	}
	SetTestFile(db, env, "t.py", 3)
	db.conn.Exec("INSERT INTO meta (key, value) VALUES ('commit', 'abc')")
	db.conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	// Small pages keep the seed small, and the fuzzer fast.
	db.conn.Exec("PRAGMA journal_mode = DELETE")
	db.conn.Exec("PRAGMA page_size = 512")
	if _, err := db.conn.Exec("VACUUM"); err != nil {
		tb.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// readEverything runs every read the engine does on a baseline. Errors are
// allowed (a damaged database); a panic is not.
func readEverything(db *DB) {
	Files(db)
	StaleBlocks(db)
	BlocksOfFile(db, 1)
	BlocksByID(db, []int64{1, 2})
	Envs(db)
	FailingTests(db, 1)
	EachTest(db, func(t *Test) error {
		return DecodeIDs(t.Deps, func(int64) bool { return true })
	})
	EachTestIn(db, 1, func(t *Test) error { return nil })
	TestsInFiles(db, 1, []string{"t.py"})
	TestFiles(db, 1)
	RecordedTestFiles(db, 1)
	CountTestsIn(db, 1)
	CountTestsByEnv(db)
	sets, _ := Depsets(db)
	for _, d := range sets {
		DecodeIDs(d, func(int64) bool { return true })
	}
	CountTests(db)
	Meta(db, "commit")
	EachBlock(db, func(*Block) error { return nil })
	AllMeta(db)
	MaxRecordedAt(db)
}

// FuzzOpen: whatever bytes sit at the database path, Open never panics and
// always ends with a usable database (the file set aside if need be), and
// OpenExisting never panics.
func FuzzOpen(f *testing.F) {
	good := sampleDB(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:100])
	f.Add([]byte{})
	f.Add([]byte("SQLite format 3\x00"))
	f.Add([]byte("not a database at all"))
	newer := append([]byte(nil), good...)
	newer[63] = 99 // user_version, big-endian at offset 60
	f.Add(newer)
	flipped := append([]byte(nil), good...)
	for i := 512; i < len(flipped); i += 97 {
		flipped[i] ^= 0x5a
	}
	f.Add(flipped)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "d.db")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if db, err := OpenExisting(path); err == nil {
			readEverything(db)
			db.Close()
		}
		db, aside, err := Open(path)
		if err != nil {
			t.Fatalf("Open: %v (set aside: %v)", err, aside)
		}
		defer db.Close()
		readEverything(db)
		if aside != nil {
			// Set aside: what is open now is a new, empty baseline.
			if n, err := CountTests(db); err != nil || n != 0 {
				t.Fatalf("after setting aside: %d tests, %v", n, err)
			}
		}
		if _, err := UpsertFile(db, File{Path: "new.py", Size: 1}); err != nil && aside != nil {
			t.Fatalf("a new baseline is not writable: %v", err)
		}
	})
}

func TestOpenSetsAsideForgedSchemas(t *testing.T) {
	forge := func(stmts ...string) func(string) {
		return func(path string) {
			db, _, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, s := range stmts {
				if _, err := db.conn.Exec(s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
		}
	}
	tests := []struct {
		name    string
		prepare func(string)
	}{
		// Our application id and version, not our tables: every query of
		// every run would fail.
		{"missing table", forge("DROP TABLE tests")},
		{"missing column", forge("DROP TABLE files", "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT)")},
		{"missing primary key", forge("DROP TABLE tests", `CREATE TABLE tests (
	nodeid      TEXT NOT NULL,
	outcome     INTEGER NOT NULL,
	duration_us INTEGER NOT NULL,
	recorded_at INTEGER NOT NULL,
	deps        BLOB NOT NULL,
	depset      INTEGER NOT NULL DEFAULT 0
)`)},
		{"table replaced by a view", forge("DROP TABLE depsets", "CREATE VIEW depsets AS SELECT 1 AS id, 2 AS hash, x'' AS deps")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.db")
			tt.prepare(path)
			if _, err := OpenExisting(path); !errors.Is(err, ErrNotDatabase) {
				t.Errorf("OpenExisting: %v, want ErrNotDatabase", err)
			}
			db, aside, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if aside == nil || !strings.Contains(aside.String(), "damaged") || !errors.Is(aside.Cause, ErrNotDatabase) {
				t.Errorf("set aside: %v", aside)
			}
			if _, err := UpsertFile(db, File{Path: "a.py"}); err != nil {
				t.Errorf("the new baseline: %v", err)
			}
		})
	}
	t.Run("extra objects are fine", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "d.db")
		forge("CREATE TABLE extra (x)", "CREATE INDEX tests_outcome ON tests (outcome)")(path)
		db, aside, err := Open(path)
		if err != nil || aside != nil {
			t.Fatalf("Open: %v, %v", aside, err)
		}
		db.Close()
	})
}

// A -wal file left by a crash is replayed; one full of garbage is ignored.
func TestOpenWithLeftoverWAL(t *testing.T) {
	for _, garbage := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "d.db")
		os.WriteFile(path, sampleDB(t), 0o644)
		if garbage {
			os.WriteFile(path+"-wal", []byte(strings.Repeat("garbage!", 1000)), 0o644)
		} else {
			// A committed transaction that only the WAL holds, as a process
			// killed after COMMIT leaves it.
			sdb, err := sql.Open("sqlite3", dsn(path, false))
			if err != nil {
				t.Fatal(err)
			}
			sdb.Exec("PRAGMA wal_autocheckpoint = 0")
			if _, err := sdb.Exec("INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps) VALUES (1, 't.py::c', 0, 0, 0, x'')"); err != nil {
				t.Fatal(err)
			}
			wal, _ := os.ReadFile(path + "-wal")
			main, _ := os.ReadFile(path)
			sdb.Close() // checkpoints: put the crash-time files back
			os.WriteFile(path, main, 0o644)
			os.WriteFile(path+"-wal", wal, 0o644)
			os.Remove(path + "-shm")
		}
		db, aside, err := Open(path)
		if err != nil || aside != nil {
			t.Fatalf("garbage=%v: Open: %v, %v", garbage, aside, err)
		}
		n, err := CountTests(db)
		want := 3
		if garbage {
			want = 2
		}
		if err != nil || n != want {
			t.Errorf("garbage=%v: %d tests (%v), want %d", garbage, n, err, want)
		}
		db.Close()
	}
}

func TestSampleDBIsSmallAndValid(t *testing.T) {
	b := sampleDB(t)
	path := filepath.Join(t.TempDir(), "d.db")
	os.WriteFile(path, b, 0o644)
	db, aside, err := Open(path)
	if err != nil || aside != nil {
		t.Fatalf("Open: %v, %v", aside, err)
	}
	defer db.Close()
	if n, _ := CountTests(db); n != 2 || len(b) > 16<<10 {
		t.Errorf("%d tests, %d bytes", n, len(b))
	}
}
