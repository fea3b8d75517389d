package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Whole-database reading and writing, for tools that copy baselines (merge)
// rather than run a session.

// EachBlock calls fn for every block version, until fn returns an error.
// The Block passed to fn is reused between calls.
func EachBlock(q Querier, fn func(b *Block) error) error {
	rows, err := q.query("SELECT id, file_id, name, checksum, stale, names FROM blocks")
	if err != nil {
		return err
	}
	defer rows.Close()
	var b Block
	var sum int64
	var names sql.NullString
	for rows.Next() {
		if err := rows.Scan(&b.ID, &b.FileID, &b.Name, &sum, &b.Stale, &names); err != nil {
			return err
		}
		b.Checksum = uint64(sum)
		b.Names = nil
		if names.Valid && names.String != "" {
			b.Names = strings.Split(names.String, "\n")
		}
		if err := fn(&b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AllMeta returns the whole meta table.
func AllMeta(q Querier) (map[string]string, error) {
	rows, err := q.query("SELECT key, value FROM meta")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// MaxRecordedAt returns the latest tests.recorded_at, 0 for no tests.
func MaxRecordedAt(q Querier) (int64, error) {
	var v sql.NullInt64
	err := q.queryRow("SELECT max(recorded_at) FROM tests").Scan(&v)
	return v.Int64, err
}

// Loader fills a new, empty database inside one transaction, with the ids
// the caller chose: rows are inserted as given, without the conflict
// handling of the Upsert functions.
type Loader struct {
	files, blocks, depsets, envs, tests, testFiles, meta *sql.Stmt
}

// NewLoader prepares the insert statements on tx.
func NewLoader(tx *Tx) (*Loader, error) {
	l := &Loader{}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&l.files, "INSERT INTO files (id, path, size, mtime_ns, hash) VALUES (?, ?, ?, ?, ?)"},
		{&l.blocks, "INSERT INTO blocks (id, file_id, name, checksum, stale, names) VALUES (?, ?, ?, ?, ?, ?)"},
		{&l.depsets, "INSERT INTO depsets (id, hash, deps) VALUES (?, ?, ?)"},
		{&l.envs, "INSERT INTO envs (id, name, recorded_at, vars) VALUES (?, ?, ?, ?)"},
		{&l.tests, "INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps, depset) VALUES (?, ?, ?, ?, ?, ?, ?)"},
		{&l.testFiles, "INSERT INTO test_files (env, path, hash) VALUES (?, ?, ?)"},
		{&l.meta, "INSERT INTO meta (key, value) VALUES (?, ?)"},
	} {
		st, err := tx.tx.Prepare(s.sql)
		if err != nil {
			l.Close()
			return nil, err
		}
		*s.dst = st
	}
	return l, nil
}

// Close releases the prepared statements.
func (l *Loader) Close() {
	for _, st := range []*sql.Stmt{l.files, l.blocks, l.depsets, l.envs, l.tests, l.testFiles, l.meta} {
		if st != nil {
			st.Close()
		}
	}
}

// File inserts a file row with its ID.
func (l *Loader) File(f File) error {
	if _, err := l.files.Exec(f.ID, f.Path, f.Size, f.MtimeNs, int64(f.Hash)); err != nil {
		return fmt.Errorf("write file %s: %w", f.Path, err)
	}
	return nil
}

// Block inserts a block version with its ID.
func (l *Loader) Block(b Block) error {
	var names any
	if b.Names != nil {
		names = strings.Join(b.Names, "\n")
	}
	if _, err := l.blocks.Exec(b.ID, b.FileID, b.Name, int64(b.Checksum), b.Stale, names); err != nil {
		return fmt.Errorf("write block %s: %w", b.Name, err)
	}
	return nil
}

// Depset inserts a shared dependency list with its ID; hash identifies its
// content (see UpsertDepset). The lists of one load are distinct, so a hash
// already taken belongs to other bytes: the list takes the next free one.
func (l *Loader) Depset(id int64, hash uint64, deps []byte) error {
	for probe := 0; ; probe++ {
		_, err := l.depsets.Exec(id, int64(hash), deps)
		var se sqlite3.Error
		if err == nil || probe == maxProbes || !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrConstraintUnique {
			if err != nil {
				return fmt.Errorf("write dependency set %d: %w", id, err)
			}
			return nil
		}
		hash++
	}
}

// Test inserts a test record.
func (l *Loader) Test(t Test) error {
	deps := t.Deps
	if deps == nil {
		deps = []byte{}
	}
	if _, err := l.tests.Exec(t.Env, t.NodeID, t.Outcome, micros(t.Duration), t.RecordedAt, deps, t.Depset); err != nil {
		return fmt.Errorf("write test %s: %w", t.NodeID, err)
	}
	return nil
}

// Env inserts an environment with its ID.
func (l *Loader) Env(e Env) error {
	vars := e.Vars
	if vars == nil {
		vars = map[string]string{}
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return err
	}
	if _, err := l.envs.Exec(e.ID, e.Name, e.RecordedAt, string(b)); err != nil {
		return fmt.Errorf("write environment %s: %w", e.Name, err)
	}
	return nil
}

// TestFile notes a test file completely recorded in an environment, and
// its content hash.
func (l *Loader) TestFile(env int64, path string, hash uint64) error {
	if _, err := l.testFiles.Exec(env, path, int64(hash)); err != nil {
		return fmt.Errorf("write test file %s: %w", path, err)
	}
	return nil
}

// Meta inserts key=value.
func (l *Loader) Meta(key, value string) error {
	if _, err := l.meta.Exec(key, value); err != nil {
		return fmt.Errorf("write meta %s: %w", key, err)
	}
	return nil
}
