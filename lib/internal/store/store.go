// Package store keeps the baseline in one SQLite file: the fingerprint of
// every file a test depended on, every version of a block that some test
// recorded, and one row per test with its outcome and its dependencies.
//
// A test's dependencies are the ids of block versions (file, name,
// checksum). A block version is stale when it no longer matches the file on
// disk; a test is affected when any of its dependencies is stale (SPEC 4.5).
// The comparison is per test: old versions stay until no test refers to them.
package store

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// SchemaVersion is stored in PRAGMA user_version. A database with another
// version is set aside rather than migrated: it is only a cache of test runs.
// Version 2: tests keyed by node id, without a file column; durations in
// microseconds; a test's own list leaves out what its depset holds.
// Version 3: tests and test_files per environment (envs; SPEC 4.7).
const SchemaVersion = 3

// applicationID marks our files ("dift") so that a foreign SQLite file at
// our path is recognised and set aside.
const applicationID = 0x64696674

// Outcome of a test's last recorded run.
type Outcome int

const (
	Passed Outcome = iota
	Failed
	Error
	Skipped
	XFailed
)

// MergeDeps is not an outcome: a record with it adds dependencies to a test
// recorded earlier in the session (what a fixture it used did when it was
// torn down, after the test's own record was written).
const MergeDeps Outcome = 255

// ImportDeps is not an outcome either: the record's node id is a module's
// path, and its dependencies are what importing that module ran. Every test
// file that imports the module depends on them.
const ImportDeps Outcome = 254

// Failing reports whether the test must run again regardless of its
// dependencies (SPEC 4.6).
func (o Outcome) Failing() bool { return o == Failed || o == Error }

