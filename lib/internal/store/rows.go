package store

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// File is a row of the files table. Size -1 records a missing file.
type File struct {
	ID   int64
	Path string
	Size int64
	// MtimeNs (the column's name since schema 1) holds the stat key of
	// fingerprint.State.Key: 0 when no stat may vouch for the content.
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
	Env        int64 // envs row
	NodeID     string
	Outcome    Outcome
	Duration   float64 // seconds, stored to the microsecond
	RecordedAt int64
	Deps       []byte
	Depset     int64 // 0: none
}

// TestFile returns the test file part of a node id: what comes before the
// first "::", or the whole id.
func TestFile(nodeid string) string {
	if i := strings.Index(nodeid, "::"); i >= 0 {
		return nodeid[:i]
	}
	return nodeid
}

// inFile selects the tests of test file ?1 (TestFile(nodeid) = ?1) in
// environment ?2. The first part is one range search on the primary key:
// the file itself and "<file>::..." both sort within [?1, ?1 || ':;'). The
// second makes it exact: the range also holds paths that extend ?1 with a
// character sorting before ':' ("a.py-b::t"), and paths may themselves end
// with ":" or hold "::". instr and substr count characters, the same on
// both sides.
const inFile = `env = ?2 AND nodeid >= ?1 AND nodeid < ?1 || ':;'
	AND ?1 = CASE WHEN instr(nodeid, '::') > 0 THEN substr(nodeid, 1, instr(nodeid, '::') - 1) ELSE nodeid END`

// micros converts a duration in seconds to whole microseconds; NaN,
// negative and absurd values (a clock gone wrong) become 0.
func micros(seconds float64) int64 {
	if !(seconds > 0 && seconds < 1e12) {
		return 0
	}
	return int64(math.Round(seconds * 1e6))
}

func seconds(us int64) float64 { return float64(us) / 1e6 }

// Pseudo-block names: the blocks rows that are not Python definitions
// (those carry their qualified names), and the pseudo-file of the
// environment. Stored in baselines: never rename one.
const (
	ContentBlock = "<content>" // a file by its bytes: data files, files read as data
	WholeBlock   = "<file>"    // an unparsable Python file
	DefsBlock    = "<defs>"    // the names a Python file defines
	ModuleBlock  = "<module>"  // a Python file's module-level code
)

// envPrefix starts the path of an environment's pseudo-file, which holds
// its environment blocks (python version, distributions, pytest
// configuration): one per environment (SPEC 4.7), so that what one
// environment records never makes another's blocks stale.
const envPrefix = "<env:"

// EnvPath is the path of the pseudo-file of the environment named env.
func EnvPath(env string) string { return envPrefix + env + ">" }

// IsEnvPath reports whether a stored path is an environment's pseudo-file
// rather than a file of the project.
func IsEnvPath(path string) bool {
	return strings.HasPrefix(path, envPrefix) && strings.HasSuffix(path, ">")
}

// Querier is a *DB or a *Tx: the functions of this package run on either.
// Its methods are unexported so that only this package writes SQL.
type Querier interface {
	query(query string, args ...any) (*sql.Rows, error)
	queryRow(query string, args ...any) *sql.Row
	exec(query string, args ...any) (sql.Result, error)
}

// sqlQuerier is what both *sql.DB and *sql.Tx offer.
type sqlQuerier interface {
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
	Exec(query string, args ...any) (sql.Result, error)
}

func (db *DB) query(q string, args ...any) (*sql.Rows, error) { return db.conn.Query(q, args...) }
func (db *DB) queryRow(q string, args ...any) *sql.Row        { return db.conn.QueryRow(q, args...) }
func (db *DB) exec(q string, args ...any) (sql.Result, error) { return db.conn.Exec(q, args...) }

func (tx *Tx) query(q string, args ...any) (*sql.Rows, error) { return tx.tx.Query(q, args...) }
func (tx *Tx) queryRow(q string, args ...any) *sql.Row        { return tx.tx.QueryRow(q, args...) }
func (tx *Tx) exec(q string, args ...any) (sql.Result, error) { return tx.tx.Exec(q, args...) }

