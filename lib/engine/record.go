package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/selection"
	"github.com/pytest-difftest/pytest-difftest/lib/store"
)

// Kinds of dependency in a record (see include/difftest.h).
const (
	DepLines = 0 // a Python file and the first lines of code objects run in it
	DepData  = 1 // a file opened for reading
	DepDist  = 2 // installed code ran (Path: its top-level module name)
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

// TestFile returns the test file part of a node id.
func TestFile(nodeid string) string {
	if i := strings.Index(nodeid, "::"); i >= 0 {
		return nodeid[:i]
	}
	return nodeid
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
	now := time.Now().Unix()
	envIDs, err := s.envBlockIDs(tx)
	if err != nil {
		return err
	}
	for _, t := range batch {
		if t.Outcome == store.ImportDeps {
			if err := s.addImportCalls(tx, t); err != nil {
				return err
			}
			continue
		}
		ids := append([]int64(nil), envIDs...)
		for _, d := range t.Deps {
			if d.Kind == DepDist {
				got, err := s.distIDs(tx, d.Path)
				if err != nil {
					return err
				}
				ids = append(ids, got...)
				continue
			}
			if !fingerprint.Safe(d.Path) {
				continue
			}
			got, err := s.depIDs(tx, d)
			if err != nil {
				return err
			}
			ids = append(ids, got...)
		}
		if t.Outcome == store.MergeDeps {
			if err := s.mergeDeps(tx, t.NodeID, ids); err != nil {
				return err
			}
			continue
		}
		depset, err := s.importSet(tx, TestFile(t.NodeID))
		if err != nil {
			return err
		}
		duration := t.Duration
		if math.IsNaN(duration) || math.IsInf(duration, 0) {
			duration = 0 // SQLite stores NaN as NULL
		}
		rec := store.Test{
			Depset:     depset,
			NodeID:     t.NodeID,
			File:       TestFile(t.NodeID),
			Outcome:    t.Outcome,
			Duration:   duration,
			RecordedAt: now,
			Deps:       store.EncodeIDs(ids),
		}
		if err := store.UpsertTest(tx, rec); err != nil {
			return err
		}
		s.cfg.debugPanic("record")
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
		if fi.id, err = store.UpsertFile(q, store.File{Path: selection.EnvFile}); err != nil {
			return 0, false, err
		}
	}
	if fi.byName == nil {
		fi.byName = map[string]int64{}
	}
	id, err = store.UpsertBlock(q, fi.id, name, fi.cur.Checksums[name], []string{value})
	if err != nil {
		return 0, false, err
	}
	fi.byName[name] = id
	return id, true, nil
}

// depIDs maps one dependency to the ids of the current block versions it
// stands for: for Python code, the module, class and "<defs>" blocks of the
// file (SPEC 4.4b) and the function blocks whose code ran (4.4a).
func (s *Session) depIDs(q store.Querier, d Dep) ([]int64, error) {
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
	if fi.byName == nil {
		fi.byName = map[string]int64{}
	}
	id := func(name string) (int64, error) {
		if id, ok := fi.byName[name]; ok {
			return id, nil
		}
		var names []string
		if name == selection.Defs && fi.cur.File != nil {
			names = fi.cur.File.Names
		}
		id, err := store.UpsertBlock(q, fi.id, name, fi.cur.Checksums[name], names)
		if err != nil {
			return 0, err
		}
		fi.byName[name] = id
		return id, nil
	}
	f := fi.cur.File
	if d.Kind == DepData || f == nil {
		v, err := id(selection.Content)
		return []int64{v}, err
	}
	if fi.skeleton == nil {
		for _, b := range f.Blocks {
			if b.Kind == blocks.Function {
				continue
			}
			v, err := id(b.Name)
			if err != nil {
				return nil, err
			}
			fi.skeleton = append(fi.skeleton, v)
		}
	}
	out := append([]int64(nil), fi.skeleton...)
	if !f.Parsed {
		return out, nil
	}
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
		scoped, err := s.scopedImportIDs(q, d.Path, name)
		if err != nil {
			return nil, err
		}
		out = append(out, scoped...)
	}
	return out, nil
}

// mergeDeps adds dependencies to the record of a test written earlier in
// this session; a test without a record is left alone.
func (s *Session) mergeDeps(q store.Querier, nodeid string, ids []int64) error {
	old, ok, err := store.TestDeps(q, nodeid)
	if err != nil || !ok {
		return err
	}
	err = store.DecodeIDs(old, func(id int64) bool {
		ids = append(ids, id)
		return true
	})
	if err != nil {
		return err
	}
	return store.SetTestDeps(q, nodeid, store.EncodeIDs(ids))
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