func (o Outcome) String() string {
	switch o {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	case Error:
		return "error"
	case Skipped:
		return "skipped"
	case XFailed:
		return "xfailed"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// ErrNotDatabase means the file exists but is not a usable baseline of this
// schema version; Open sets such a file aside, other callers report it.
var ErrNotDatabase = errors.New("not a pytest-difftest database")

const schema = `
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
-- The fingerprint of each file at the last recording run: size -1 means the
-- file did not exist. mtime_ns holds a stat key (device, inode, size, mtime,
-- ctime), taken on this machine once the file had settled, or 0: a match
-- means unchanged without reading, and a baseline from elsewhere never
-- matches.
CREATE TABLE files (
	id       INTEGER PRIMARY KEY,
	path     TEXT NOT NULL UNIQUE,
	size     INTEGER NOT NULL,
	mtime_ns INTEGER NOT NULL,
	hash     INTEGER NOT NULL
);
-- Every block version some test depended on. stale is 1 when the version no
-- longer matches files' fingerprint. names holds the defined names for the
-- "<defs>" pseudo-block (stale when one of them disappeared).
CREATE TABLE blocks (
	id       INTEGER PRIMARY KEY,
	file_id  INTEGER NOT NULL,
	name     TEXT NOT NULL,
	checksum INTEGER NOT NULL,
	stale    INTEGER NOT NULL DEFAULT 0,
	names    TEXT
);
-- (file_id, name, checksum) is unique, but a file has few rows: an index on
-- file_id alone finds them at a quarter of the size of a unique index.
CREATE INDEX blocks_file ON blocks (file_id);
CREATE INDEX blocks_stale ON blocks (stale) WHERE stale = 1;
-- The environments whose results are kept apart (SPEC 4.7): by default one
-- per interpreter version ("3.11"), or a name the user gave. Files and block
-- versions are shared: they describe the checkout, whatever runs it.
-- recorded_at and vars: the last completed recording run in it, and the
-- values it was recorded with (JSON: python version, distributions...).
CREATE TABLE envs (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	recorded_at INTEGER NOT NULL DEFAULT 0,
	vars        TEXT NOT NULL DEFAULT '{}'
);
-- One row per test and environment, keyed by (env, node id): a test file's
-- tests are the range of node ids that start with "<file>::" (see
-- TestFile) within one environment, so neither a rowid nor an index on the
-- file is needed. duration_us: microseconds. deps: the sorted ids of the
-- block versions the test depended on, as delta-encoded uvarints (see
-- EncodeIDs), but for those in depset. depset: the dependencies it shares
-- with the other tests of its file (what its file and conftest.py files
-- import), stored once; or, when its own list would not fit in the row's
-- page (see FitsInPage), a list of everything it depends on.
CREATE TABLE tests (
	env         INTEGER NOT NULL,
	nodeid      TEXT NOT NULL,
	outcome     INTEGER NOT NULL,
	duration_us INTEGER NOT NULL,
	recorded_at INTEGER NOT NULL,
	deps        BLOB NOT NULL,
	depset      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (env, nodeid)
) WITHOUT ROWID;
-- Shared dependency lists, found again by the hash of their content.
CREATE TABLE depsets (
	id   INTEGER PRIMARY KEY,
	hash INTEGER NOT NULL UNIQUE,
	deps BLOB NOT NULL
);
-- A test file whose every collected test was recorded, in environment env,
-- at content hash "hash"; another hash means it may hold tests we never ran.
CREATE TABLE test_files (
	env  INTEGER NOT NULL,
	path TEXT NOT NULL,
	hash INTEGER NOT NULL,
	PRIMARY KEY (env, path)
) WITHOUT ROWID;
`

// DB is an open baseline. Its connection is unexported: the store is the
// only package that writes SQL. Methods on DB concern the connection and
// the file (Begin, Close, Checkpoint, journal modes); the functions that
// read and write rows take a Querier, so that they run on the DB or inside
// a transaction alike.
type DB struct {
	conn *sql.DB
	Path string
}

// Tx is a transaction on a DB; the rows functions take it as a Querier.
type Tx struct {
	tx *sql.Tx
}

// Begin starts a transaction. The database was opened with
// _txlock=immediate: Begin takes the write lock, waiting on busy_timeout
// for another writer.
func (db *DB) Begin() (*Tx, error) {
	tx, err := db.conn.Begin()
	if err != nil {
		return nil, fmt.Errorf("begin a transaction on %s: %w", db.Path, err)
	}
	return &Tx{tx: tx}, nil
}

// Commit commits the transaction.
func (tx *Tx) Commit() error { return tx.tx.Commit() }

// Rollback abandons the transaction; after Commit it does nothing (and
// returns sql.ErrTxDone), so a deferred Rollback is always safe.
func (tx *Tx) Rollback() error { return tx.tx.Rollback() }

// Close closes the database.
func (db *DB) Close() error { return db.conn.Close() }

// Unjournaled turns off the rollback journal and fsync: only for a new
// file that its writer deletes when writing fails (merge's temporary
// output), where they would cost time and protect nothing.
func (db *DB) Unjournaled() error {
	for _, pragma := range []string{"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF"} {
		if _, err := db.conn.Exec(pragma); err != nil {
			return fmt.Errorf("%s on %s: %w", pragma, db.Path, err)
		}
	}
	return nil
}

// SelfContained leaves write-ahead logging, so that once closed the file
// alone is the database, with no -wal or -shm beside it: a file to copy,
// upload or rename into place.
func (db *DB) SelfContained() error {
	if _, err := db.conn.Exec("PRAGMA journal_mode=DELETE"); err != nil {
		return fmt.Errorf("leave WAL mode on %s: %w", db.Path, err)
	}
	return nil
}

// SetAside reports a file that was not a usable baseline (Cause wraps
// ErrNotDatabase) and was renamed to To, a new baseline taking its place.
type SetAside struct {
	Path, To string
	Cause    error
}

func (a *SetAside) String() string {
	return fmt.Sprintf("%s: %v; moved it to %s and started a new baseline", a.Path, a.Cause, a.To)
}

// Open opens the baseline at path, creating it if needed. A file that is not
// a SQLite database, or one of another schema version, is renamed aside and
// a new database started; aside then says so.
func Open(path string) (db *DB, aside *SetAside, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	err = checkHeader(path)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		db, err = open(path, true, false)
		if err == nil {
			return db, nil, nil
		}
	}
	if !errors.Is(err, ErrNotDatabase) {
		return nil, nil, err
	}
	to, rerr := setAside(path)
	if rerr != nil {
		return nil, nil, fmt.Errorf("%s: %v; cannot set it aside: %w", path, err, rerr)
	}
	aside = &SetAside{Path: path, To: to, Cause: err}
	db, err = open(path, true, false)
	return db, aside, err
}

// OpenExisting opens a database for writing without creating or setting
// anything aside; ErrNotDatabase when it is not one of ours.
func OpenExisting(path string) (*DB, error) {
	return openExisting(path, false)
}

// OpenReadOnly opens a database only to read it (inspect, merge inputs): its
// file is left exactly as it was.
func OpenReadOnly(path string) (*DB, error) {
	return openExisting(path, true)
}

// openExisting's errors are *fs.PathError about path, so that a caller
// that names the file its own way can take the cause (WithoutPath).
func openExisting(path string, readOnly bool) (*DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errIsDir}
	}
	if err := checkHeader(path); err != nil {
		return nil, WithPath(err, path)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		// Committed data may sit in the write-ahead log: open normally, and
		// closing folds it into the file.
		readOnly = false
	}
	db, err := open(path, false, readOnly)
	if err != nil {
		return nil, WithPath(err, path)
	}
	return db, nil
}