// Files returns every file row.
func Files(q Querier) ([]File, error) {
	rows, err := q.query("SELECT id, path, size, mtime_ns, hash FROM files")
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
	err := q.queryRow(`INSERT INTO files (path, size, mtime_ns, hash) VALUES (?, ?, ?, ?)
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
	rows, err := q.query(query, args...)
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

// InsertBlock stores a new block version (not stale) and returns its id.
func InsertBlock(q Querier, fileID int64, name string, checksum uint64, names []string) (int64, error) {
	var namesArg any
	if names != nil {
		namesArg = strings.Join(names, "\n")
	}
	// Exec and the rowid it reports: cheaper than RETURNING, which runs a
	// statement with rows to step through and reset.
	res, err := q.exec("INSERT INTO blocks (file_id, name, checksum, names) VALUES (?, ?, ?, ?)",
		fileID, name, int64(checksum), namesArg)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// SetStale sets the stale flag of the given block versions.
func SetStale(q Querier, ids []int64, stale bool) error {
	for _, id := range ids {
		if _, err := q.exec("UPDATE blocks SET stale = ? WHERE id = ?", stale, id); err != nil {
			return err
		}
	}
	return nil
}

// FailingTests returns the tests of an environment whose last recorded
// outcome is failed or error (without deps).
func FailingTests(q Querier, env int64) ([]Test, error) {
	return queryTests(q, "SELECT env, nodeid, outcome, duration_us, recorded_at FROM tests WHERE env = ? AND outcome IN (?, ?)", env, Failed, Error)
}

// EachTest calls fn for every test of every environment, with its
// dependencies, until fn returns an error.
func EachTest(q Querier, fn func(t *Test) error) error {
	return eachTest(q, fn, "SELECT env, nodeid, outcome, duration_us, recorded_at, deps, depset FROM tests")
}

// EachTestIn calls fn for every test of one environment, with its
// dependencies, until fn returns an error.
func EachTestIn(q Querier, env int64, fn func(t *Test) error) error {
	return eachTest(q, fn, "SELECT env, nodeid, outcome, duration_us, recorded_at, deps, depset FROM tests WHERE env = ?", env)
}

func eachTest(q Querier, fn func(t *Test) error, query string, args ...any) error {
	rows, err := q.query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var t Test
	var us int64
	for rows.Next() {
		if err := rows.Scan(&t.Env, &t.NodeID, &t.Outcome, &us, &t.RecordedAt, &t.Deps, &t.Depset); err != nil {
			return err
		}
		t.Duration = seconds(us)
		if err := fn(&t); err != nil {
			return err
		}
	}
	return rows.Err()
}

// TestsInFiles returns the tests of the given test files in one
// environment (without deps).
func TestsInFiles(q Querier, env int64, files []string) ([]Test, error) {
	var out []Test
	for _, f := range files {
		ts, err := queryTests(q, "SELECT env, nodeid, outcome, duration_us, recorded_at FROM tests WHERE "+inFile, f, env)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

func queryTests(q Querier, query string, args ...any) ([]Test, error) {
	rows, err := q.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Test
	for rows.Next() {
		var t Test
		var us int64
		if err := rows.Scan(&t.Env, &t.NodeID, &t.Outcome, &us, &t.RecordedAt); err != nil {
			return nil, err
		}
		t.Duration = seconds(us)
		out = append(out, t)
	}
	return out, rows.Err()
}

// UpsertTest writes a test's record, replacing any earlier one.
func UpsertTest(q Querier, t Test) error {
	if t.Deps == nil {
		t.Deps = []byte{}
	}
	_, err := q.exec(`INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps, depset) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (env, nodeid) DO UPDATE SET outcome = excluded.outcome, duration_us = excluded.duration_us,
		recorded_at = excluded.recorded_at, deps = excluded.deps, depset = excluded.depset`,
		t.Env, t.NodeID, t.Outcome, micros(t.Duration), t.RecordedAt, t.Deps, t.Depset)
	if err != nil {
		return fmt.Errorf("store test %s: %w", t.NodeID, err)
	}
	return nil
}

// TestFiles returns the test files whose every test was recorded in an
// environment, with the content hash they had then.
func TestFiles(q Querier, env int64) (map[string]uint64, error) {
	rows, err := q.query("SELECT path, hash FROM test_files WHERE env = ?", env)
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

// SetTestFile notes a completely recorded test file in an environment.
func SetTestFile(q Querier, env int64, path string, hash uint64) error {
	if _, err := q.exec(`INSERT INTO test_files (env, path, hash) VALUES (?, ?, ?)
		ON CONFLICT (env, path) DO UPDATE SET hash = excluded.hash`, env, path, int64(hash)); err != nil {
		return fmt.Errorf("note test file %s: %w", path, err)
	}
	return nil
}

// DeleteTestFile forgets that a test file was completely recorded in an
// environment.
func DeleteTestFile(q Querier, env int64, path string) error {
	if _, err := q.exec("DELETE FROM test_files WHERE env = ? AND path = ?", env, path); err != nil {
		return fmt.Errorf("forget test file %s: %w", path, err)
	}
	return nil
}

// DeleteTest drops a test's record in one environment.
func DeleteTest(q Querier, env int64, nodeid string) error {
	_, err := q.exec("DELETE FROM tests WHERE env = ? AND nodeid = ?", env, nodeid)
	return err
}

// DeleteTestsInFile drops the records of a test file's tests in one
// environment and returns how many there were.
func DeleteTestsInFile(q Querier, env int64, file string) (int, error) {
	res, err := q.exec("DELETE FROM tests WHERE "+inFile, file, env)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DeleteFileIfUnused drops a files row that no block version refers to.
func DeleteFileIfUnused(q Querier, id int64) error {
	if _, err := q.exec("DELETE FROM files WHERE id = ? AND NOT EXISTS (SELECT 1 FROM blocks WHERE file_id = ?)", id, id); err != nil {
		return fmt.Errorf("delete file row %d: %w", id, err)
	}
	return nil
}

// DeleteDepset drops a dependency set.
func DeleteDepset(q Querier, id int64) error {
	if _, err := q.exec("DELETE FROM depsets WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete dependency set %d: %w", id, err)
	}
	return nil
}

// DeleteBlock drops a block version.
func DeleteBlock(q Querier, id int64) error {
	if _, err := q.exec("DELETE FROM blocks WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete block version %d: %w", id, err)
	}
	return nil
}

// RecordedTestFiles returns the distinct files of the tests recorded in an
// environment, sorted. It seeks from one file's tests to the next rather
// than reading every test: one search per file.
func RecordedTestFiles(q Querier, env int64) ([]string, error) {
	var out []string
	// Node ids sort by file: those of file f are f itself and the range
	// [f+"::", f+":;"), so the next file starts at or after f+":;" (after
	// f itself when it has no "::").
	from := ""
	for {
		var nodeid string
		// The cast is measured, not derived: with the environment bound
		// as is, this seek (one per test file, on the no-change path) took
		// two to three times as long (SQLite 3.54.1, go-sqlite3 1.14.53),
		// for the same query plan.
		err := q.queryRow("SELECT nodeid FROM tests WHERE env = CAST(? AS INTEGER) AND nodeid >= ? ORDER BY nodeid LIMIT 1", env, from).Scan(&nodeid)
		if errors.Is(err, sql.ErrNoRows) {
			// A file's tests need not be contiguous: "a.py", "a.py-b::t",
			// "a.py::t" sort in this order.
			slices.Sort(out)
			return slices.Compact(out), nil
		}
		if err != nil {
			return nil, err
		}
		if nodeid < from {
			// Out of order (a damaged table, or a node id that is not
			// text): seeking on could loop for ever.
			return nil, fmt.Errorf("%w (damaged: test %q out of order)", ErrNotDatabase, nodeid)
		}
		f := TestFile(nodeid)
		out = append(out, f)
		if f == nodeid {
			from = nodeid + "\x00"
		} else {
			from = f + ":;"
		}
	}
}

// queryColumn returns the single column of a query's rows.
func queryColumn[T any](q Querier, query string, args ...any) ([]T, error) {
	rows, err := q.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// UpsertDepset stores a shared dependency list (from EncodeIDs) once and
// returns its id. Lists are found by hash, but a hash only narrows the
// search: a list whose hash is taken by other bytes goes to the next free
// hash (hash+1, ...), and a match is one whose bytes are equal. Returning a
// colliding list would give a test the dependencies of another.
func UpsertDepset(q Querier, deps []byte, hash uint64) (int64, error) {
	for probe := 0; probe < maxProbes; probe++ {
		var id int64
		var have []byte
		err := q.queryRow("SELECT id, deps FROM depsets WHERE hash = ?", int64(hash)).Scan(&id, &have)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			res, err := q.exec("INSERT INTO depsets (hash, deps) VALUES (?, ?)", int64(hash), deps)
			if err != nil {
				return 0, fmt.Errorf("store dependency set: %w", err)
			}
			return res.LastInsertId()
		case err != nil:
			return 0, fmt.Errorf("read dependency set: %w", err)
		case bytes.Equal(have, deps):
			return id, nil
		}
		hash++
	}
	return 0, fmt.Errorf("store dependency set: %d hashes in a row are taken", maxProbes)
}

// maxProbes bounds the search for a free hash: with 64-bit hashes even two
// collisions in a row mean a damaged or forged table.
const maxProbes = 64

// Depsets returns every shared dependency list by id.
func Depsets(q Querier) (map[int64][]byte, error) {
	rows, err := q.query("SELECT id, deps FROM depsets")
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

// Durations returns the recorded duration in seconds of every test of an
// environment, keyed by node id (for splitting a selection over CI
// shards).
func Durations(q Querier, env int64) (map[string]float64, error) {
	rows, err := q.query("SELECT nodeid, duration_us FROM tests WHERE env = ?", env)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]float64{}
	var nodeid string
	var us int64
	for rows.Next() {
		if err := rows.Scan(&nodeid, &us); err != nil {
			return nil, err
		}
		out[nodeid] = seconds(us)
	}
	return out, rows.Err()
}

// MissingBlocks returns those of ids (distinct) that no block row holds;
// SQLite checks them in one statement, which costs far less than reading
// every id out.
func MissingBlocks(q Querier, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list := make([]byte, 0, len(ids)*6+2)
	list = append(list, '[')
	for i, id := range ids {
		if i > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, id, 10)
	}
	list = append(list, ']')
	rows, err := q.query("SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM blocks WHERE id = value)", string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// OrphanBlocks returns the block versions whose file row is missing.
func OrphanBlocks(q Querier) ([]Block, error) {
	return queryBlocks(q, "SELECT id, file_id, name, checksum, stale, names FROM blocks WHERE file_id NOT IN (SELECT id FROM files)")
}
