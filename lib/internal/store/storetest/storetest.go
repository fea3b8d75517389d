// Package storetest builds baselines for the tests of other packages, with
// the store's own functions: only tests need to store a block version by
// hand.
package storetest

import "github.com/pytest-difftest/pytest-difftest/lib/internal/store"

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
