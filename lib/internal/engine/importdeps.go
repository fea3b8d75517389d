package engine

import (
	pathpkg "path"
	"slices"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/imports"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// project lets the import resolver see the files under the root through the
// session's caches.
type project struct{ s *Session }

func (p project) Exists(rel string) bool {
	if !p.s.root.Safe(rel) {
		return false
	}
	if fi, ok := p.s.files[rel]; ok {
		return fi.state.Exists && !fi.state.Unreadable
	}
	exists, ok := p.s.exists[rel]
	if !ok {
		st := fingerprint.Stat(p.s.root, rel)
		exists = st.Exists && !st.Unreadable
		p.s.exists[rel] = exists
	}
	return exists
}

// Imports returns a file's module-level imports, the ones that run when it
// is imported; those inside functions are charged to the tests that ran the
// function (scopedImportIDs).
func (p project) Imports(rel string) []blocks.Import {
	fi := p.s.current(rel)
	if fi.cur == nil || fi.cur.File == nil {
		return nil
	}
	var out []blocks.Import
	for _, imp := range fi.cur.File.Imports {
		if imp.Scope == "" {
			out = append(out, imp)
		}
	}
	return out
}

// depList is a stored shared dependency list: its depsets row (0 for
// none) and its block ids, sorted.
type depList struct {
	id  int64
	ids []int64
}

// SessionDeps is the ImportDeps record's path for what ran outside tests
// and imports: conftest.py hooks at start-up and after collection, what
// they called and read. Every test depends on it.
const SessionDeps = ""

// closureInfo is what a test file reaches by import.
type closureInfo struct {
	files    []string // project files: the test file, its conftest.py files, what they import
	testFile string
	// fall: what import-time code among them reads without naming it
	// (see fallback), which all of its tests depend on.
	fall fallback
}

// importSet returns the shared dependency list of a test file: the
// statements with effects, class and "<defs>" blocks of every project
// module that the file and its conftest.py files import, directly or
// transitively (SPEC 4.4c, 4.8), with the name blocks their import-time
// code reads, and the installed distributions they import (4.4g); the hook
// functions of those conftest.py files; and what the session ran. fall
// adds, for tests whose code reads names without naming them, what that
// code may read in every reached module (see fallbackIDs).
func (s *Session) importSet(q store.Querier, testFile string, fall fallback) (depList, closureInfo, error) {
	key := testFile
	if fall > fallNone {
		key += "\x00" + string(rune('0'+fall))
	}
	if set, ok := s.depsets[key]; ok {
		return set, s.closures[testFile], nil
	}
	ids := slices.Clone(s.importCalls[SessionDeps])
	var info closureInfo
	if s.root.Safe(testFile) {
		got, in, err := s.closureIDs(q, testFile, fall)
		if err != nil {
			return depList{}, closureInfo{}, err
		}
		ids = append(ids, got...)
		info = in
	}
	if s.root.Safe(testFile) && !fingerprint.IsPython(testFile) {
		// Items a conftest.py collects from another kind of file (SPEC
		// 4.4f): the file itself, by content, and what its collector ran
		// and read (reported under the file's path).
		got, err := s.depIDs(q, Dep{Kind: DepData, Path: testFile}, nil)
		if err != nil {
			return depList{}, closureInfo{}, err
		}
		ids = append(ids, got...)
		ids = append(ids, s.importCalls[testFile]...)
	}
	s.closures[testFile] = info
	if len(ids) == 0 {
		s.depsets[key] = depList{}
		return depList{}, info, nil
	}
	set, err := s.storeList(q, ids)
	if err != nil {
		return depList{}, closureInfo{}, err
	}
	s.depsets[key] = set
	return set, info, nil
}

func (s *Session) closureIDs(q store.Querier, testFile string, fall fallback) ([]int64, closureInfo, error) {
	p := project{s}
	var absent []string
	conftests := imports.Conftests(testFile, func(c string) bool {
		if p.Exists(c) {
			return true
		}
		absent = append(absent, c)
		return false
	})
	start := conftests
	if fingerprint.IsPython(testFile) {
		start = append([]string{testFile}, conftests...)
	}
	files, external := s.resolver.Closure(start)
	ids, err := s.reachedIDs(q, files, external)
	if err != nil {
		return nil, closureInfo{}, err
	}
	names, importFall, err := s.importTimeIDs(q, files, testFile)
	if err != nil {
		return nil, closureInfo{}, err
	}
	ids = append(ids, names...)
	// pytest reads a test file's and a conftest.py's top level by name
	// (test_* functions bound by assignment, __test__, pytest_plugins,
	// collect_ignore): their whole top level counts, as before SPEC 4.8.
	own, err := s.moduleIDs(q, []string{testFile})
	if err != nil {
		return nil, closureInfo{}, err
	}
	ids = append(ids, own...)
	got, err := s.fallbackIDs(q, files, fall)
	if err != nil {
		return nil, closureInfo{}, err
	}
	ids = append(ids, got...)
	var more []Dep
	// pytest calls a conftest.py's hooks around every test in its scope,
	// some outside anything recorded (pytest_runtest_makereport can turn a
	// failure into a pass, pytest_runtest_protocol can rerun a test): each
	// test depends on their bodies, whether or not a phase ran them.
	for _, f := range conftests {
		more = append(more, Dep{Kind: DepLines, Path: f, Lines: s.hookLines(f)})
	}
	// A conftest.py created above the test file later (an autouse
	// fixture, a hook) changes what the test does: the missing ones are
	// dependencies too, like a data file that a test looked for.
	for _, f := range absent {
		more = append(more, Dep{Kind: DepData, Path: f})
	}
	for _, d := range more {
		got, err := s.depIDs(q, d, nil)
		if err != nil {
			return nil, closureInfo{}, err
		}
		ids = append(ids, got...)
	}
	return ids, closureInfo{files: files, testFile: testFile, fall: importFall}, nil
}

// reachedIDs returns what reaching some modules by import stands for:
// each module's module-level, class and "<defs>" blocks with what its
// import ran, and the environment blocks of the distributions reached.
func (s *Session) reachedIDs(q store.Querier, files, external []string) ([]int64, error) {
	var ids []int64
	for _, f := range files {
		got, err := s.depIDs(q, Dep{Kind: DepLines, Path: f}, nil)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
		ids = append(ids, s.importCalls[f]...)
	}
	for _, name := range external {
		got, err := s.distIDs(q, name)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// hookLines returns the first lines of a file's functions and methods
// named like pytest hooks (a conftest.py may register a plugin class).
func (s *Session) hookLines(path string) []uint32 {
	fi := s.current(path)
	if fi.cur == nil || fi.cur.File == nil {
		return nil
	}
	var lines []uint32
	for _, b := range fi.cur.File.Blocks {
		name := b.Name[strings.LastIndexByte(b.Name, '.')+1:]
		if b.Kind == blocks.Function && strings.HasPrefix(name, "pytest_") {
			lines = append(lines, uint32(b.Start))
		}
	}
	return lines
}

// storeList stores a shared dependency list once (by content) and returns
// it.
func (s *Session) storeList(q store.Querier, ids []int64) (depList, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	deps := store.EncodeIDs(ids)
	id, err := store.UpsertDepset(q, deps, contenthash.Sum(deps))
	if err != nil {
		return depList{}, err
	}
	s.lists[id] = ids
	return depList{id, ids}, nil
}

// storedList returns a shared dependency list by id. One that is missing
// or cannot be decoded (a damaged baseline) comes back without ids, so that
// nothing is taken out of a test's own list on its account.
func (s *Session) storedList(q store.Querier, id int64) (depList, error) {
	if ids, ok := s.lists[id]; ok || id == 0 {
		return depList{id, ids}, nil
	}
	deps, _, err := store.DepsetByID(q, id)
	if err != nil {
		return depList{}, err
	}
	var ids []int64
	if store.DecodeIDs(deps, func(id int64) bool { ids = append(ids, id); return true }) != nil {
		ids = nil
	}
	s.lists[id] = ids
	return depList{id, ids}, nil
}

// distIDs returns the environment blocks of the distributions providing a
// top-level module; none for the standard library and unknown names.
func (s *Session) distIDs(q store.Querier, module string) ([]int64, error) {
	var ids []int64
	for _, dist := range s.dists.Lookup(module) {
		if dist == "pytest-difftest" {
			continue // runs inside every test, but no test depends on it
		}
		if _, editable := s.cfg.Editable[dist]; editable {
			continue // tracked by the content of its files, not its version
		}
		id, ok, err := s.envBlockID(q, "dist:"+dist)
		if err != nil {
			return nil, err
		}
		if ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// scopedImports is what the imports inside one function bring in.
type scopedImports struct {
	ids   []int64
	files []string
}

// scopedImportIDs returns what the imports inside one function bring in:
// the statements with effects, class and "<defs>" blocks of the modules
// they reach, transitively, and their distributions. A test that ran the
// function depends on them, as a test file depends on what it imports at
// the top; the files are where the names the function reads may be bound.
func (s *Session) scopedImportIDs(q store.Querier, path, function string) (scopedImports, error) {
	key := path + "\x00" + function
	if sc, ok := s.scoped[key]; ok {
		return sc, nil
	}
	fi := s.current(path)
	var start []string
	var external []string
	if fi.cur != nil && fi.cur.File != nil {
		for _, imp := range fi.cur.File.Imports {
			if imp.Scope != function {
				continue
			}
			files, ext := s.resolver.Resolve(path, imp)
			start = append(start, files...)
			if ext != "" {
				external = append(external, ext)
			}
		}
	}
	var files []string
	if len(start) > 0 {
		var ext []string
		files, ext = s.resolver.Closure(start)
		external = append(external, ext...)
	}
	ids, err := s.reachedIDs(q, files, external)
	if err != nil {
		return scopedImports{}, err
	}
	// "from m import NAME" inside the function binds a local that the
	// function reads as a plain name (counted in its own file): m's NAME,
	// bound or not, is what it gets.
	if fi.cur != nil && fi.cur.File != nil {
		for _, imp := range fi.cur.File.Imports {
			if imp.Scope != function || len(imp.Names) == 0 {
				continue
			}
			got, err := s.fromImportIDs(q, path, imp, false)
			if err != nil {
				return scopedImports{}, err
			}
			ids = append(ids, got...)
		}
	}
	sc := scopedImports{ids: ids, files: files}
	s.scoped[key] = sc
	return sc, nil
}

// addImportCalls takes in what importing one module ran. A module runs
// once per process, but every process (xdist worker) reports it: the
// versions seen are united. Import sets computed before it arrived are
// computed again for the tests still to come.
// earlyModules settles the modules of a record imported before recording
// began (ImportedEarly): pytest's warning filters import the module that
// names a category by name ("error::pkg.warnings.PkgWarning"), and with it
// its packages and what they import. A module that the modules imported by
// name, and the packages on their way, reach by their own imports was
// imported by them; any other may have been imported by name and counts
// whole (WholeModule).
func (s *Session) earlyModules(deps []Dep) []Dep {
	var early, roots []string
	for _, d := range deps {
		switch {
		case d.Kind != DepLines:
		case slices.Contains(d.Lines, ImportedEarly):
			early = append(early, d.Path)
		case slices.Contains(d.Lines, WholeModule):
			roots = append(roots, d.Path)
			for dir := pathpkg.Dir(d.Path); dir != "." && dir != "/"; dir = pathpkg.Dir(dir) {
				if init := pathpkg.Join(dir, "__init__.py"); s.current(init).state.Exists {
					roots = append(roots, init)
				} else {
					break
				}
			}
		}
	}
	if len(early) == 0 {
		return deps
	}
	// The session's record comes again with each batch: the closures are
	// the per-session ones.
	reached := map[string]bool{}
	for _, root := range roots {
		for _, f := range s.fileClosure(root) {
			reached[f] = true
		}
	}
	out := make([]Dep, 0, len(deps))
	for _, d := range deps {
		if d.Kind == DepLines && slices.Contains(d.Lines, ImportedEarly) {
			lines := slices.DeleteFunc(slices.Clone(d.Lines), func(l uint32) bool { return l == ImportedEarly })
			if !reached[d.Path] {
				lines = append(lines, WholeModule)
			}
			d.Lines = lines
		}
		out = append(out, d)
	}
	return out
}

func (s *Session) addImportCalls(q store.Querier, t TestRecord) error {
	if t.NodeID != SessionDeps && !s.root.Safe(t.NodeID) {
		return nil
	}
	var ids []int64
	r := newReads()
	added := s.noteImported(t)
	for _, d := range s.earlyModules(t.Deps) {
		var got []int64
		var err error
		switch {
		case d.Kind == DepDist:
			got, err = s.distIDs(q, d.Path)
		case s.root.Safe(d.Path):
			got, err = s.depIDs(q, d, r)
		}
		if err != nil {
			return err
		}
		ids = append(ids, got...)
	}
	known := s.importCalls[t.NodeID]
	have := make(map[int64]bool, len(known))
	for _, id := range known {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			have[id] = true
			known = append(known, id)
			added = true
		}
	}
	prev := s.importReads[t.NodeID]
	if prev == nil {
		prev = newReads()
		s.importReads[t.NodeID] = prev
	}
	prevAll := prev.all()
	for n := range r.all() {
		if !prevAll[n] {
			added = true
		}
	}
	if r.fall > prev.fall {
		added = true
	}
	prev.merge(r)
	if added {
		s.importCalls[t.NodeID] = known
		clear(s.depsets)
		clear(s.closures)
		clear(s.scoped)
	}
	return nil
}

// noteImported takes in the project modules an import record says are
// imported in the session (its module, or the modules of the session
// record), for fallAny; it reports whether one is new.
func (s *Session) noteImported(t TestRecord) bool {
	added := false
	note := func(path string) {
		if s.root.Safe(path) && fingerprint.IsPython(path) && !s.imported[path] {
			s.imported[path] = true
			s.importedOrder = append(s.importedOrder, path)
			added = true
		}
	}
	if t.NodeID != SessionDeps {
		note(t.NodeID)
		return added
	}
	for _, d := range t.Deps {
		if d.Kind == DepLines {
			note(d.Path)
		}
	}
	return added
}

// withImported returns files and, after them, every other project module
// imported so far in the session.
func (s *Session) withImported(files []string) []string {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		seen[f] = true
	}
	out := slices.Clone(files)
	for _, f := range s.importedOrder {
		if !seen[f] {
			out = append(out, f)
		}
	}
	return out
}
