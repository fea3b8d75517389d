package merge

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
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
	sets   map[string]*depset
	tests  map[testKey]*test
	envs   map[string]*env

	testFiles map[testKey]testFile // name: the test file's path

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

// depset is a dependency list shared by the tests of a test file (what it
// imports), found again across inputs by its content.
type depset struct {
	deps []int32 // indexes into union.list, sorted
	id   int64   // output id, 0 when no kept test uses it
}

// testKey identifies a test, or a test file, within its environment: each
// environment keeps its own results (SPEC 4.7).
type testKey struct {
	env  string
	name string
}

// env is one environment across inputs: the newest completed recording run
// in it, and its values then.
type env struct {
	name       string
	recordedAt int64
	vars       map[string]string
	id         int64 // output id
}

// test is the newest record of a test so far.
type test struct {
	rec   store.Test // without Deps and Depset
	deps  []int32    // indexes into union.list
	set   *depset    // nil for none
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
		sets:      map[string]*depset{},
		tests:     map[testKey]*test{},
		envs:      map[string]*env{},
		testFiles: map[testKey]testFile{},
	}
}

// snapshot is one input database read into memory, so that inputs can be
// read in parallel and then added in order.
type snapshot struct {
	meta      map[string]string
	at        int64 // see inputTime
	files     []store.File
	blocks    []store.Block
	depsets   map[int64][]byte
	envs      []store.Env
	tests     []store.Test
	testFiles map[int64]map[string]uint64 // by environment id
}