var errIsDir = errors.New("is a directory")

// WithPath makes err a *fs.PathError about path, unless it is one already.
func WithPath(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// WithoutPath returns the cause of err when err is a *fs.PathError about
// path (for a caller that names the file itself), and err otherwise.
func WithoutPath(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Err
	}
	return err
}

// uriPath percent-encodes path for a file: URI, in which "?" would start
// the parameters and "#" a fragment.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

func dsn(path string, readOnly bool) string {
	path = uriPath(path)
	if readOnly {
		// immutable: no locks and no -shm file; only used when no
		// write-ahead log exists, so there is nothing else to read.
		return "file:" + path + "?mode=ro&immutable=1"
	}
	// _txlock=immediate: a writer takes the lock at BEGIN, so concurrent
	// writers wait on busy_timeout instead of failing at COMMIT.
	// _stmt_cache_size: recording runs the same few statements thousands of
	// times, and preparing them anew each time was most of its cost.
	return "file:" + path + "?_busy_timeout=30000&_txlock=immediate&_journal_mode=WAL&_synchronous=NORMAL&_stmt_cache_size=64"
}

func open(path string, create, readOnly bool) (*DB, error) {
	sdb, err := sql.Open("sqlite3", dsn(path, readOnly))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	// One connection: SQLite serialises writers anyway, and one connection
	// keeps PRAGMAs and ATTACHed databases in one place.
	sdb.SetMaxOpenConns(1)
	db := &DB{conn: sdb, Path: path}
	if err := db.init(create); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// checkHeader rejects files that are not SQLite before the driver sees
// them, and files shorter than their header says (truncated): SQLite opens
// those lazily and would only fail on later, mid-run, or read the missing
// bytes as zeros.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 100) // the database header
	n, _ := io.ReadFull(f, head)
	if n == 0 {
		return nil // empty file: SQLite treats it as an empty database
	}
	if n < 16 || string(head[:16]) != "SQLite format 3\x00" {
		return fmt.Errorf("%w (not a SQLite file)", ErrNotDatabase)
	}
	// The file format's write and read versions (1: rollback journal, 2:
	// WAL): SQLite opens a file with a higher write version read-only, and
	// refuses one with a higher read version.
	if n < 20 || head[18] < 1 || head[18] > 2 || head[19] < 1 || head[19] > 2 {
		return fmt.Errorf("%w (unsupported SQLite file format)", ErrNotDatabase)
	}
	if n < len(head) {
		return fmt.Errorf("%w (truncated: %d bytes)", ErrNotDatabase, n)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return checkSize(path, head, st.Size())
}

// checkSize compares the file's size with the page count its header
// records, which replaces a quick_check of every page on every open: that
// costs time in proportion to the database, and what it caught here was a
// truncated file. Other damage SQLite reports as SQLITE_CORRUPT when it
// reads it, which callers classify (see classify).
func checkSize(path string, head []byte, size int64) error {
	pageSize := int64(binary.BigEndian.Uint16(head[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(head[28:32]))
	// The count is valid only if written by the same transaction as the
	// change counter ("version-valid-for"); SQLite otherwise goes by the
	// file's size, and an invalid page size is for SQLite to refuse.
	valid := pages > 0 && string(head[24:28]) == string(head[92:96])
	if !valid || pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return nil
	}
	// A log that SQLite replays on open (the -wal file, or the -journal of
	// a crash while creating the database) may hold the pages the file
	// lacks: then SQLite compares the header with the log itself.
	for _, log := range []string{path + "-wal", path + "-journal"} {
		if st, err := os.Stat(log); err == nil && st.Size() > 0 {
			return nil
		}
	}
	if want := pages * pageSize; size < want {
		return fmt.Errorf("%w (truncated: %d bytes, its header says %d)", ErrNotDatabase, size, want)
	}
	return nil
}

func (db *DB) init(create bool) error {
	var version, appID int
	if err := db.conn.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return classify(err)
	}
	if err := db.conn.QueryRow("PRAGMA application_id").Scan(&appID); err != nil {
		return classify(err)
	}
	var tables int
	if err := db.conn.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return classify(err)
	}
	switch {
	case tables == 0 && create:
		return db.create()
	case tables == 0:
		return fmt.Errorf("%w (empty)", ErrNotDatabase)
	case appID != applicationID:
		return fmt.Errorf("%w (a SQLite file of another application)", ErrNotDatabase)
	case version > SchemaVersion:
		return fmt.Errorf("%w (schema version %d is newer than this pytest-difftest's %d)", ErrNotDatabase, version, SchemaVersion)
	case version != SchemaVersion:
		return fmt.Errorf("%w (unknown schema version %d)", ErrNotDatabase, version)
	}
	return db.checkSchema()
}

