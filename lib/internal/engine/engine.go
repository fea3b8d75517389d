// Package engine runs one pytest session's side of pytest-difftest: it opens
// the baseline, works out which tests are affected, writes the records of
// the tests that ran, and tidies up at the end. The C ABI only translates
// calls into this package.
package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/dists"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/imports"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/selection"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Config is what the plugin tells the engine at the start of a session.
type Config struct {
	Root   string `json:"root"`
	DBPath string `json:"db_path"`
	Record bool   `json:"record"` // --diff-baseline
	Force  bool   `json:"force"`  // --diff-force
	Why    bool   `json:"why"`
	// Verbose (--diff-v): report parser failures.
	Verbose bool `json:"verbose"`
	// Durations: report the recorded duration of every test that may run
	// (Selection.Durations), for --diff-shard.
	Durations bool              `json:"durations"`
	BatchSize int               `json:"batch_size"`
	CacheSize int               `json:"cache_size"`
	Env       map[string]string `json:"env"` // "python" -> "3.11", ...
	// EnvName names the environment whose results are used and recorded
	// (SPEC 4.7; --diff-env); DefaultEnv when empty.
	EnvName string `json:"env_name"`
	// Paths are the import search directories under the root, relative
	// ("" is the root itself), like sys.path.
	Paths []string `json:"paths"`
	// SitePaths are the interpreter's other search directories (absolute),
	// where installed distributions live.
	SitePaths []string `json:"site_paths"`
	// ProjectUp is how many levels rootdir lies below the project root (the
	// nearest directory at or above it with .git, pyproject.toml or
	// setup.py): stored paths may climb that far with "..", no further.
	ProjectUp int `json:"project_up"`
	// Editable maps the normalized names of editable distributions whose
	// source lies outside the project to that directory: their files are
	// stored as "<dist:NAME>/..." and tracked by content, not by version.
	Editable map[string]string `json:"editable"`
	// StartedNs is when the session began importing project code (ns since
	// the epoch; 0: when the session opened). A file that changed since may
	// differ from what the tests ran: see fileInfo.untrusted.
	StartedNs int64 `json:"started_ns"`
}

// DefaultEnv is the environment of a configuration that names none.
const DefaultEnv = "default"

// Session is one pytest session's view of the baseline.
type Session struct {
	cfg      Config
	panicAt  string // tests only: see OpenPanicking
	root     fingerprint.Root
	db       *store.DB
	warnings []string

	files    map[string]*fileInfo // by relative path, filled by Select and Record
	envInfo  *fileInfo
	envID    int64 // envs row of cfg.EnvName; 0 while it has none
	selected *Selection
	parsed   int // files holding parsed blocks, bounded by cfg.CacheSize
	p        *blocks.Parser
	resolver *imports.Resolver
	dists    *dists.Index
	exists   map[string]bool    // stat results for import resolution
	depsets  map[string]depList // test file (+"\x00full") -> its import depset, this session
	closures map[string]closureInfo
	lists    map[int64][]int64        // depsets rows read or written, by id
	unsafe   []int64                  // files rows whose path is unsafe (SPEC 3.2)
	scoped   map[string]scopedImports // file, function -> what its own imports bring in
	// module path -> what importing it ran (ImportDeps records), charged
	// to every test file whose imports reach the module.
	importCalls map[string][]int64
	// gen is the baseline's cleanup generation when this session read it:
	// the row ids cached above are valid only while it is unchanged.
	gen         int64
	importReads map[string]*reads               // module path -> what the code it ran at import reads
	externals   map[string]bool                 // import of an installed module -> precise (importPrecise)
	binds       map[string]map[string]binding   // file -> what its imports bind (bindings)
	importFalls map[string]fallback             // file -> what its import-time code reads unnamed (importFall)
	stars       map[string][]string             // file -> the project modules it star-imports (starImports)
	known       map[string][]string             // file -> its star-import sources with known exports (knownStars)
	blockFalls  map[blockRef]fallback           // block -> what its code reads unnamed (blockFall)
	roots       map[blockRef][]string           // block -> the modules it names (blockRoots)
	lookups     map[blockRef]lookups            // block -> the unbound names it looks up (blockLookups)
	froms       map[string]map[string][]nameRef // file -> name -> what its from-imports bind it to (fromSources)
	basesPlain  map[nameRef]bool                // (file, dotted name) -> a base that runs no hook (plainBase)
	deriving    map[string]bool                 // files whose description is being computed
	pathModules map[string][]string             // directory, dotted path -> the project module it names (namedFiles)
	doctests    map[string]doctestInfo          // doctest file -> what its examples reach
	// The project modules imported in the session so far, as the import
	// records say (fallAny).
	imported      map[string]bool
	importedOrder []string
	moduleFroms   map[string][]int64  // path -> its module-level from-imports' blocks (moduleFromImportIDs)
	reach         map[string][]string // file -> the files it reaches by import (fileClosure)
}

