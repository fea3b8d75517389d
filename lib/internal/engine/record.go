package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/selection"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Kinds of dependency in a record (see include/difftest.h).
const (
	DepLines = 0 // a Python file and the first lines of code objects run in it
	DepData  = 1 // a file opened for reading
	DepDist  = 2 // installed code ran (Path: its top-level module name)

	// WholeModule, as a DepLines line, makes the module's whole top level
	// a dependency: code outside the project imported it by name.
	WholeModule = 0xFFFFFFFF
	// ImportedEarly, as a DepLines line of the session's record: the
	// module was imported before recording began, by name or by the
	// imports of a module imported by name (see earlyModules).
	ImportedEarly = 0xFFFFFFFE
	// Doctest, as a DepLines line of a test's record: the test runs the
	// doctest examples of that file, a module's docstrings or a text file
	// (see doctestIDs).
	Doctest = 0xFFFFFFFD
)

// Dep is one file a test depended on.
type Dep struct {
	Kind  uint8
	Path  string
	Lines []uint32
}

// TestRecord is what the plugin reports for one finished test.
type TestRecord struct {
	NodeID   string
	Outcome  store.Outcome
	Duration float64
	Deps     []Dep
}

// DecodeRecords reads a batch in the format documented in
// include/difftest.h.
func DecodeRecords(b []byte) ([]TestRecord, error) {
	r := reader{b: b}
	n := r.u32()
	// Each test takes at least minTestBytes: a count that cannot fit is
	// refused before anything is allocated for it.
	const minTestBytes = 4 + 1 + 8 + 4
	if r.err == nil && uint64(n)*minTestBytes > uint64(len(r.b)) {
		return nil, errors.New("record batch: bad count")
	}
	out := make([]TestRecord, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		var t TestRecord
		t.NodeID = r.str()
		t.Outcome = store.Outcome(r.u8())
		if r.err == nil && t.Outcome > store.XFailed && t.Outcome != store.MergeDeps && t.Outcome != store.ImportDeps {
			r.err = fmt.Errorf("bad outcome %d", t.Outcome)
		}
		t.Duration = math.Float64frombits(r.u64())
		nd := r.u32()
		for j := uint32(0); j < nd && r.err == nil; j++ {
			d := Dep{Kind: r.u8(), Path: r.str()}
			if r.err == nil && d.Kind > DepDist {
				r.err = fmt.Errorf("bad dependency kind %d", d.Kind)
			}
			nl := r.u32()
			if r.err == nil && uint64(nl)*4 > uint64(len(r.b)) {
				r.err = errors.New("bad line count")
			}
			if r.err == nil && nl > 0 {
				d.Lines = make([]uint32, 0, nl)
			}
			for k := uint32(0); k < nl && r.err == nil; k++ {
				d.Lines = append(d.Lines, r.u32())
			}
			t.Deps = append(t.Deps, d)
		}
		out = append(out, t)
	}
	if r.err != nil {
		return nil, fmt.Errorf("record batch: %w", r.err)
	}
	if len(r.b) != 0 {
		return nil, errors.New("record batch: trailing bytes")
	}
	return out, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) need(n int) bool {
	if r.err == nil && len(r.b) < n {
		r.err = errors.New("truncated")
	}
	return r.err == nil
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) str() string {
	n := int(r.u32())
	if !r.need(n) {
		return ""
	}
	v := string(r.b[:n])
	r.b = r.b[n:]
	return v
}