// expectedSchema is what sqlite_master holds for a database created by
// this version: object name -> its CREATE statement.
var expectedSchema = sync.OnceValues(func() (map[string]string, error) {
	sdb, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		return nil, err
	}
	defer sdb.Close()
	sdb.SetMaxOpenConns(1)
	if _, err := sdb.Exec(schema); err != nil {
		return nil, err
	}
	return schemaOf(sdb)
})

// Prepare does ahead of time the work of the first Open that does not
// depend on the file: SQLite's initialisation and the expected schema.
func Prepare() {
	expectedSchema()
}

func schemaOf(q sqlQuerier) (map[string]string, error) {
	rows, err := q.Query("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			return nil, err
		}
		out[name] = text
	}
	return out, rows.Err()
}

// checkSchema rejects a database that has our application id and version
// but not our tables, columns, constraints and indexes (damaged or forged):
// every later query would fail on it, run after run.
func (db *DB) checkSchema() error {
	want, err := expectedSchema()
	if err != nil {
		return err
	}
	got, err := schemaOf(db.conn)
	if err != nil {
		return classify(err)
	}
	for name, text := range want {
		if got[name] != text {
			return fmt.Errorf("%w (damaged: table or index %s differs from schema version %d)", ErrNotDatabase, name, SchemaVersion)
		}
	}
	return nil
}

// pageSize is smaller than SQLite's default: a baseline is a dozen tables
// and indexes, most of them small, and each takes at least a page.
const pageSize = 1024

// maxCell is the largest record that a WITHOUT ROWID table such as tests
// keeps in its page (SQLite's limit for index b-trees: 231 bytes at 1 KiB
// pages). A longer row keeps 104 bytes in its page and the rest in an
// overflow page of its own: most of a KiB for a few bytes over.
const maxCell = (pageSize-12)*64/255 - 23

// testRowOverhead bounds the rest of a tests record: its header (10 bytes),
// env (2), outcome (1), duration (6), recorded_at (6) and depset (4).
const testRowOverhead = 29

// FitsInPage reports whether a test's row, with this node id and own
// dependency list, stays within its page (see maxCell).
func FitsInPage(nodeid string, deps []byte) bool {
	return len(nodeid)+len(deps)+testRowOverhead <= maxCell
}

