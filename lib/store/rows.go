package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// File is a row of the files table. Size -1 records a missing file.
type File struct {
	ID      int64
	Path    string
	Size    int64
	MtimeNs int64
	Hash    uint64
}

// Block is a row of the blocks table: one version of one block.
type Block struct {
	ID       int64
	FileID   int64
	Name     string
	Checksum uint64
	Stale    bool
	Names    []string // only for "<defs>"
}

// Test is a row of the tests table.
type Test struct {
	ID         int64
	NodeID     string
	File       string
	Outcome    Outcome
	Duration   float64
	RecordedAt int64
	Deps       []byte
	Depset     int64 // 0: none
}

// Querier is what both *sql.DB and *sql.Tx offer.
type Querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
	Exec(query string, args ...any) (sql.Result, error)
}

// Files returns every file row.
func Files(q Querier) ([]File, error) {
	rows, err := q.Query("SELECT id, path, size, mtime_ns, hash FROM files")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		var f File
		var h int64
		if err := rows.Scan(&f.ID, &f.Path, &f.Size, &f.MtimeNs, &h); err != nil {
			return nil, err
		}
		f.Hash = uint64(h)
		out = append(out, f)
	}
	return out, rows.Err()
}

// UpsertFile stores a file's fingerprint and returns its id.
func UpsertFile(q Querier, f File) (int64, error) {
	var id int64
	err := q.QueryRow(`INSERT INTO files (path, size, mtime_ns, hash) VALUES (?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, hash = excluded.hash
		RETURNING id`, f.Path, f.Size, f.MtimeNs, int64(f.Hash)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store file %s: %w", f.Path, err)
	}
	return id, nil
}

// BlocksOfFile returns every recorded version of every block of a file.
func BlocksOfFile(q Querier, fileID int64) ([]Block, error) {
	return queryBlocks(q, "SELECT id, file_id, name, checksum, stale, names FROM blocks WHERE file_id = ?", fileID)
}

// StaleBlocks returns the block versions marked stale.
func StaleBlocks(q Querier) ([]Block, error) {
	return queryBlocks(q, "SELECT id, file_id, name, checksum, stale, names FROM blocks WHERE stale = 1")
}

// BlocksByID returns the given block versions.
func BlocksByID(q Querier, ids []int64) ([]Block, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var sb strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('?')
		args[i] = id
	}
	return queryBlocks(q, "SELECT id, file_id, name, checksum, stale, names FROM blocks WHERE id IN ("+sb.String()+")", args...)
}