// ErrBaselineCleaned stops a recording session whose cached row ids another
// session's cleanup may have deleted (and SQLite may have given to other
// rows since): its further records could point at the wrong blocks.
var ErrBaselineCleaned = errors.New("another recording session cleaned up the baseline during this run (tests not recorded stay selected)")

// fileInfo is the session's knowledge of one file.
type fileInfo struct {
	id      int64 // files row, 0 until written
	state   fingerprint.State
	cur     *selection.Current // nil until needed
	changed bool               // differs from the recorded fingerprint
	// untrusted: the file changed while the session ran (after it began
	// importing code, or between two reads), so what was read may not be
	// what the tests ran. Tests recorded against it depend on a version
	// that is never current ("<edited>"), and a test file is not complete.
	untrusted bool
	// Block ids of the current versions, filled while recording.
	skeleton []int64
	byName   map[string]int64
	stored   map[blockKey]store.Block // versions in the baseline, read with byName
	// named: what a data file names (dataPaths), read once, the first
	// time a test depends on the file.
	named     dataNames
	namedRead bool
}

// blockKey identifies a block version within its file.
type blockKey struct {
	name     string
	checksum uint64
}

// Open opens (or creates) the baseline.
func Open(cfg Config) (*Session, error) {
	return open(cfg, "")
}

func open(cfg Config, panicAt string) (*Session, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 20
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100000
	}
	if cfg.StartedNs <= 0 {
		cfg.StartedNs = time.Now().UnixNano()
	}
	if cfg.EnvName == "" {
		cfg.EnvName = DefaultEnv
	}
	if err := store.CheckEnvName(cfg.EnvName); err != nil {
		return nil, err
	}
	debugPanic(panicAt, "open")
	db, aside, err := store.Open(cfg.DBPath)
	if err != nil {
		return nil, err
	}
	// A selection-only session adds no row: an environment never recorded
	// has no tests, so everything runs.
	var envID int64
	if cfg.Record {
		envID, err = store.EnsureEnv(db, cfg.EnvName)
	} else {
		envID, _, err = store.EnvByName(db, cfg.EnvName)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	s := &Session{cfg: cfg, panicAt: panicAt, root: fingerprint.Root{Dir: cfg.Root, Up: max(cfg.ProjectUp, 0), Editable: cfg.Editable}, db: db, envID: envID, files: map[string]*fileInfo{}, exists: map[string]bool{}, depsets: map[string]depList{}, closures: map[string]closureInfo{}, lists: map[int64][]int64{}, scoped: map[string]scopedImports{}, importCalls: map[string][]int64{}, importReads: map[string]*reads{}, externals: map[string]bool{}, binds: map[string]map[string]binding{}, importFalls: map[string]fallback{}, stars: map[string][]string{}, known: map[string][]string{}, blockFalls: map[blockRef]fallback{}, roots: map[blockRef][]string{}, lookups: map[blockRef]lookups{}, froms: map[string]map[string][]nameRef{}, basesPlain: map[nameRef]bool{}, deriving: map[string]bool{}, pathModules: map[string][]string{}, doctests: map[string]doctestInfo{}, imported: map[string]bool{}, moduleFroms: map[string][]int64{}, reach: map[string][]string{}}
	paths := cfg.Paths
	if len(paths) == 0 {
		paths = []string{""}
	}
	s.resolver = &imports.Resolver{Project: project{s}, Paths: paths, Installed: installed(cfg.SitePaths)}
	s.dists = dists.New(cfg.SitePaths)
	if aside != nil {
		s.warnings = append(s.warnings, aside.String())
	}
	return s, nil
}

// Close releases the database.
func (s *Session) Close() error {
	s.debugPanic("close")
	if s.p != nil {
		s.p.Close()
	}
	return s.db.Close()
}