// readSnapshot reads a whole input.
func readSnapshot(db *store.DB) (*snapshot, error) {
	s := &snapshot{}
	var err error
	if s.meta, err = store.AllMeta(db); err != nil {
		return nil, err
	}
	if s.at, err = inputTime(db, s.meta); err != nil {
		return nil, err
	}
	if s.files, err = store.Files(db); err != nil {
		return nil, err
	}
	err = store.EachBlock(db, func(b *store.Block) error {
		s.blocks = append(s.blocks, *b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.depsets, err = store.Depsets(db); err != nil {
		return nil, err
	}
	err = store.EachTest(db, func(t *store.Test) error {
		s.tests = append(s.tests, *t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.envs, err = store.Envs(db); err != nil {
		return nil, err
	}
	s.testFiles = make(map[int64]map[string]uint64, len(s.envs))
	for _, e := range s.envs {
		if s.testFiles[e.ID], err = store.TestFiles(db, e.ID); err != nil {
			return nil, err
		}
	}
	return s, nil
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

// add merges one input. Inputs must be added in argument order: on equal
// times the later one wins.
func (u *union) add(s *snapshot) error {
	idx := u.inputs
	u.inputs++
	at := s.at
	if at >= u.newestAt || u.newestMeta == nil {
		u.newestMeta, u.newestAt = s.meta, at
	}
	u.latest = max(u.latest, at)

	// Files: the input's ids mapped to the shared entries and to the hash
	// this input recorded.
	type local struct {
		f    *file
		hash uint64
	}
	fileOf := make(map[int64]local, len(s.files))
	for _, r := range s.files {
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
	blockOf := make(map[int64]int32, len(s.blocks))
	for _, b := range s.blocks {
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
	}

	// remap translates a dependency list into shared block indexes.
	remap := func(b []byte) ([]int32, error) {
		deps := make([]int32, 0, len(b))
		var bad int64
		err := store.DecodeIDs(b, func(id int64) bool {
			i, ok := blockOf[id]
			if !ok {
				bad = id
				return false
			}
			deps = append(deps, i)
			return true
		})
		if err == nil && bad != 0 {
			err = fmt.Errorf("depends on block %d, which does not exist", bad)
		}
		return deps, err
	}
	setOf := map[int64]*depset{}
	shared := func(id int64) (*depset, error) {
		if ds, ok := setOf[id]; ok {
			return ds, nil
		}
		b, ok := s.depsets[id]
		if !ok {
			return nil, fmt.Errorf("its dependency set %d does not exist", id)
		}
		deps, err := remap(b)
		if err != nil {
			return nil, fmt.Errorf("dependency set %d %w", id, err)
		}
		slices.Sort(deps)
		deps = slices.Compact(deps)
		key := setKey(deps)
		ds := u.sets[key]
		if ds == nil {
			ds = &depset{deps: deps}
			u.sets[key] = ds
		}
		setOf[id] = ds
		return ds, nil
	}

	// Environments match by name.
	envName := make(map[int64]string, len(s.envs))
	for _, e := range s.envs {
		envName[e.ID] = e.Name
		ue := u.envs[e.Name]
		if ue == nil {
			ue = &env{name: e.Name}
			u.envs[e.Name] = ue
		}
		if e.RecordedAt >= ue.recordedAt {
			ue.recordedAt, ue.vars = e.RecordedAt, e.Vars
		}
	}

	// Tests: the newest record per environment wins; equal times, the
	// later input.
	for _, t := range s.tests {
		name, ok := envName[t.Env]
		if !ok {
			return fmt.Errorf("damaged: test %s belongs to no environment (%d)", t.NodeID, t.Env)
		}
		key := testKey{name, t.NodeID}
		if cur := u.tests[key]; cur != nil && cur.rec.RecordedAt > t.RecordedAt {
			continue
		}
		deps, err := remap(t.Deps)
		if err != nil {
			return fmt.Errorf("damaged: test %s %w", t.NodeID, err)
		}
		var set *depset
		if t.Depset != 0 {
			if set, err = shared(t.Depset); err != nil {
				return fmt.Errorf("damaged: test %s: %w", t.NodeID, err)
			}
		}
		rec := t
		rec.Deps, rec.Depset = nil, 0
		u.tests[key] = &test{rec: rec, deps: deps, set: set, input: idx}
	}

	for id, files := range s.testFiles {
		for p, h := range files {
			key := testKey{envName[id], p}
			cur, ok := u.testFiles[key]
			switch {
			case !ok:
				u.testFiles[key] = testFile{hash: h}
			case cur.hash != h:
				u.testFiles[key] = testFile{hash: cur.hash, conflict: true}
			}
		}
	}
	return nil
}

// setKey is a map key for a sorted list of block indexes.
func setKey(deps []int32) string {
	b := make([]byte, 0, 4*len(deps))
	for _, d := range deps {
		b = binary.LittleEndian.AppendUint32(b, uint32(d))
	}
	return string(b)
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
	Files  int `json:"files"` // real files: the environment is not counted
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
		if t.set != nil {
			for _, i := range t.set.deps {
				used[i] = true
			}
		}
	}
	var kept []*block
	keepFile := map[*file]bool{}
	for i, b := range u.list {
		if used[i] {
			kept = append(kept, b)
			keepFile[b.key.file] = true
		}
	}
	completeFiles := map[testKey]uint64{}
	for k, tf := range u.testFiles {
		if !tf.conflict {
			completeFiles[k] = tf.hash
			if f := u.files[k.name]; f != nil {
				keepFile[f] = true
			}
		}
	}
	envs := make([]*env, 0, len(u.envs))
	for _, e := range u.envs {
		envs = append(envs, e)
	}
	slices.SortFunc(envs, func(a, b *env) int { return cmp.Compare(a.name, b.name) })
	for i, e := range envs {
		e.id = int64(i + 1)
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
	slices.SortFunc(kept, func(a, b *block) int {
		return cmp.Or(cmp.Compare(a.key.file.row.ID, b.key.file.row.ID),
			cmp.Compare(a.key.name, b.key.name), cmp.Compare(a.key.checksum, b.key.checksum))
	})
	for i, b := range kept {
		b.id = int64(i + 1)
	}
	tests := make([]*test, 0, len(u.tests))
	for k, t := range u.tests {
		t.rec.Env = u.envs[k.env].id
		tests = append(tests, t)
	}
	slices.SortFunc(tests, func(a, b *test) int {
		return cmp.Or(cmp.Compare(a.rec.Env, b.rec.Env), cmp.Compare(a.rec.NodeID, b.rec.NodeID))
	})
	var sets []*depset
	for _, t := range tests {
		if t.set != nil && t.set.id == 0 {
			t.set.id = int64(len(sets) + 1)
			sets = append(sets, t.set)
		}
	}

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
	for _, b := range kept {
		row := store.Block{ID: b.id, FileID: b.key.file.row.ID, Name: b.key.name, Checksum: b.key.checksum, Stale: b.stale(), Names: b.names}
		if err := l.Block(row); err != nil {
			return c, err
		}
	}
	ids := []int64{}
	encode := func(deps []int32) []byte {
		ids = ids[:0]
		for _, i := range deps {
			ids = append(ids, u.list[i].id)
		}
		return store.EncodeIDs(ids)
	}
	for _, e := range envs {
		if err := l.Env(store.Env{ID: e.id, Name: e.name, RecordedAt: e.recordedAt, Vars: e.vars}); err != nil {
			return c, err
		}
	}
	for _, ds := range sets {
		deps := encode(ds.deps)
		if err := l.Depset(ds.id, contenthash.Sum(deps), deps); err != nil {
			return c, err
		}
	}
	for _, t := range tests {
		rec := t.rec
		rec.Deps = encode(t.deps)
		if t.set != nil {
			rec.Depset = t.set.id
		}
		if err := l.Test(rec); err != nil {
			return c, err
		}
	}
	keys := make([]testKey, 0, len(completeFiles))
	for k := range completeFiles {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b testKey) int { return cmp.Or(cmp.Compare(a.env, b.env), cmp.Compare(a.name, b.name)) })
	for _, k := range keys {
		if err := l.TestFile(u.envs[k.env].id, k.name, completeFiles[k]); err != nil {
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
	metaKeys := make([]string, 0, len(meta))
	for k := range meta {
		metaKeys = append(metaKeys, k)
	}
	slices.Sort(metaKeys)
	for _, k := range metaKeys {
		if err := l.Meta(k, meta[k]); err != nil {
			return c, err
		}
	}
	l.Close()
	if err := tx.Commit(); err != nil {
		return c, err
	}
	c = Counts{Tests: len(tests), Blocks: len(kept)}
	for _, f := range files {
		if !store.IsEnvPath(f.path) {
			c.Files++
		}
	}
	return c, nil
}