func (db *DB) create() error {
	// The page size of a database in WAL mode is fixed: leave WAL, set it
	// (VACUUM applies it to the still empty file), and come back.
	for _, s := range []string{"PRAGMA journal_mode = DELETE", fmt.Sprintf("PRAGMA page_size = %d", pageSize), "VACUUM"} {
		if _, err := db.conn.Exec(s); err != nil {
			return classify(err)
		}
	}
	if err := db.createSchema(); err != nil {
		return err
	}
	if _, err := db.conn.Exec("PRAGMA journal_mode = WAL"); err != nil {
		return classify(err)
	}
	return nil
}

func (db *DB) createSchema() error {
	tx, err := db.conn.Begin()
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	stmts := []string{
		schema,
		fmt.Sprintf("PRAGMA application_id = %d", applicationID),
		fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion),
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s); err != nil {
			return classify(err)
		}
	}
	return tx.Commit()
}

// classify turns SQLite's errors about a file's content ("file is not a
// database", "malformed", "unsupported file format"...) into
// ErrNotDatabase; errors of the environment (locks, I/O, permissions,
// memory, disk space) stay what they are.
func classify(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrPerm,
			sqlite3.ErrReadonly, sqlite3.ErrNomem, sqlite3.ErrFull, sqlite3.ErrAuth, sqlite3.ErrInterrupt,
			sqlite3.ErrNoLFS, sqlite3.ErrAbort:
			return err
		}
		return fmt.Errorf("%w (%v)", ErrNotDatabase, err)
	}
	return err
}

func setAside(path string) (string, error) {
	aside := fmt.Sprintf("%s.bad-%s", path, time.Now().UTC().Format("20060102T150405.000"))
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Rename(path+suffix, aside+suffix)
	}
	return aside, nil
}

// Meta returns a value from the meta table, "" when unset.
func Meta(q Querier, key string) (string, error) {
	var v string
	err := q.queryRow("SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta stores key=value.
func SetMeta(q Querier, key, value string) error {
	_, err := q.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	if err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	return nil
}

// generationKey counts the cleanups that deleted rows whose ids sessions
// cache (block versions, dependency sets): SQLite reuses the ids of deleted
// rows, and another session's cleanup can delete rows a running session
// still holds the ids of.
const generationKey = "cleanup_generation"

// Generation returns the number of such cleanups so far.
func Generation(q Querier) (int64, error) {
	var g int64
	err := q.queryRow("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?", generationKey).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the cleanup generation: %w", err)
	}
	return g, nil
}

// NextGeneration records one more cleanup and returns the new count.
func NextGeneration(q Querier) (int64, error) {
	g, err := Generation(q)
	if err != nil {
		return 0, err
	}
	if err := SetMeta(q, generationKey, strconv.FormatInt(g+1, 10)); err != nil {
		return 0, err
	}
	return g + 1, nil
}

// CountTests returns how many tests are recorded, in every environment.
func CountTests(q Querier) (int, error) {
	var n int
	err := q.queryRow("SELECT count(*) FROM tests").Scan(&n)
	return n, err
}

// ErrInUse is returned when another connection holds the write-ahead log a
// checkpoint would empty.
var ErrInUse = errors.New("the database is in use by another process")

// CheckpointFile folds the write-ahead log beside the SQLite file at path
// (any SQLite file, of any schema) into the file and empties the log, so
// that the file alone holds every committed transaction: the log can then
// be deleted without losing data.
func CheckpointFile(path string) error {
	sdb, err := sql.Open("sqlite3", "file:"+uriPath(path)+"?_busy_timeout=30000")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer sdb.Close()
	if err := checkpoint(sdb, path); err != nil {
		return err
	}
	return sdb.Close()
}

// Checkpoint folds the database's write-ahead log into its file and
// empties the log (see CheckpointFile); ErrInUse when another connection
// holds the log.
func (db *DB) Checkpoint() error {
	return checkpoint(db.conn, db.Path)
}

func checkpoint(q sqlQuerier, path string) error {
	var busy, frames, done int
	if err := q.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint %s: %w", path, ErrInUse)
	}
	return nil
}

// CountTestsIn returns how many tests are recorded in one environment.
func CountTestsIn(q Querier, env int64) (int, error) {
	var n int
	err := q.queryRow("SELECT count(*) FROM tests WHERE env = ?", env).Scan(&n)
	return n, err
}