// Selection is the answer to "what must run".
type Selection struct {
	// Full: run everything (empty baseline or --diff-force); the other
	// fields are then empty.
	Full bool `json:"full"`
	// SkipFiles are recorded test files not to collect at all.
	SkipFiles []string `json:"skip_files"`
	// Deselect are known, unaffected tests inside files that are collected.
	Deselect []string `json:"deselect"`
	// SkippedTests counts the recorded tests in SkipFiles.
	SkippedTests int      `json:"skipped_tests"`
	Known        int      `json:"known"`
	Affected     int      `json:"affected"`
	ChangedFiles []string `json:"changed_files"`
	// Reasons maps selected known tests to why they were selected (only
	// with Config.Why).
	Reasons map[string]string `json:"reasons,omitempty"`
	// Durations maps the known tests that may run (all of them on a full
	// run, else the affected ones) to their recorded duration in seconds
	// (only with Config.Durations). New tests have none.
	Durations map[string]float64 `json:"durations,omitempty"`
	Warnings  []string           `json:"warnings"`
	Millis    float64            `json:"millis"`
}

// Select fingerprints the files the baseline knows and computes the
// selection. In recording mode it also stores the new fingerprints and
// marks block versions that no longer match as stale.
func (s *Session) Select() (*Selection, error) {
	start := time.Now()
	// Read first: a cleanup after it only makes Record stop, needlessly
	// but safely.
	gen, err := store.Generation(s.db)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	s.gen = gen
	sel, err := s.selectTests()
	if err != nil {
		return nil, err
	}
	sel.Warnings = append(s.warnings, sel.Warnings...)
	s.warnings = nil
	sel.Millis = float64(time.Since(start).Microseconds()) / 1000
	s.selected = sel
	return sel, nil
}

func (s *Session) selectTests() (*Selection, error) {
	sel := &Selection{}
	rows, err := store.Files(s.db)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}

	// Fingerprint every file the baseline knows.
	var paths []string
	var known []fingerprint.Known
	var ids []int64
	var envFileID int64
	envPath := store.EnvPath(s.cfg.EnvName)
	var unsafe []store.File
	for _, r := range rows {
		if store.IsEnvPath(r.Path) {
			// Other environments' blocks are checked by their own runs.
			if r.Path == envPath {
				envFileID = r.ID
			}
			continue
		}
		if !s.root.Safe(r.Path) {
			unsafe = append(unsafe, r)
			s.unsafe = append(s.unsafe, r.ID)
			continue
		}
		paths = append(paths, r.Path)
		known = append(known, fingerprint.Known{Size: r.Size, Key: r.MtimeNs, Hash: r.Hash})
		ids = append(ids, r.ID)
	}
	if len(unsafe) > 0 {
		sel.Warnings = append(sel.Warnings, unsafeWarning(unsafe))
	}
	s.debugPanic("select")
	states, changed := fingerprint.Check(s.root, paths, known)

	var toParse []*fingerprint.State
	var changedInfos, rekeyed []*fileInfo
	for i, p := range paths {
		fi := &fileInfo{id: ids[i], state: states[i], changed: changed[i], untrusted: s.changedSinceStart(states[i])}
		s.files[p] = fi
		if !changed[i] && states[i].Key != 0 && states[i].Key != known[i].Key {
			// Hashed and unchanged: its stat can vouch for it from now on.
			rekeyed = append(rekeyed, fi)
		}
		if changed[i] {
			sel.ChangedFiles = append(sel.ChangedFiles, p)
			changedInfos = append(changedInfos, fi)
			toParse = append(toParse, &fi.state)
		}
	}
	parsed := fingerprint.Parse(toParse)
	for i, fi := range changedInfos {
		fi.cur = s.describe(fi.state, parsed[i])
		if f := parsed[i]; f != nil && f.Panic != "" && s.cfg.Verbose {
			sel.Warnings = append(sel.Warnings, fmt.Sprintf("%s: the parser failed (%s); the whole file counts as one block", fi.state.Path, f.Panic))
		}
	}
	envCur := selection.EnvCurrent(s.cfg.Env)
	s.envInfo = &fileInfo{id: envFileID, cur: &envCur, changed: true}

	// Which block versions are stale: those already marked, and those of
	// changed files (recomputed, since a file can also change back).
	changes := selection.NewChanges()
	check := func(path string, fi *fileInfo) error {
		if fi.id == 0 {
			return nil
		}
		bs, err := store.BlocksOfFile(s.db, fi.id)
		if err != nil {
			return fmt.Errorf("read the block versions of %s: %w", path, err)
		}
		changes.CheckFile(fi.id, path, bs, *fi.cur, s.cfg.Why)
		return nil
	}
	for _, fi := range changedInfos {
		if err := check(fi.state.Path, fi); err != nil {
			return nil, err
		}
	}
	if err := check(envPath, s.envInfo); err != nil {
		return nil, err
	}
	for _, f := range unsafe {
		bs, err := store.BlocksOfFile(s.db, f.ID)
		if err != nil {
			return nil, fmt.Errorf("read the block versions of %q: %w", f.Path, err)
		}
		changes.Unsafe(f, bs)
	}
	marked, err := store.StaleBlocks(s.db)
	if err != nil {
		return nil, fmt.Errorf("read the changed block versions: %w", err)
	}
	pathOf := map[int64]string{}
	for _, r := range rows {
		pathOf[r.ID] = r.Path
	}
	changes.Marked(marked, pathOf)

	if s.cfg.Record {
		if err := s.storeFingerprints(append(changedInfos, rekeyed...), changes.Flips); err != nil {
			return nil, fmt.Errorf("store the new fingerprints: %w", err)
		}
	}

	nTests, err := store.CountTestsIn(s.db, s.envID)
	if err != nil {
		return nil, fmt.Errorf("count the recorded tests: %w", err)
	}
	sel.Known = nTests
	if nTests == 0 || s.cfg.Force {
		sel.Full = true
		return sel, s.addDurations(sel, nil)
	}

	// Affected tests: failing ones, and those depending on a stale block.
	failing, err := store.FailingTests(s.db, s.envID)
	if err != nil {
		return nil, fmt.Errorf("read the failing tests: %w", err)
	}
	reasons := selection.Failing(failing)
	var byName map[string]selection.NameChange // with Why: tests selected by a name block
	// With no file changed and no version stale, no test's dependencies
	// can have changed: the tests are not read at all.
	if changes.Any() || len(changedInfos) > 0 {
		if byName, err = s.affected(changes, reasons); err != nil {
			return nil, fmt.Errorf("read baseline: %w", err)
		}
	}
	sel.Affected = len(reasons)
	for nodeid, nc := range byName {
		if by := s.readBy(nc); by != "" {
			reasons[nodeid] = strings.TrimSuffix(reasons[nodeid], " changed") + " read by " + by
		}
	}

	// Test files to collect: those holding an affected test, and those that
	// may hold tests we never recorded.
	complete, err := store.TestFiles(s.db, s.envID)
	if err != nil {
		return nil, err
	}
	testFiles, err := store.RecordedTestFiles(s.db, s.envID)
	if err != nil {
		return nil, err
	}
	var collected []string
	sel.SkipFiles, collected = selection.Collect(testFiles, reasons, complete, s.unchangedHash)
	inCollected, err := store.TestsInFiles(s.db, s.envID, collected)
	if err != nil {
		return nil, err
	}
	sel.Deselect = selection.Deselect(inCollected, reasons)
	sel.SkippedTests = nTests - len(inCollected)
	if s.cfg.Why {
		sel.Reasons = reasons
	}
	slices.Sort(sel.SkipFiles)
	slices.Sort(sel.ChangedFiles)
	return sel, s.addDurations(sel, reasons)
}

