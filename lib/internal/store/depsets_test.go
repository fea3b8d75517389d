package store

import (
	"bytes"
	"path/filepath"
	"testing"
)

// Lists whose hashes collide are distinct rows, each found again by its own
// bytes: a collision must never hand a test another file's dependencies.
func TestUpsertDepsetCollisions(t *testing.T) {
	db, _, err := Open(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, b, c := EncodeIDs([]int64{1, 2}), EncodeIDs([]int64{3}), EncodeIDs([]int64{4, 5, 6})
	const h = 42 // forced: every list below claims the same hash
	steps := []struct {
		name string
		deps []byte
		hash uint64
		same string // the earlier step whose row must come back, or ""
	}{
		{"first list", a, h, ""},
		{"other bytes, same hash", b, h, ""},
		{"first list again", a, h, "first list"},
		{"second list again", b, h, "other bytes, same hash"},
		{"third list, same hash", c, h, ""},
		{"taken by probing, then claimed", c, h + 1, ""},
	}
	ids := map[string]int64{}
	bytesOf := map[string][]byte{}
	seen := map[int64]string{}
	for _, st := range steps {
		id, err := UpsertDepset(db, st.deps, st.hash)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		ids[st.name] = id
		bytesOf[st.name] = st.deps
		if st.same != "" {
			if id != ids[st.same] {
				t.Errorf("%s: id %d, want the row of %q (%d)", st.name, id, st.same, ids[st.same])
			}
		} else if prev, ok := seen[id]; ok && !bytes.Equal(st.deps, bytesOf[prev]) {
			t.Errorf("%s: got the row of %q, whose bytes differ", st.name, prev)
		}
		if _, ok := seen[id]; !ok {
			seen[id] = st.name
		}
		got, ok, err := DepsetByID(db, id)
		if err != nil || !ok || !bytes.Equal(got, st.deps) {
			t.Errorf("%s: row %d holds %v (ok %v, err %v), want %v", st.name, id, got, ok, err, st.deps)
		}
	}
}
