package merge

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/pytest-difftest/pytest-difftest/lib/store"
)

// union accumulates baselines one after the other and writes their merge.
// It keeps the output's worth of data (the newest record of every test, the
// block versions they depend on, one fingerprint per file) plus one small
// note per (input, block version) for the stale flags, so memory and time
// are linear in the total size of the inputs.
type union struct {
	inputs int // how many were added

	files  map[string]*file
	blocks map[blockKey]*block
	list   []*block // blocks by index, for compact references from tests
	tests  map[string]*test

	testFiles map[string]testFile

	newestMeta map[string]string // meta of the newest input
	newestAt   int64
	latest     int64 // max recorded_at of all inputs
}

// file is one path across inputs: its fingerprint from the newest input
// that has it.
type file struct {
	path  string
	row   store.File // chosen fingerprint (row.ID is the output id)
	input int        // the input it came from
	at    int64      // that input's time
}

type blockKey struct {
	file     *file
	name     string
	checksum uint64
}

// block is one block version (file, name, checksum) across inputs.
type block struct {
	key   blockKey
	names []string
	// seen notes, for every input that has this version, its stale flag and
	// the hash that input had recorded for the file (see staleIn).
	seen  []sighting
	index int32 // in union.list
	id    int64 // output id, 0 when no kept test depends on it
}

type sighting struct {
	input int32
	stale bool
	hash  uint64
}

// test is the newest record of a test so far.
type test struct {
	rec   store.Test // without Deps
	deps  []int32    // indexes into union.list
	input int
}

// testFile is the agreement of the inputs about a completely recorded test
// file: kept only when every input that has it recorded the same hash.
type testFile struct {
	hash     uint64
	conflict bool
}

func newUnion() *union {
	return &union{
		files:     map[string]*file{},
		blocks:    map[blockKey]*block{},
		tests:     map[string]*test{},
		testFiles: map[string]testFile{},
	}
}

// inputTime is when a baseline was last recorded: its meta recorded_at, or
// its newest test record if that is later (a recording run that never
// finished leaves newer records than its meta says).
func inputTime(db *store.DB, meta map[string]string) (int64, error) {
	at, _ := strconv.ParseInt(meta["recorded_at"], 10, 64)
	latest, err := store.MaxRecordedAt(db)
	if err != nil {
		return 0, err
	}
	return max(at, latest), nil
}

// add reads one baseline. Inputs must be added in argument order: on equal
// times the later one wins.
func (u *union) add(db *store.DB) error {
	idx := u.inputs
	u.inputs++

	meta, err := store.AllMeta(db)
	if err != nil {
		return err
	}
	at, err := inputTime(db, meta)
	if err != nil {
		return err
	}
	if at >= u.newestAt || u.newestMeta == nil {
		u.newestMeta, u.newestAt = meta, at
	}
	u.latest = max(u.latest, at)

	// Files: the input's ids mapped to the shared entries and to the hash
	// this input recorded.
	rows, err := store.Files(db)
	if err != nil {
		return err
	}
	type local struct {
		f    *file
		hash uint64
	}
	fileOf := make(map[int64]local, len(rows))
	for _, r := range rows {
		f := u.files[r.Path]
		if f == nil {
			f = &file{path: r.Path, input: -1}
			u.files[r.Path] = f
		}
		if f.input < 0 || at >= f.at {
			f.row, f.input, f.at = r, idx, at
		}
		fileOf[r.ID] = local{f, r.Hash}
	}

	// Block versions, shared by (file, name, checksum).
	blockOf := map[int64]int32{}
	err = store.EachBlock(db, func(b *store.Block) error {
		lf, ok := fileOf[b.FileID]
		if !ok {
			return fmt.Errorf("damaged: block %d belongs to no file", b.ID)
		}
		key := blockKey{lf.f, b.Name, b.Checksum}
		ob := u.blocks[key]
		if ob == nil {
			ob = &block{key: key, names: b.Names, index: int32(len(u.list))}
			u.blocks[key] = ob
			u.list = append(u.list, ob)
		}
		ob.seen = append(ob.seen, sighting{int32(idx), b.Stale, lf.hash})
		blockOf[b.ID] = ob.index
		return nil
	})
	if err != nil {
		return err
	}

	// Tests: the newest record wins; equal times, the later input.
	err = store.EachTest(db, func(t *store.Test) error {
		if cur := u.tests[t.NodeID]; cur != nil && cur.rec.RecordedAt > t.RecordedAt {
			return nil
		}
		var deps []int32
		var bad int64
		err := store.DecodeIDs(t.Deps, func(id int64) bool {
			i, ok := blockOf[id]
			if !ok {
				bad = id
				return false
			}
			deps = append(deps, i)
			return true
		})
		if err != nil {
			return fmt.Errorf("damaged: test %s: %w", t.NodeID, err)
		}
		if bad != 0 {
			return fmt.Errorf("damaged: test %s depends on block %d, which does not exist", t.NodeID, bad)
		}
		rec := *t
		rec.Deps = nil
		u.tests[t.NodeID] = &test{rec: rec, deps: deps, input: idx}
		return nil
	})
	if err != nil {
		return err
	}

	tf, err := store.TestFiles(db)
	if err != nil {
		return err
	}
	for p, h := range tf {
		cur, ok := u.testFiles[p]
		switch {
		case !ok:
			u.testFiles[p] = testFile{hash: h}
		case cur.hash != h:
			u.testFiles[p] = testFile{hash: cur.hash, conflict: true}
		}
	}
	return nil
}