func queryBlocks(q Querier, query string, args ...any) ([]Block, error) {
	rows, err := q.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Block
	for rows.Next() {
		var b Block
		var sum int64
		var names sql.NullString
		if err := rows.Scan(&b.ID, &b.FileID, &b.Name, &sum, &b.Stale, &names); err != nil {
			return nil, err
		}
		b.Checksum = uint64(sum)
		if names.Valid && names.String != "" {
			b.Names = strings.Split(names.String, "\n")
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// UpsertBlock returns the id of a block version, inserting it (not stale)
// when new, or marking it current again.
func UpsertBlock(q Querier, fileID int64, name string, checksum uint64, names []string) (int64, error) {
	var id int64
	var stale bool
	err := q.QueryRow("SELECT id, stale FROM blocks WHERE file_id = ? AND name = ? AND checksum = ?",
		fileID, name, int64(checksum)).Scan(&id, &stale)
	switch {
	case err == nil:
		if stale {
			_, err = q.Exec("UPDATE blocks SET stale = 0 WHERE id = ?", id)
		}
		return id, err
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	var namesArg any
	if names != nil {
		namesArg = strings.Join(names, "\n")
	}
	err = q.QueryRow("INSERT INTO blocks (file_id, name, checksum, names) VALUES (?, ?, ?, ?) RETURNING id",
		fileID, name, int64(checksum), namesArg).Scan(&id)
	return id, err
}

// SetStale sets the stale flag of the given block versions.
func SetStale(q Querier, ids []int64, stale bool) error {
	for _, id := range ids {
		if _, err := q.Exec("UPDATE blocks SET stale = ? WHERE id = ?", stale, id); err != nil {
			return err
		}
	}
	return nil
}

// FailingTests returns the node ids and files of tests whose last recorded
// outcome is failed or error.
func FailingTests(q Querier) ([]Test, error) {
	return queryTests(q, "SELECT id, nodeid, file, outcome, duration, recorded_at, x'' FROM tests WHERE outcome IN (?, ?)", Failed, Error)
}

// EachTest calls fn for every test, with its dependencies, until fn returns
// an error.
func EachTest(q Querier, fn func(t *Test) error) error {
	rows, err := q.Query("SELECT id, nodeid, file, outcome, duration, recorded_at, deps, depset FROM tests")
	if err != nil {
		return err
	}
	defer rows.Close()
	var t Test
	for rows.Next() {
		if err := rows.Scan(&t.ID, &t.NodeID, &t.File, &t.Outcome, &t.Duration, &t.RecordedAt, &t.Deps, &t.Depset); err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
	}
	return rows.Err()
}

// TestsInFiles returns the tests of the given test files (without deps).
func TestsInFiles(q Querier, files []string) ([]Test, error) {
	var out []Test
	for _, f := range files {
		ts, err := queryTests(q, "SELECT id, nodeid, file, outcome, duration, recorded_at, x'' FROM tests WHERE file = ?", f)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

func queryTests(q Querier, query string, args ...any) ([]Test, error) {
	rows, err := q.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Test
	for rows.Next() {
		var t Test
		if err := rows.Scan(&t.ID, &t.NodeID, &t.File, &t.Outcome, &t.Duration, &t.RecordedAt, &t.Deps); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// UpsertTest writes a test's record, replacing any earlier one.
func UpsertTest(q Querier, t Test) error {
	if t.Deps == nil {
		t.Deps = []byte{}
	}
	_, err := q.Exec(`INSERT INTO tests (nodeid, file, outcome, duration, recorded_at, deps, depset) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (nodeid) DO UPDATE SET file = excluded.file, outcome = excluded.outcome,
		duration = excluded.duration, recorded_at = excluded.recorded_at, deps = excluded.deps, depset = excluded.depset`,
		t.NodeID, t.File, t.Outcome, t.Duration, t.RecordedAt, t.Deps, t.Depset)
	if err != nil {
		return fmt.Errorf("store test %s: %w", t.NodeID, err)
	}
	return nil
}

// TestFiles returns the test files whose every test was recorded, with the
// content hash they had then.
func TestFiles(q Querier) (map[string]uint64, error) {
	rows, err := q.Query("SELECT path, hash FROM test_files")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var p string
		var h int64
		if err := rows.Scan(&p, &h); err != nil {
			return nil, err
		}
		out[p] = uint64(h)
	}
	return out, rows.Err()
}

// RecordedTestFiles returns the distinct files of recorded tests.
func RecordedTestFiles(q Querier) ([]string, error) {
	return queryStrings(q, "SELECT DISTINCT file FROM tests")
}

// queryStrings returns the single text column of a query's rows.
func queryStrings(q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// UpsertDepset stores a shared dependency list (from EncodeIDs) once and
// returns its id.
func UpsertDepset(q Querier, deps []byte, hash uint64) (int64, error) {
	var id int64
	err := q.QueryRow(`INSERT INTO depsets (hash, deps) VALUES (?, ?)
		ON CONFLICT (hash) DO UPDATE SET hash = excluded.hash
		RETURNING id`, int64(hash), deps).Scan(&id)
	return id, err
}

// Depsets returns every shared dependency list by id.
func Depsets(q Querier) (map[int64][]byte, error) {
	rows, err := q.Query("SELECT id, deps FROM depsets")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]byte{}
	for rows.Next() {
		var id int64
		var deps []byte
		if err := rows.Scan(&id, &deps); err != nil {
			return nil, err
		}
		out[id] = deps
	}
	return out, rows.Err()
}

// TestDeps returns a test's own dependency list; ok is false when the test
// has no record.
func TestDeps(q Querier, nodeid string) (deps []byte, ok bool, err error) {
	err = q.QueryRow("SELECT deps FROM tests WHERE nodeid = ?", nodeid).Scan(&deps)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return deps, err == nil, err
}

// SetTestDeps replaces a test's own dependency list.
func SetTestDeps(q Querier, nodeid string, deps []byte) error {
	_, err := q.Exec("UPDATE tests SET deps = ? WHERE nodeid = ?", deps, nodeid)
	return err
}
