package store

import (
	"fmt"
	"path/filepath"
	"testing"
)

// Opening a large baseline, which every run does first:
//
//	go test -run '^$' -bench Open ./lib/store/
//
// Its cost must not grow with the database (1,000 files, 200,000 block
// versions, 100,000 tests here).
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "d.db")
	db, _, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLoader(tx)
	if err != nil {
		b.Fatal(err)
	}
	const files, blocksPerFile, tests = 1000, 200, 100000
	for f := 1; f <= files; f++ {
		if err := l.File(File{ID: int64(f), Path: fmt.Sprintf("pkg/m%d.py", f), Size: 1}); err != nil {
			b.Fatal(err)
		}
		for k := range blocksPerFile {
			id := int64((f-1)*blocksPerFile + k + 1)
			if err := l.Block(Block{ID: id, FileID: int64(f), Name: fmt.Sprintf("f_%d", k), Checksum: uint64(id)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for t := range tests {
		deps := EncodeIDs([]int64{int64(t*2 + 1), int64(t*2 + 2), int64(t%1000 + 1)})
		if err := l.Test(Test{NodeID: fmt.Sprintf("tests/test_%d.py::test_%d", t/20, t), Deps: deps}); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	db.Close()
	b.ResetTimer()
	for b.Loop() {
		db, aside, err := Open(path)
		if err != nil || aside != nil {
			b.Fatal(aside, err)
		}
		db.Close()
	}
}