// stale decides the stale flag of a block version against the chosen
// fingerprint of its file. An input that recorded the same hash for the file
// knows whether the version matches that content: its flag stands. An input
// that recorded another content does not; the version is then stale unless
// the input the fingerprint comes from holds it as current. Any doubt makes
// it stale, which only makes tests run.
func (b *block) stale() bool {
	f := b.key.file
	chosenCurrent := false
	otherContent := false
	for _, s := range b.seen {
		if s.hash == f.row.Hash {
			if s.stale {
				return true
			}
			if int(s.input) == f.input {
				chosenCurrent = true
			}
		} else {
			otherContent = true
		}
	}
	return otherContent && !chosenCurrent
}

// Counts says what a merge wrote.
type Counts struct {
	Tests  int `json:"tests"`
	Files  int `json:"files"`
	Blocks int `json:"blocks"`
}

// write stores the union into a new, empty database.
func (u *union) write(db *store.DB) (Counts, error) {
	var c Counts
	// Keep the block versions some kept test depends on, and their files.
	used := make([]bool, len(u.list))
	for _, t := range u.tests {
		for _, i := range t.deps {
			used[i] = true
		}
	}
	var blocks []*block
	keepFile := map[*file]bool{}
	for i, b := range u.list {
		if used[i] {
			blocks = append(blocks, b)
			keepFile[b.key.file] = true
		}
	}
	completeFiles := map[string]uint64{}
	for p, tf := range u.testFiles {
		if !tf.conflict {
			completeFiles[p] = tf.hash
			if f := u.files[p]; f != nil {
				keepFile[f] = true
			}
		}
	}
	files := make([]*file, 0, len(keepFile))
	for f := range keepFile {
		files = append(files, f)
	}
	// Ids follow the sort order, so the output does not depend on the order
	// of the inputs (but for ties).
	slices.SortFunc(files, func(a, b *file) int { return cmp.Compare(a.path, b.path) })
	for i, f := range files {
		f.row.ID = int64(i + 1)
	}
	slices.SortFunc(blocks, func(a, b *block) int {
		return cmp.Or(cmp.Compare(a.key.file.row.ID, b.key.file.row.ID),
			cmp.Compare(a.key.name, b.key.name), cmp.Compare(a.key.checksum, b.key.checksum))
	})
	for i, b := range blocks {
		b.id = int64(i + 1)
	}
	tests := make([]*test, 0, len(u.tests))
	for _, t := range u.tests {
		tests = append(tests, t)
	}
	slices.SortFunc(tests, func(a, b *test) int { return cmp.Compare(a.rec.NodeID, b.rec.NodeID) })

	tx, err := db.Begin()
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	l, err := store.NewLoader(tx)
	if err != nil {
		return c, err
	}
	defer l.Close()
	for _, f := range files {
		if err := l.File(f.row); err != nil {
			return c, err
		}
	}
	for _, b := range blocks {
		row := store.Block{ID: b.id, FileID: b.key.file.row.ID, Name: b.key.name, Checksum: b.key.checksum, Stale: b.stale(), Names: b.names}
		if err := l.Block(row); err != nil {
			return c, err
		}
	}
	ids := []int64{}
	for _, t := range tests {
		ids = ids[:0]
		for _, i := range t.deps {
			ids = append(ids, u.list[i].id)
		}
		rec := t.rec
		rec.Deps = store.EncodeIDs(ids)
		if err := l.Test(rec); err != nil {
			return c, err
		}
	}
	paths := make([]string, 0, len(completeFiles))
	for p := range completeFiles {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if err := l.TestFile(p, completeFiles[p]); err != nil {
			return c, err
		}
	}
	meta := map[string]string{}
	for k, v := range u.newestMeta {
		meta[k] = v
	}
	if u.latest > 0 {
		meta["recorded_at"] = strconv.FormatInt(u.latest, 10)
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := l.Meta(k, meta[k]); err != nil {
			return c, err
		}
	}
	l.Close()
	if err := tx.Commit(); err != nil {
		return c, err
	}
	return Counts{Tests: len(tests), Files: len(files), Blocks: len(blocks)}, nil
}
