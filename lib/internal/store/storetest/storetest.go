// Package storetest builds and damages baselines for the tests of other
// packages. The store keeps its SQL connection to itself; a test that must
// write what the store never would (a damaged row, another schema version)
// opens the file with a connection of its own, as another program would.
package storetest

import (
	"database/sql"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// UpsertBlock returns the id of a block version of the file, inserting it
// (not stale) when new, or marking it current again.
func UpsertBlock(q store.Querier, fileID int64, name string, checksum uint64, names []string) (int64, error) {
	stored, err := store.BlocksOfFile(q, fileID)
	if err != nil {
		return 0, err
	}
	for _, b := range stored {
		if b.Name == name && b.Checksum == checksum {
			if b.Stale {
				err = store.SetStale(q, []int64{b.ID}, false)
			}
			return b.ID, err
		}
	}
	return store.InsertBlock(q, fileID, name, checksum, names)
}

// SQL opens the SQLite file at path with a connection of its own (closed
// when the test ends), for a test that damages or inspects it below the
// store's API. The store's driver is registered by importing store.
func SQL(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=30000")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	// One connection: a PRAGMA a test sets applies to its later statements.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}
