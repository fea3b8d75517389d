package engine

import (
	"os"
	pathpkg "path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/selection"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Module-level statements as dependencies (SPEC 4.8). A test depends on
// the statements with effects ("<effects>") of every module it reaches, as
// it depended on the whole top level before, and on the name blocks
// ("<module>:NAME") of those modules for the names that code it depends on
// reads: the functions it ran, and the import-time code of the modules its
// test file reaches (top levels, class bodies, functions run at import).
// Code that reaches names dynamically (getattr, globals(), importlib...)
// makes the test depend on every reached module's whole top level, as
// before.

// reads gathers what a test's code reads.
type reads struct {
	// names are read as attributes (x.NAME) or otherwise not by a plain
	// name: they may belong to any module the test reaches.
	names map[string]bool
	// local are the plain names (NAME, not x.NAME) read by the functions
	// of each file: a plain name is a global of the function's own module
	// (or of what that module star-imports), never of another.
	local map[string]map[string]bool
	files []string // Python files it ran code in, or reached by imports inside functions
	seen  map[string]bool
	// fall is how much of the reached modules the code may read without
	// naming it.
	fall fallback
	ran  []ranBlock // the function blocks it ran
	// unplaced: the code looks a name up on what may be a module the
	// engine cannot place (see lookupIDs), or ran code of a module whose
	// import-time code catches a missing name; a catch then stands for
	// every reached module's names (fallCatch).
	unplaced bool
	// attrs are the names read after a dot (x.NAME): those a star-importer
	// the code names as a module may answer (exportIDs).
	attrs map[string]bool
	// cls are names a library may read as attributes of objects the code
	// hands it, in code the recorder does not watch: the words of strings
	// that list names, the names a data file names after a dot, the names
	// bound in the bodies of classes whose bases run hooks (a serializer's
	// fields). They count for class attributes; a module's names reached
	// that way are reached through a module path (ModulePaths) or a module
	// handed over as a value (dynamic access).
	cls map[string]bool
}

// ranBlock is a block of code a test ran.
type ranBlock struct {
	path string
	f    *blocks.File
	i    int
}

// fallback is what code that reads names without naming them makes a test
// depend on, besides what it names (SPEC 4.8), from least to most.
type fallback uint8

const (
	fallNone fallback = iota
	// fallObject: code reads some object's attributes by computed names
	// (getattr(self, name), vars(obj)). The object may be an instance or a
	// class of any module reached, so every class attribute of those
	// modules counts; not a module, since no code handed one over as a
	// value (else fallWhole).
	fallObject
	// fallCatch: code catches AttributeError or NameError, which hides a
	// name missing now. The names it looks up are dependencies bound or
	// not anyway (lookupIDs), so a catch adds only fallObject, unless some
	// lookup could not be placed (reads.unplaced): then which names each
	// reached module binds counts too.
	fallCatch
	// fallWhole: code reaches a module's names without naming them
	// (globals(), getattr(module, name), importlib, a module handed over as
	// a value): every reached module's whole top level.
	fallWhole
	// fallAny: code gets a module by a name it computes (import_module,
	// sys.modules[key]: blocks.File.AnyModule), which returns a module
	// imported already without an import the recorder sees: fallWhole over
	// every project module imported so far in the session too.
	fallAny
)

// placed returns fall, with a catch that looked up only names the engine
// placed taken as fallObject (see fallCatch).
func (r *reads) placed(fall fallback) fallback {
	if fall == fallCatch && !r.unplaced {
		return fallObject
	}
	return fall
}

func (r *reads) raise(f fallback) {
	if r != nil && f > r.fall {
		r.fall = f
	}
}

func newReads() *reads {
	return &reads{names: map[string]bool{}, local: map[string]map[string]bool{}, seen: map[string]bool{}}
}

// all returns every name read, whichever module's.
func (r *reads) all() map[string]bool {
	if len(r.local) == 0 {
		return r.names
	}
	out := make(map[string]bool, len(r.names))
	for n := range r.names {
		out[n] = true
	}
	for _, names := range r.local {
		for n := range names {
			out[n] = true
		}
	}
	return out
}

func (r *reads) addFile(path string) {
	if r != nil && !r.seen[path] {
		r.seen[path] = true
		r.files = append(r.files, path)
	}
}

func (r *reads) addBlock(path string, f *blocks.File, i int) {
	if r == nil {
		return
	}
	r.ran = append(r.ran, ranBlock{path, f, i})
	r.addCls(f.StringNames(i))
	for _, n := range f.Attrs(i) {
		if r.attrs == nil {
			r.attrs = map[string]bool{}
		}
		r.attrs[n] = true
	}
	bare := f.Bare(i) // sorted
	local := r.local[path]
	for _, n := range f.Idents(i) {
		if _, plain := slices.BinarySearch(bare, n); plain {
			if local == nil {
				local = map[string]bool{}
				r.local[path] = local
			}
			local[n] = true
			continue
		}
		r.names[n] = true
	}
	switch {
	case f.AnyModule(i):
		r.raise(fallAny)
	case f.Dynamic(i):
		r.raise(fallWhole)
	case f.Catches(i):
		r.raise(fallCatch)
	case f.ObjectDynamic(i):
		r.raise(fallObject)
	}
}

// addCls takes in names a library may read as class attributes (cls).
func (r *reads) addCls(names []string) {
	if r == nil || len(names) == 0 {
		return
	}
	if r.cls == nil {
		r.cls = map[string]bool{}
	}
	for _, n := range names {
		r.cls[n] = true
	}
}

// addLocal takes in plain names read by code of the module at path.
func (r *reads) addLocal(path string, names []string) {
	if len(names) == 0 {
		return
	}
	local := r.local[path]
	if local == nil {
		local = map[string]bool{}
		r.local[path] = local
	}
	for _, n := range names {
		local[n] = true
	}
}

func (r *reads) merge(o *reads) {
	if r == nil || o == nil {
		return
	}
	for n := range o.names {
		r.names[n] = true
	}
	for path, names := range o.local {
		local := r.local[path]
		if local == nil {
			local = map[string]bool{}
			r.local[path] = local
		}
		for n := range names {
			local[n] = true
		}
	}
	if len(o.cls) > 0 && r.cls == nil {
		r.cls = make(map[string]bool, len(o.cls))
	}
	for n := range o.cls {
		r.cls[n] = true
	}
	for _, f := range o.files {
		r.addFile(f)
	}
	r.raise(o.fall)
	r.unplaced = r.unplaced || o.unplaced
	r.ran = append(r.ran, o.ran...)
	for n := range o.attrs {
		if r.attrs == nil {
			r.attrs = map[string]bool{}
		}
		r.attrs[n] = true
	}
}

// starLocal returns r.local with each file's plain names also given to
// the modules it star-imports, transitively: "from m import *" makes m's
// names plain globals of the importer.
func (s *Session) starLocal(r *reads) map[string]map[string]bool {
	if len(r.local) == 0 {
		return nil
	}
	out := make(map[string]map[string]bool, len(r.local))
	var give func(path string, names map[string]bool, depth int)
	give = func(path string, names map[string]bool, depth int) {
		m := out[path]
		if m == nil {
			m = map[string]bool{}
			out[path] = m
		}
		grew := false
		for n := range names {
			if !m[n] {
				m[n] = true
				grew = true
			}
		}
		fi := s.current(path)
		if !grew || depth > 16 || fi.cur == nil || fi.cur.File == nil {
			return
		}
		for _, imp := range fi.cur.File.Imports {
			if !slices.Contains(imp.Names, "*") {
				continue
			}
			files, _ := s.resolver.Resolve(path, imp)
			for _, g := range files {
				give(g, names, depth+1)
			}
		}
	}
	for path, names := range r.local {
		give(path, names, 0)
	}
	return out
}

// fileClosure returns the project files one module reaches by import,
// itself included, once per session.
func (s *Session) fileClosure(path string) []string {
	if got, ok := s.reach[path]; ok {
		return got
	}
	got, _ := s.resolver.Closure([]string{path})
	s.reach[path] = got
	return got
}

// ensureFile writes a file's row if it is new or changed, before blocks of
// it are stored.
func (s *Session) ensureFile(q store.Querier, fi *fileInfo) error {
	if fi.id == 0 || fi.changed {
		if err := upsertFileState(q, fi); err != nil {
			return err
		}
		fi.changed = false
	}
	return nil
}

// nameIDs returns the name blocks of the given files for the names read;
// none of the file skip (a test file, whose whole top level counts).
func (s *Session) nameIDs(q store.Querier, files []string, names map[string]bool, skip string) ([]int64, error) {
	return s.nameIDsLocal(q, files, names, nil, nil, skip)
}

// nameIDsLocal is nameIDs with, per file, the plain names its own code
// reads (see reads.local), and names that count for class attributes only
// (reads.cls).
func (s *Session) nameIDsLocal(q store.Querier, files []string, names map[string]bool, local map[string]map[string]bool, cls map[string]bool, skip string) ([]int64, error) {
	var ids []int64
	for _, path := range files {
		if path == skip {
			continue
		}
		fi := s.current(path)
		if fi.cur == nil || fi.cur.File == nil {
			continue
		}
		if err := s.ensureFile(q, fi); err != nil {
			return nil, err
		}
		names := names
		if own := local[path]; len(own) > 0 {
			merged := make(map[string]bool, len(names)+len(own))
			for n := range names {
				merged[n] = true
			}
			for n := range own {
				merged[n] = true
			}
			names = merged
		}
		for _, n := range hits(fi.cur.Top, names) {
			id, err := s.blockID(q, fi, selection.NamePrefix+n, nil)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
			more, err := s.fromNameIDs(q, path, n)
			if err != nil {
				return nil, err
			}
			ids = append(ids, more...)
		}
		for class, top := range fi.cur.Classes {
			hit := hits(top, names)
			for _, n := range hits(top, cls) {
				if !names[n] {
					hit = append(hit, n)
				}
			}
			for _, n := range hit {
				id, err := s.blockID(q, fi, class+":"+n, nil)
				if err != nil {
					return nil, err
				}
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// hits returns the names of a statement view that are read.
func hits(top blocks.TopLevel, names map[string]bool) []string {
	if !top.Precise || len(top.Names) == 0 {
		return nil
	}
	var hit []string
	if len(names) < len(top.Names) {
		for n := range names {
			if _, ok := top.Names[n]; ok {
				hit = append(hit, n)
			}
		}
	} else {
		for n := range top.Names {
			if names[n] {
				hit = append(hit, n)
			}
		}
	}
	return hit
}

// moduleIDs returns the whole-top-level ("<module>") blocks of files: what
// code that reaches names dynamically depends on.
func (s *Session) moduleIDs(q store.Querier, files []string) ([]int64, error) {
	return s.topIDs(q, files, selection.Module)
}

// topIDs returns the named pseudo-blocks of each parsed file.
func (s *Session) topIDs(q store.Querier, files []string, names ...string) ([]int64, error) {
	var ids []int64
	for _, path := range files {
		fi := s.current(path)
		if fi.cur == nil || fi.cur.File == nil || !fi.cur.File.Parsed {
			continue
		}
		if err := s.ensureFile(q, fi); err != nil {
			return nil, err
		}
		for _, name := range names {
			if name == selection.Module {
				// The whole top level: the values of the names it
				// from-imports too.
				for n := range s.fromSources(path) {
					more, err := s.fromNameIDs(q, path, n)
					if err != nil {
						return nil, err
					}
					ids = append(ids, more...)
				}
			}
			var defs []string
			if name == selection.Defs {
				defs = fi.cur.File.Names
			}
			id, err := s.blockID(q, fi, name, defs)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// importTimeIDs returns what the import-time code of the modules a test
// file reaches reads (their top levels and class bodies, and the functions
// run at import): the name blocks of those modules for the names it reads;
// the names it looks up that are not bound (lookupIDs); for each "from m
// import NAME", m's block for NAME, bound or not (binding it later changes
// what the import gets); what it reads of what the modules star-import
// (starExportIDs). fall tells what import-time code reads without naming
// it (see fallback).
func (s *Session) importTimeIDs(q store.Querier, files []string, testFile string) (ids []int64, fall fallback, err error) {
	r := newReads()
	for _, path := range append([]string{SessionDeps}, files...) {
		r.merge(s.importReads[path])
		if path == SessionDeps {
			continue
		}
		fi := s.current(path)
		if fi.cur == nil || fi.cur.File == nil || !fi.cur.File.Parsed {
			continue
		}
		f := fi.cur.File
		for i, b := range f.Blocks {
			if b.Kind != blocks.Module && b.Kind != blocks.Class {
				continue
			}
			r.addBlock(path, f, i)
			r.raise(s.blockFall(path, f, i))
			whole, err := s.wholeIDs(q, s.namedFiles(path, f, i))
			if err != nil {
				return nil, 0, err
			}
			ids = append(ids, whole...)
			probes, err := s.probeIDs(q, path, f, i, r)
			if err != nil {
				return nil, 0, err
			}
			ids = append(ids, probes...)
		}
		// What statements with effects read is read at import, also when
		// the statement was written as an assignment (T = (X,) with X
		// star-imported, a class attribute computed from a global).
		r.addLocal(path, fi.cur.Top.EffectReads)
		for _, top := range fi.cur.Classes {
			r.addLocal(path, top.EffectReads)
		}
		for _, c := range f.Classes {
			if _, plain := fi.cur.Classes[f.Blocks[c.Block].Name]; plain {
				continue
			}
			// Hooks of its bases (a serializer's, a model's) see the names
			// it binds and may read attributes of that name elsewhere.
			for _, st := range c.Stmts {
				r.addCls(st.Binds)
			}
		}
		got, err := s.moduleFromImportIDs(q, path)
		if err != nil {
			return nil, 0, err
		}
		ids = append(ids, got...)
	}
	seen := make(map[blockRef]bool, len(r.ran))
	for _, rb := range r.ran {
		if seen[blockRef{rb.path, rb.i}] {
			continue
		}
		seen[blockRef{rb.path, rb.i}] = true
		looked, ok, err := s.lookupIDs(q, rb.path, rb.f, rb.i)
		if err != nil {
			return nil, 0, err
		}
		ids = append(ids, looked...)
		r.unplaced = r.unplaced || !ok
	}
	local := s.starLocal(r)
	got, err := s.nameIDsLocal(q, files, r.names, local, r.cls, testFile)
	if err != nil {
		return nil, 0, err
	}
	ids = append(ids, got...)
	got, err = s.starExportIDs(q, files, r, local)
	if err != nil {
		return nil, 0, err
	}
	return append(ids, got...), r.placed(r.fall), nil
}

// moduleFromImportIDs returns fromImportIDs (unbound) of the module-level
// and class-level "from m import NAME" statements of the module at path.
func (s *Session) moduleFromImportIDs(q store.Querier, path string) ([]int64, error) {
	if ids, ok := s.moduleFroms[path]; ok {
		return ids, nil
	}
	fi := s.current(path)
	if fi.cur == nil || fi.cur.File == nil || !fi.cur.File.Parsed {
		return nil, nil
	}
	ids := []int64{}
	for _, imp := range fi.cur.File.Imports {
		if imp.Scope != "" || len(imp.Names) == 0 {
			continue
		}
		got, err := s.fromImportIDs(q, path, imp, true)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	s.moduleFroms[path] = ids
	return ids, nil
}

// fromImportIDs returns, for "from m import NAME" in the file at path, m's
// block for each NAME, bound or not (binding it later changes what the
// import gets), and m's exports for "*". With unbound, only that m binds
// the names it binds now ("<bound>:NAME": removing one makes the import
// fail): the value reaches the code that reads the importer's NAME
// (fromNameIDs).
func (s *Session) fromImportIDs(q store.Querier, path string, imp blocks.Import, unbound bool) ([]int64, error) {
	var ids []int64
	got, _ := s.resolver.Resolve(path, imp)
	src := s.fromSource(path, imp, got)
	// An importer taken whole has no name blocks to carry the values.
	unbound = unbound && s.precise(path)
	for _, g := range got {
		for _, n := range imp.Names {
			if unbound && n != "*" && s.submodule(g, n) && !s.bound(g, n) {
				continue // the module's file is a dependency already
			}
			if unbound && n != "*" && s.bound(g, n) {
				more, err := s.boundBlockIDs(q, g, n)
				if err != nil {
					return nil, err
				}
				ids = append(ids, more...)
				continue
			}
			more, err := s.nameBlockIDs(q, g, n)
			if err != nil {
				return nil, err
			}
			ids = append(ids, more...)
		}
		if g != src {
			continue
		}
		// A name the source takes from a star import is its own as long
		// as what it star-imports exports it.
		var names map[string]bool
		for _, n := range imp.Names {
			if n != "*" {
				if names == nil {
					names = map[string]bool{}
				}
				names[n] = true
			}
		}
		more, err := s.exportIDs(q, g, names)
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// fromNameIDs returns, for a module-level name n of the module at path
// that a "from m import N" binds, m's block for N, and so on through the
// modules m takes N from (a from-import, or a star import when m does not
// bind N itself): the value the importer's n has. The same for the names
// n's value is computed from (T = (N,), see blocks.TopLevel.Feeds), in
// each module on the way.
func (s *Session) fromNameIDs(q store.Querier, path, n string) ([]int64, error) {
	start := s.valueSources(path, n)
	if len(start) == 0 {
		return nil, nil // most names read: no from-import binds them
	}
	var ids []int64
	seen := map[nameRef]bool{}
	var visit func(ref nameRef, depth int) error
	visit = func(ref nameRef, depth int) error {
		if seen[ref] || depth > 8 {
			return nil
		}
		seen[ref] = true
		got, err := s.nameBlockIDs(q, ref.path, ref.i)
		if err != nil {
			return err
		}
		ids = append(ids, got...)
		for _, next := range s.valueSources(ref.path, ref.i) {
			if err := visit(next, depth+1); err != nil {
				return err
			}
		}
		if s.bound(ref.path, ref.i) {
			return nil
		}
		got, err = s.exportIDs(q, ref.path, map[string]bool{ref.i: true})
		if err != nil {
			return err
		}
		ids = append(ids, got...)
		for _, src := range s.starImports(ref.path) {
			if err := visit(nameRef{src, ref.i}, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, ref := range start {
		if err := visit(ref, 0); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// valueSources returns the names of other modules that the value of the
// module-level name n of the module at path comes from: what a
// from-import binds n to, and the same for each name n's value is
// computed from, transitively (blocks.TopLevel.Feeds).
func (s *Session) valueSources(path, n string) []nameRef {
	froms := s.fromSources(path)
	fi := s.current(path)
	if fi.cur == nil || len(fi.cur.Top.Feeds[n]) == 0 {
		return froms[n]
	}
	var out []nameRef
	seen := map[string]bool{n: true}
	queue := []string{n}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		out = append(out, froms[x]...)
		for _, r := range fi.cur.Top.Feeds[x] {
			if !seen[r] {
				seen[r] = true
				queue = append(queue, r)
			}
		}
	}
	return out
}

// fromSources returns, for the module at path, which module-level names
// its "from m import N [as n]" statements bind to which name of which
// project module (submodules left out: a module is no value), once per
// session.
func (s *Session) fromSources(path string) map[string][]nameRef {
	if got, ok := s.froms[path]; ok {
		return got
	}
	out := map[string][]nameRef{}
	s.froms[path] = out
	fi := s.current(path)
	if fi.cur == nil || fi.cur.File == nil || !fi.cur.File.Parsed {
		return out
	}
	f := fi.cur.File
	for j, imp := range f.Imports {
		if imp.Scope != "" || len(imp.Names) == 0 {
			continue
		}
		files, _ := s.resolver.Resolve(path, imp)
		src := s.fromSource(path, imp, files)
		if src == "" {
			continue
		}
		binds := f.ImportBinds(j)
		for k, n := range imp.Names {
			if n == "*" || k >= len(binds) || s.submodule(src, n) {
				continue
			}
			out[binds[k]] = append(out[binds[k]], nameRef{src, n})
		}
	}
	return out
}

// starExportIDs returns what code that read r reads of what the modules
// among files star-import. For each star-importer: its sources'
// "<exports-unbound>" (the star import fails for a name a source exports
// without binding it), and "<exports>:NAME" (exportIDs) for the plain
// names read in it (local, see starLocal) and, when the code names it as a
// module (pkg.NAME), for the names read after a dot.
func (s *Session) starExportIDs(q store.Querier, files []string, r *reads, local map[string]map[string]bool) ([]int64, error) {
	var ids []int64
	var roots map[string]bool
	rooted := false
	for _, path := range files {
		if len(s.starImports(path)) == 0 {
			continue
		}
		if !rooted {
			var ok bool
			if roots, ok = s.rootFiles(r.ran); !ok {
				roots = nil // any module may be named: every one counts
			}
			rooted = true
		}
		for _, src := range s.knownStars(path) {
			fi := s.current(src)
			if err := s.ensureFile(q, fi); err != nil {
				return nil, err
			}
			id, err := s.blockID(q, fi, selection.ExportsUnbound, nil)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		names := map[string]bool{}
		for n := range local[path] {
			names[n] = true
		}
		if roots == nil || roots[path] {
			for n := range r.attrs {
				names[n] = true
			}
		}
		got, err := s.exportIDs(q, path, names)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// starImports returns the project modules the file at path star-imports
// at module level, once per session.
func (s *Session) starImports(path string) []string {
	if got, ok := s.stars[path]; ok {
		return got
	}
	var out []string
	fi := s.current(path)
	if fi.cur != nil && fi.cur.File != nil {
		for _, imp := range fi.cur.File.Imports {
			if imp.Scope != "" || !slices.Contains(imp.Names, "*") {
				continue
			}
			files, _ := s.resolver.Resolve(path, imp)
			if src := s.fromSource(path, imp, files); src != "" && !slices.Contains(out, src) {
				out = append(out, src)
			}
		}
	}
	s.stars[path] = out
	return out
}

// exportIDs returns, for names looked up in the module at path, the
// "<exports>:NAME" blocks (exported or not: a name newly exported shadows
// what it stood for, or binds it) of the modules it star-imports whose
// exports are known, and of those they star-import in turn (a name looked
// up in path may come from any of them). Modules whose exports are not
// known stand whole ("<exports>", see nameBlockIDs).
func (s *Session) exportIDs(q store.Querier, path string, names map[string]bool) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var ids []int64
	for _, src := range s.knownStars(path) {
		fi := s.current(src)
		if err := s.ensureFile(q, fi); err != nil {
			return nil, err
		}
		for n := range names {
			id, err := s.blockID(q, fi, selection.ExportPrefix+n, nil)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// knownStars returns the modules whose exports are known among those the
// module at path star-imports, directly or through the modules it
// star-imports, once per session.
func (s *Session) knownStars(path string) []string {
	if got, ok := s.known[path]; ok {
		return got
	}
	var out []string
	seen := map[string]bool{path: true}
	var walk func(p string, depth int)
	walk = func(p string, depth int) {
		for _, src := range s.starImports(p) {
			if seen[src] || depth > 8 {
				continue
			}
			seen[src] = true
			if fi := s.current(src); fi.cur != nil && fi.cur.Top.Precise && fi.cur.Top.ExportNames != nil {
				out = append(out, src)
			}
			walk(src, depth+1)
		}
	}
	walk(path, 0)
	s.known[path] = out
	return out
}

// nameBlockIDs returns the block of the module at path for a module-level
// name, bound or not ("<module>:NAME"; "<exports>" for "*"), or nothing
// when the module is taken whole anyway.
func (s *Session) nameBlockIDs(q store.Querier, path, n string) ([]int64, error) {
	if n != "*" {
		return s.preciseBlockIDs(q, path, selection.NamePrefix+n)
	}
	if fi := s.current(path); fi.cur != nil && fi.cur.Top.ExportNames != nil {
		return nil, nil // followed name by name (exportIDs)
	}
	return s.preciseBlockIDs(q, path, selection.Exports)
}

// boundBlockIDs returns the block that says the module at path binds n
// ("<bound>:NAME"), or nothing when the module is taken whole anyway.
func (s *Session) boundBlockIDs(q store.Querier, path, n string) ([]int64, error) {
	return s.preciseBlockIDs(q, path, selection.BoundPrefix+n)
}

// preciseBlockIDs returns the named block of the module at path, or
// nothing when the module is taken whole anyway (its "<effects>" is its
// whole top level).
func (s *Session) preciseBlockIDs(q store.Querier, path, name string) ([]int64, error) {
	fi := s.current(path)
	if fi.cur == nil || fi.cur.File == nil || !fi.cur.Top.Precise {
		return nil, nil
	}
	if err := s.ensureFile(q, fi); err != nil {
		return nil, err
	}
	id, err := s.blockID(q, fi, name, nil)
	if err != nil {
		return nil, err
	}
	return []int64{id}, nil
}

// namedFiles returns the project modules that strings in block i of the
// file at path name as dotted paths ("pkg.mod", "pkg.mod.NAME",
// "pkg.mod:NAME"): a library that resolves such a string (pkgutil,
// mock.patch, Django settings, entry points) reads the module's names
// without the project's code naming them, so the module counts whole.
func (s *Session) namedFiles(path string, f *blocks.File, i int) []string {
	return s.modulesNamed(path, f.ModulePaths(i))
}

// modulesNamed returns the project modules that dotted paths found in the
// file at path name: for each, the longest prefix that resolves, from that
// file, to a module.
func (s *Session) modulesNamed(path string, paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, after, ok := strings.Cut(p, ":"); ok && strings.Contains(after, ".") {
			// "tag:pkg.mod.NAME" (YAML's "!!python/name:pkg.mod.NAME"):
			// the path may be what follows the colon.
			out = append(out, s.modulesNamed(path, []string{after})...)
		}
		key := pathpkg.Dir(path) + "\x00" + p
		files, ok := s.pathModules[key]
		if !ok {
			mod, _, _ := strings.Cut(p, ":")
			parts := strings.Split(mod, ".")
			if _, ext := fileSuffixes[parts[len(parts)-1]]; !ext {
				for k := len(parts); k >= 1 && files == nil; k-- {
					name := strings.Join(parts[:k], ".")
					got, _ := s.resolver.Resolve(path, blocks.Import{Module: name})
					if len(got) == 0 {
						continue
					}
					// The resolver gives the packages on the way too; the
					// module itself is last, when it exists.
					last, rel := got[len(got)-1], strings.ReplaceAll(name, ".", "/")
					if last == rel+".py" || last == rel+"/__init__.py" || strings.HasSuffix(last, "/"+rel+".py") || strings.HasSuffix(last, "/"+rel+"/__init__.py") {
						files = got[len(got)-1:]
					}
				}
			}
			s.pathModules[key] = files
		}
		out = append(out, files...)
	}
	return out
}

// fileSuffixes end strings that name a file ("setup.py", "data.json"),
// not a module's attribute.
var fileSuffixes = map[string]struct{}{
	"py": {}, "pyi": {}, "txt": {}, "json": {}, "yaml": {}, "yml": {}, "toml": {}, "cfg": {}, "ini": {},
	"csv": {}, "html": {}, "xml": {}, "md": {}, "rst": {}, "log": {}, "gz": {}, "zip": {}, "com": {}, "org": {},
}

// wholeIDs returns the blocks that stand for the whole of each parsed
// file: its top level and the names it defines.
func (s *Session) wholeIDs(q store.Querier, files []string) ([]int64, error) {
	return s.topIDs(q, files, selection.Module, selection.Defs)
}

// importPrecise tells, for the module at path, whether one of its import
// statements resolves to a module whose import cannot fail and whose own
// top level the engine would not otherwise track: a module of the
// standard library or of an installed distribution that exists, with the
// names a from-import takes found in its source. A project module is not
// (importing it newly runs its top level for every importer), nor anything
// unresolved.
func (s *Session) importPrecise(path string) func(blocks.Import) bool {
	return func(imp blocks.Import) bool {
		if imp.Level > 0 || imp.Module == "" {
			return false
		}
		files, ext := s.resolver.Resolve(path, imp)
		if len(files) > 0 || ext == "" {
			return false
		}
		key := imp.Module + "\x00" + strings.Join(imp.Names, "\x00")
		ok, seen := s.externals[key]
		if !seen {
			ok = externalPrecise(s.cfg.SitePaths, imp)
			s.externals[key] = ok
		}
		return ok
	}
}

// builtinModules are compiled into CPython: no file to find.
var builtinModules = map[string]bool{
	"sys": true, "builtins": true, "_thread": true, "_io": true, "itertools": true, "time": true,
	"gc": true, "marshal": true, "posix": true, "errno": true, "atexit": true, "faulthandler": true,
	"pwd": true, "_abc": true, "_codecs": true, "_collections": true, "_functools": true,
	"_operator": true, "_signal": true, "_sre": true, "_stat": true, "_string": true,
	"_warnings": true, "_weakref": true, "_imp": true, "_tracemalloc": true,
}

func externalPrecise(sitePaths []string, imp blocks.Import) bool {
	parts := strings.Split(imp.Module, ".")
	for _, dir := range sitePaths {
		base := filepath.Join(append([]string{dir}, parts...)...)
		var src []byte
		isPkg := false
		if b, err := os.ReadFile(base + ".py"); err == nil {
			src = b
		} else if b, err := os.ReadFile(filepath.Join(base, "__init__.py")); err == nil {
			src, isPkg = b, true
		} else if m, _ := filepath.Glob(base + ".*.so"); len(m) > 0 {
			return len(imp.Names) == 0 // an extension module: its names are unknown
		} else if st, err := os.Stat(base); err == nil && st.IsDir() {
			return len(imp.Names) == 0 // a namespace package
		} else {
			continue
		}
		for _, n := range imp.Names {
			if isPkg {
				if exists(filepath.Join(base, n+".py")) || exists(filepath.Join(base, n, "__init__.py")) {
					continue
				}
			}
			if !hasWord(src, n) {
				return false
			}
		}
		return true
	}
	return len(imp.Names) == 0 && builtinModules[imp.Module]
}

// installed returns whether a top-level module name is found in the
// interpreter's search directories outside the project, or is compiled
// into it.
func installed(sitePaths []string) func(string) bool {
	return func(top string) bool {
		if builtinModules[top] {
			return true
		}
		for _, dir := range sitePaths {
			base := filepath.Join(dir, top)
			if exists(base+".py") || exists(filepath.Join(base, "__init__.py")) {
				return true
			}
			if m, _ := filepath.Glob(base + ".*.so"); len(m) > 0 {
				return true
			}
		}
		return false
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// hasWord reports whether w occurs in src as a whole identifier: a name a
// from-import takes from an installed module is taken to exist if the
// module's source mentions it.
func hasWord(src []byte, w string) bool {
	text := string(src)
	for i := 0; ; {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		a, b := i+j, i+j+len(w)
		if (a == 0 || !isIdentChar(text[a-1])) && (b == len(text) || !isIdentChar(text[b])) {
			return true
		}
		i = a + 1
	}
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// readBy names a function of the changed file, among those the test ran,
// whose code reads the changed name ("scaled"); "" if none does (the name
// is read by import-time code, or by code in another file).
func (s *Session) readBy(nc selection.NameChange) string {
	name := nc.Block[strings.LastIndexByte(nc.Block, ':')+1:]
	fi := s.current(nc.Path)
	if fi.cur == nil || fi.cur.File == nil || fi.id == 0 {
		return ""
	}
	var ids []int64
	if store.DecodeIDs(nc.Deps, func(id int64) bool { ids = append(ids, id); return true }) != nil {
		return ""
	}
	rows, err := store.BlocksByID(s.db, ids)
	if err != nil {
		return ""
	}
	f := fi.cur.File
	var by []string
	for _, b := range rows {
		if b.FileID != fi.id {
			continue
		}
		for i, fb := range f.Blocks {
			if fb.Name == b.Name && fb.Kind == blocks.Function {
				if _, ok := slices.BinarySearch(f.Idents(i), name); ok {
					by = append(by, fb.Name)
				}
			}
		}
	}
	slices.Sort(by)
	return strings.Join(slices.Compact(by), ", ")
}