// addDurations fills sel.Durations when asked: for the tests in affected,
// or for every known test when affected is nil (a full run).
func (s *Session) addDurations(sel *Selection, affected map[string]string) error {
	if !s.cfg.Durations {
		return nil
	}
	all, err := store.Durations(s.db, s.envID)
	if err != nil {
		return fmt.Errorf("read baseline durations: %w", err)
	}
	if affected == nil {
		sel.Durations = all
		return nil
	}
	sel.Durations = make(map[string]float64, len(affected))
	for nodeid := range affected {
		if d, ok := all[nodeid]; ok {
			sel.Durations[nodeid] = d
		}
	}
	return nil
}

// affected reads the rows selection.Changes.Affected decides on: the
// versions without a file, the shared lists, the tests not yet selected,
// and which of the versions they refer to are missing.
func (s *Session) affected(changes *selection.Changes, reasons map[string]string) (map[string]selection.NameChange, error) {
	orphans, err := store.OrphanBlocks(s.db)
	if err != nil {
		return nil, err
	}
	changes.Orphans(orphans)
	sets, err := store.Depsets(s.db)
	if err != nil {
		return nil, err
	}
	var tests []store.Test
	err = store.EachTestIn(s.db, s.envID, func(t *store.Test) error {
		if _, ok := reasons[t.NodeID]; !ok {
			c := *t
			c.Deps = slices.Clone(t.Deps)
			tests = append(tests, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Which referenced versions exist, asked once for all of them.
	missing, err := store.MissingBlocks(s.db, changes.Refs(sets, tests))
	if err != nil {
		return nil, err
	}
	changes.Missing(missing)
	return changes.Affected(sets, tests, reasons), nil
}

// unsafeWarning is the one line that says which stored paths are ignored.
func unsafeWarning(unsafe []store.File) string {
	var examples []string
	for _, f := range unsafe[:min(len(unsafe), 3)] {
		examples = append(examples, fmt.Sprintf("%q", f.Path))
	}
	more := ""
	if len(unsafe) > len(examples) {
		more = ", ..."
	}
	return fmt.Sprintf("ignoring %d unsafe path(s) in the baseline (absolute or outside the project root; never read): %s%s; the tests that depend on them are selected",
		len(unsafe), strings.Join(examples, ", "), more)
}

// unchangedHash returns a file's content hash in this run, and false when
// it was not fingerprinted, is missing or unreadable, or changed since the
// baseline (see selection.Collect).
func (s *Session) unchangedHash(path string) (uint64, bool) {
	fi := s.files[path]
	if fi == nil || !fi.state.Exists || fi.state.Unreadable || fi.changed {
		return 0, false
	}
	return fi.state.Hash, true
}

// storeFingerprints records the new state of changed files and the stale
// flags that follow from it.
func (s *Session) storeFingerprints(changed []*fileInfo, flips []store.Block) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, fi := range changed {
		if err := upsertFileState(tx, fi); err != nil {
			return err
		}
		fi.changed = false
	}
	for _, b := range flips {
		if err := store.SetStale(tx, []int64{b.ID}, b.Stale); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func upsertFileState(q store.Querier, fi *fileInfo) error {
	f := store.File{Path: fi.state.Path, Size: fi.state.Size, MtimeNs: fi.state.Key, Hash: fi.state.Hash}
	if !fi.state.Exists || fi.state.Unreadable {
		f.Size, f.MtimeNs, f.Hash = fingerprint.Missing, 0, 0
	}
	id, err := store.UpsertFile(q, f)
	if err != nil {
		return err
	}
	fi.id = id
	return nil
}

// current returns a file's current blocks, reading and parsing it on first
// use. Files first seen while recording are read now.
//
// A read after selection is never trusted on its own: the tests ran what
// the import read, maybe earlier. A file that changed since the session
// began, or whose content differs from the one read at selection, is
// untrusted; the fingerprint stored for it stays the one taken at
// selection, so that the next run sees the change and checks every
// version recorded against it.
func (s *Session) current(path string) *fileInfo {
	fi := s.files[path]
	if fi == nil {
		st := fingerprint.Read(s.root, path)
		fi = &fileInfo{state: st, changed: true, untrusted: s.changedSinceStart(st)}
		s.files[path] = fi
	}
	if fi.cur == nil {
		if fi.state.Content == nil && fi.state.Exists && !fi.state.Unreadable {
			st := fingerprint.Read(s.root, path)
			if st.Hash != fi.state.Hash || !st.Exists || st.Unreadable || s.changedSinceStart(st) {
				fi.untrusted = true
			}
			fi.state = st
		}
		var f *blocks.File
		if fingerprint.IsPython(path) && fi.state.Exists && !fi.state.Unreadable {
			p := s.parser()
			parsedFile := p.Parse(fi.state.Content)
			f = &parsedFile
		}
		fi.state.Content = nil
		fi.cur = s.describe(fi.state, f)
		s.parsed++
	}
	return fi
}

// describe computes a file's current view; the classes' bases may be in
// other files, which it describes in turn (never this one again).
func (s *Session) describe(st fingerprint.State, f *blocks.File) *selection.Current {
	s.deriving[st.Path] = true
	defer delete(s.deriving, st.Path)
	cur := selection.CurrentOf(st, f, s.importPrecise(st.Path), s.plainBases(st.Path))
	return &cur
}

// changedSinceStart reports whether a Python file may have changed after
// the session began importing code (the racy-timestamp rule of
// fingerprint.Settled, against the session's start): a module runs as it
// was when imported, maybe long before the engine reads it. A data file is
// read by the test itself, often after the test wrote it (its own output,
// tmp_path under rootdir): for data, only a change between the engine's
// reads counts (see current).
func (s *Session) changedSinceStart(st fingerprint.State) bool {
	return fingerprint.IsPython(st.Path) && st.Exists && !st.Unreadable &&
		!fingerprint.Settled(st.ChangedNs, time.Unix(0, s.cfg.StartedNs))
}