// Record writes a batch of finished tests in one transaction. Only
// recording sessions may call it.
func (s *Session) Record(batch []TestRecord) error {
	if !s.cfg.Record {
		return errors.New("record called in a selection-only session")
	}
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The transaction holds the write lock: no cleanup can come between
	// this check and the commit.
	if gen, err := store.Generation(tx); err != nil {
		return err
	} else if gen != s.gen {
		return ErrBaselineCleaned
	}
	now := time.Now().Unix()
	envIDs, err := s.envBlockIDs(tx)
	if err != nil {
		return err
	}
	// In key order, rows fill the pages of the tests table; in run order
	// (not the node ids' order) they would split pages and leave them part
	// empty. The sort is stable: a MergeDeps record stays after its test's.
	// ImportDeps records go first: the import sets of the tests in the
	// same batch include them.
	batch = slices.Clone(batch)
	slices.SortStableFunc(batch, func(a, b TestRecord) int {
		ai, bi := a.Outcome == store.ImportDeps, b.Outcome == store.ImportDeps
		if ai != bi {
			if ai {
				return -1
			}
			return 1
		}
		return strings.Compare(a.NodeID, b.NodeID)
	})
	for _, t := range batch {
		if t.Outcome == store.ImportDeps {
			if err := s.addImportCalls(tx, t); err != nil {
				return err
			}
			continue
		}
		ids := append([]int64(nil), envIDs...)
		r := newReads()
		for _, d := range t.Deps {
			if d.Kind == DepDist {
				got, err := s.distIDs(tx, d.Path)
				if err != nil {
					return err
				}
				ids = append(ids, got...)
				continue
			}
			if !s.root.Safe(d.Path) {
				continue
			}
			got, err := s.depIDs(tx, d, r)
			if err != nil {
				return err
			}
			ids = append(ids, got...)
		}
		testFile := store.TestFile(t.NodeID)
		set, info, err := s.importSet(tx, testFile, fallNone)
		if err != nil {
			return err
		}
		got, fall, err := s.readIDs(tx, r, info)
		if err != nil {
			return err
		}
		ids = append(ids, got...)
		if t.Outcome == store.MergeDeps {
			if fall > fallNone {
				// The stored list of the test stays; what its code may
				// read in the modules its test file reaches goes into its
				// own.
				more, err := s.fallbackIDs(tx, info.files, fall)
				if err != nil {
					return err
				}
				ids = append(ids, more...)
			}
			if err := s.mergeDeps(tx, t.NodeID, ids); err != nil {
				return err
			}
			continue
		}
		if fall > fallNone {
			if set, _, err = s.importSet(tx, testFile, fall); err != nil {
				return err
			}
		}
		rec := store.Test{
			Env:        s.envID,
			NodeID:     t.NodeID,
			Outcome:    t.Outcome,
			Duration:   t.Duration,
			RecordedAt: now,
		}
		if rec.Deps, rec.Depset, err = s.splitDeps(tx, t.NodeID, ids, set); err != nil {
			return err
		}
		if err := store.UpsertTest(tx, rec); err != nil {
			return err
		}
		s.debugPanic("record")
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.trimCache()
	return nil
}

// envBlockIDs returns the ids of the environment blocks every test depends
// on (everything but installed distributions, which are per test).
func (s *Session) envBlockIDs(q store.Querier) ([]int64, error) {
	fi := s.envInfo
	if fi.skeleton != nil {
		return fi.skeleton, nil
	}
	fi.skeleton = []int64{}
	for name := range fi.cur.Values {
		if strings.HasPrefix(name, "dist:") {
			continue
		}
		id, _, err := s.envBlockID(q, name)
		if err != nil {
			return nil, err
		}
		fi.skeleton = append(fi.skeleton, id)
	}
	return fi.skeleton, nil
}

// envBlockID returns the id of the current version of one environment
// block; ok is false when the environment has no such entry.
func (s *Session) envBlockID(q store.Querier, name string) (id int64, ok bool, err error) {
	fi := s.envInfo
	if id, ok := fi.byName[name]; ok {
		return id, true, nil
	}
	value, ok := fi.cur.Values[name]
	if !ok {
		return 0, false, nil
	}
	if fi.id == 0 {
		if fi.id, err = store.UpsertFile(q, store.File{Path: store.EnvPath(s.cfg.EnvName)}); err != nil {
			return 0, false, err
		}
	}
	id, err = s.blockID(q, fi, name, []string{value})
	return id, err == nil, err
}

// blockID returns the id of the current version of a block of a file,
// storing the version if it is new and marking it current if it was stale.
// The file's stored versions are read once, at its first block.
func (s *Session) blockID(q store.Querier, fi *fileInfo, name string, names []string) (int64, error) {
	if id, ok := fi.byName[name]; ok {
		return id, nil
	}
	if err := loadStored(q, fi); err != nil {
		return 0, err
	}
	sum := fi.cur.Checksums[name]
	var id int64
	if b, ok := fi.stored[blockKey{name, sum}]; ok {
		if b.Stale {
			if err := store.SetStale(q, []int64{b.ID}, false); err != nil {
				return 0, err
			}
		}
		id = b.ID
	} else {
		var err error
		if id, err = store.InsertBlock(q, fi.id, name, sum, names); err != nil {
			return 0, err
		}
	}
	fi.byName[name] = id
	return id, nil
}

// loadStored reads a file's stored block versions, once.
func loadStored(q store.Querier, fi *fileInfo) error {
	if fi.byName != nil {
		return nil
	}
	stored, err := store.BlocksOfFile(q, fi.id)
	if err != nil {
		return err
	}
	fi.byName = map[string]int64{}
	fi.stored = make(map[blockKey]store.Block, len(stored))
	for _, b := range stored {
		fi.stored[blockKey{b.Name, b.Checksum}] = b
	}
	return nil
}

// editedID returns the id of the file's "<edited>" version: one that no
// file ever matches, so that the tests that depend on it are selected
// until they run again (see fileInfo.untrusted).
func (s *Session) editedID(q store.Querier, fi *fileInfo) (int64, error) {
	if id, ok := fi.byName[selection.Edited]; ok {
		return id, nil
	}
	if err := loadStored(q, fi); err != nil {
		return 0, err
	}
	id := fi.stored[blockKey{selection.Edited, 0}].ID
	if id == 0 {
		var err error
		if id, err = store.InsertBlock(q, fi.id, selection.Edited, 0, nil); err != nil {
			return 0, err
		}
	}
	if err := store.SetStale(q, []int64{id}, true); err != nil {
		return 0, err
	}
	fi.byName[selection.Edited] = id
	return id, nil
}

// readIDs returns the name blocks that the code a test ran reads, in the
// modules its test file reaches and those it ran code in (SPEC 4.8), and
// what the test's code reads without naming it (its own and that of its
// test file's import-time code, info.fall; see fallback), with that
// fallback's blocks for the modules outside the test file's reach (its
// shared list holds those of the others).
func (s *Session) readIDs(q store.Querier, r *reads, info closureInfo) ([]int64, fallback, error) {
	files := info.files
	var extra []string
	if len(r.files) > 0 {
		seen := make(map[string]bool, len(files))
		for _, f := range files {
			seen[f] = true
		}
		var ran []string
		for _, f := range r.files {
			if !seen[f] {
				ran = append(ran, f)
			}
		}
		if len(ran) > 0 {
			// Code run in a module the test file does not import reads
			// names that module imports: what it imports counts too, and
			// so does how their import-time code reads names.
			files = slices.Clone(files)
			for _, e := range ran {
				for _, f := range s.fileClosure(e) {
					if !seen[f] {
						seen[f] = true
						files = append(files, f)
						extra = append(extra, f)
						// Its import-time names are not looked up here.
						fall := s.importFall(f)
						r.raise(fall)
						r.unplaced = r.unplaced || fall == fallCatch
					}
				}
			}
		}
	}
	fall := max(r.placed(r.fall), info.fall)
	local := s.starLocal(r)
	ids, err := s.nameIDsLocal(q, files, r.names, local, r.cls, info.testFile)
	if err != nil {
		return nil, fall, err
	}
	for _, f := range extra {
		// Their module-level from-imports fail without the names they
		// take, whether the test reads them or not.
		got, err := s.moduleFromImportIDs(q, f)
		if err != nil {
			return nil, fall, err
		}
		ids = append(ids, got...)
	}
	got, err := s.starExportIDs(q, files, r, local)
	if err != nil {
		return nil, fall, err
	}
	ids = append(ids, got...)
	if fall == fallNone || len(extra) == 0 {
		return ids, fall, nil
	}
	more, err := s.fallbackIDs(q, extra, fall)
	return append(ids, more...), fall, err
}

// importFall returns what the import-time code of the module at path (its
// top level and class bodies) reads without naming it, once per session.
func (s *Session) importFall(path string) fallback {
	if got, ok := s.importFalls[path]; ok {
		return got
	}
	fall := fallNone
	if r := s.importReads[path]; r != nil {
		fall = r.fall
	}
	if fi := s.current(path); fi.cur != nil && fi.cur.File != nil && fi.cur.File.Parsed {
		f := fi.cur.File
		for i, b := range f.Blocks {
			if b.Kind == blocks.Module || b.Kind == blocks.Class {
				fall = max(fall, s.blockFall(path, f, i))
			}
		}
		if fall < fallWhole {
			for i, b := range f.Blocks {
				if (b.Kind == blocks.Module || b.Kind == blocks.Class) && len(f.Probes(i)) > 0 {
					fall = max(fall, fallObject) // placed when recorded; see probeIDs
				}
			}
		}
	}
	s.importFalls[path] = fall
	return fall
}

// fallbackIDs returns what code that reads names without naming them may
// read in the given modules (see fallback): every class attribute
// ("<classes>"); with fallCatch, which names each binds ("<allnames>");
// with fallWhole, also each whole top level ("<module>"); with fallAny, the
// same for every module imported so far too.
func (s *Session) fallbackIDs(q store.Querier, files []string, fall fallback) ([]int64, error) {
	if fall == fallAny {
		files = s.withImported(files)
		fall = fallWhole
	}
	switch fall {
	case fallObject:
		return s.topIDs(q, files, selection.ClassNames)
	case fallCatch:
		return s.topIDs(q, files, selection.ClassNames, selection.AllNames)
	case fallWhole:
		// "<exports>": a module whose names are read without naming them
		// has what it star-imports among them.
		return s.topIDs(q, files, selection.Module, selection.ClassNames, selection.AllNames, selection.Exports)
	}
	return nil, nil
}

// depIDs maps one dependency to the ids of the current block versions it
// stands for: for Python code, the statements with effects, class and
// "<defs>" blocks of the file (SPEC 4.4b, 4.8) and the function blocks
// whose code ran (4.4a). What the functions read goes into r (if not nil).
func (s *Session) depIDs(q store.Querier, d Dep, r *reads) ([]int64, error) {
	fi := s.current(d.Path)
	if fi.state.Unreadable || !fi.state.Exists && d.Kind != DepData {
		// Gone already: nothing current to depend on. The test still
		// depends on its own file, which exists.
		return nil, nil
	}
	// A data file that did not exist is a dependency too (its "<content>"
	// is recorded as absent): creating it selects the tests that looked.
	if fi.id == 0 || fi.changed {
		if err := upsertFileState(q, fi); err != nil {
			return nil, err
		}
		fi.changed = false
	}
	id := func(name string) (int64, error) {
		var names []string
		if name == selection.Defs && fi.cur.File != nil {
			names = fi.cur.File.Names
		}
		if name == selection.Bound {
			names = fi.cur.Top.Bound
			if names == nil {
				names = []string{}
			}
		}
		if cls, ok := strings.CutSuffix(name, selection.ClassBound); ok {
			names = fi.cur.Classes[cls].Bound
			if names == nil {
				names = []string{}
			}
		}
		return s.blockID(q, fi, name, names)
	}
	var out []int64
	if fi.untrusted {
		v, err := s.editedID(q, fi)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if d.Kind == DepLines && slices.Contains(d.Lines, Doctest) {
		v, err := id(selection.Content)
		if err != nil {
			return nil, err
		}
		more, err := s.doctestIDs(q, d.Path, r)
		if err != nil {
			return nil, err
		}
		out = append(append(out, v), more...)
	}
	f := fi.cur.File
	if d.Kind == DepData || f == nil {
		v, err := id(selection.Content)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if d.Kind == DepData && f == nil && fi.state.Exists {
			if !fi.namedRead {
				fi.named, fi.namedRead = s.readDataNames(d.Path), true
			}
			whole, err := s.wholeIDs(q, fi.named.modules)
			if err != nil {
				return nil, err
			}
			out = append(out, whole...)
			if r != nil {
				// A template or a format string read from the file reads
				// the attributes it names of the objects it is given.
				r.addCls(fi.named.attrs)
				if fi.named.template {
					r.raise(fallObject)
				}
			}
		}
		return out, nil
	}
	if fi.skeleton == nil {
		for _, b := range f.Blocks {
			if b.Kind == blocks.Function {
				continue
			}
			name := b.Name
			if b.Kind == blocks.Module {
				name = selection.Effects
			}
			if _, ok := fi.cur.Classes[name]; ok && b.Kind == blocks.Class {
				// SPEC 4.8: the class's attributes are dependencies of
				// their readers; the rest of the body, and which names it
				// binds, of every importer.
				v, err := id(name + selection.ClassBound)
				if err != nil {
					return nil, err
				}
				fi.skeleton = append(fi.skeleton, v)
				name += selection.ClassEffects
			}
			v, err := id(name)
			if err != nil {
				return nil, err
			}
			fi.skeleton = append(fi.skeleton, v)
		}
	}
	out = append(out, fi.skeleton...)
	if !f.Parsed {
		return out, nil
	}
	if slices.Contains(d.Lines, WholeModule) {
		// Imported by name from code the recorder does not watch, which may
		// read any of its names: the whole top level (SPEC 4.8).
		v, err := id(selection.Module)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	r.addFile(d.Path)
	for _, line := range d.Lines {
		i := f.BlockAt(int(line))
		if i < 0 || f.Blocks[i].Kind != blocks.Function {
			continue
		}
		name := f.Blocks[i].Name
		v, err := id(name)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		r.addBlock(d.Path, f, i)
		if r != nil && r.fall < fallWhole {
			r.raise(s.blockFall(d.Path, f, i))
		}
		looked, ok, err := s.lookupIDs(q, d.Path, f, i)
		if err != nil {
			return nil, err
		}
		out = append(out, looked...)
		if r != nil {
			r.unplaced = r.unplaced || !ok
		}
		probes, err := s.probeIDs(q, d.Path, f, i, r)
		if err != nil {
			return nil, err
		}
		out = append(out, probes...)
		whole, err := s.wholeIDs(q, s.namedFiles(d.Path, f, i))
		if err != nil {
			return nil, err
		}
		out = append(out, whole...)
		scoped, err := s.scopedImportIDs(q, d.Path, name)
		if err != nil {
			return nil, err
		}
		out = append(out, scoped.ids...)
		for _, sf := range scoped.files {
			r.addFile(sf)
		}
	}
	return out, nil
}

// splitDeps turns a test's dependencies into what its row stores: the
// shared list set, and its own list without what set holds. An own list too
// long for the row to stay within its page goes, with set, into a shared
// list of its own (the union is what counts: SPEC 4.5).
func (s *Session) splitDeps(q store.Querier, nodeid string, ids []int64, set depList) (deps []byte, depset int64, err error) {
	own := ids[:0:0]
	for _, id := range ids {
		if _, in := slices.BinarySearch(set.ids, id); !in {
			own = append(own, id)
		}
	}
	deps = store.EncodeIDs(own)
	if store.FitsInPage(nodeid, deps) || len(own) == 0 {
		return deps, set.id, nil
	}
	all, err := s.storeList(q, append(own, set.ids...))
	if err != nil {
		return nil, 0, err
	}
	return []byte{}, all.id, nil
}

// mergeDeps adds dependencies to the record of a test written earlier in
// this session; a test without a record is left alone.
func (s *Session) mergeDeps(q store.Querier, nodeid string, ids []int64) error {
	t, ok, err := store.TestByNodeID(q, s.envID, nodeid)
	if err != nil || !ok {
		return err
	}
	err = store.DecodeIDs(t.Deps, func(id int64) bool {
		ids = append(ids, id)
		return true
	})
	if err != nil {
		return err
	}
	set, err := s.storedList(q, t.Depset)
	if err != nil {
		return err
	}
	if t.Deps, t.Depset, err = s.splitDeps(q, nodeid, ids, set); err != nil {
		return err
	}
	return store.UpsertTest(q, t)
}

// trimCache drops parsed blocks once more files than --diff-cache-size hold
// them; the block ids already assigned stay valid.
func (s *Session) trimCache() {
	if s.parsed <= s.cfg.CacheSize {
		return
	}
	for _, fi := range s.files {
		if fi.cur != nil && fi.cur.File != nil && fi.skeleton != nil {
			fi.cur = nil // parsed again if needed
			s.parsed--
		}
		if s.parsed <= s.cfg.CacheSize/2 {
			return
		}
	}
}

// parser returns the session's tree-sitter parser for the recording path;
// recording is serial, so one serves it.
func (s *Session) parser() *blocks.Parser {
	if s.p == nil {
		s.p = blocks.NewParser()
	}
	return s.p
}
