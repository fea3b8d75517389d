package engine

import (
	pathpkg "path"
	"slices"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/selection"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// What a name bound by an import stands for, as far as reading a module's
// names goes (SPEC 4.8). Code reaches a project module's names without
// naming them only through a value that is the module: a name an import
// binds to it, a dotted chain to it ("pkg.sub"), or what the dynamic
// names (sys.modules, importlib, globals()...) give. The engine follows
// the first two; the third is a whole-module fallback.
type bindKind uint8

const (
	bindNone     bindKind = iota // not bound by an import
	bindExternal                 // a module or a name from outside the project
	bindObject                   // a definition or a value of a project module, not a module
	bindModule                   // a project module, or what may be one
)

// binding is what one name stands for; file is the module's file when kind
// is bindModule and the module is known ("" when it may be a module).
type binding struct {
	kind bindKind
	file string
}

// bindings returns what each name the imports of the file at path bind
// (in any scope: a nested function sees its enclosing function's imports)
// stands for, once per session. A name several imports bind takes the one
// nearest a module.
func (s *Session) bindings(path string) map[string]binding {
	if got, ok := s.binds[path]; ok {
		return got
	}
	out := map[string]binding{}
	s.binds[path] = out // a cycle of imports sees what is known so far
	fi := s.current(path)
	if fi.cur == nil || fi.cur.File == nil || !fi.cur.File.Parsed {
		return out
	}
	f := fi.cur.File
	set := func(name string, b binding) {
		if old, ok := out[name]; !ok || b.kind > old.kind || b.kind == old.kind && b.kind == bindModule && old.file != b.file {
			if ok && old.kind == bindModule && old.file != b.file {
				b.file = "" // two modules: either
			}
			out[name] = b
		}
	}
	for j, imp := range f.Imports {
		binds := f.ImportBinds(j)
		if len(imp.Names) == 0 {
			files, ext := s.resolver.Resolve(path, imp)
			for _, b := range binds {
				switch {
				case len(files) > 0:
					set(b, binding{kind: bindModule, file: importedFile(imp, b, files)})
				case ext != "":
					set(b, binding{kind: bindExternal})
				default:
					set(b, binding{kind: bindModule})
				}
			}
			continue
		}
		for k, n := range imp.Names {
			if n == "*" || k >= len(binds) {
				continue
			}
			set(binds[k], s.fromBinding(path, imp, n, 0))
		}
	}
	return out
}

// importedFile returns the file of the module "import a.b" binds to name
// (a, or the alias of a.b), or "" when files do not show it.
func importedFile(imp blocks.Import, name string, files []string) string {
	mod := imp.Module
	if top, _, _ := strings.Cut(imp.Module, "."); name == top && top != imp.Module {
		mod = top
	}
	rel := strings.ReplaceAll(mod, ".", "/")
	for _, g := range files {
		if isModuleFile(g, rel) {
			return g
		}
	}
	return ""
}

// isModuleFile reports whether g is the file of the module at the slash
// path rel (rel.py or rel/__init__.py, under some directory).
func isModuleFile(g, rel string) bool {
	return g == rel+".py" || g == rel+"/__init__.py" || strings.HasSuffix(g, "/"+rel+".py") || strings.HasSuffix(g, "/"+rel+"/__init__.py")
}

// fromBinding returns what "from m import n" in the file at path binds.
func (s *Session) fromBinding(path string, imp blocks.Import, n string, depth int) binding {
	files, ext := s.resolver.Resolve(path, blocks.Import{Module: imp.Module, Level: imp.Level, Names: []string{n}})
	if len(files) == 0 {
		if ext != "" {
			return binding{kind: bindExternal}
		}
		return binding{kind: bindModule}
	}
	src := s.fromSource(path, imp, files)
	for _, g := range files {
		if g != src && (pathpkg.Base(g) == n+".py" || strings.HasSuffix(g, "/"+n+"/__init__.py")) {
			return binding{kind: bindModule, file: g}
		}
	}
	if src == "" {
		return binding{kind: bindModule}
	}
	return s.nameIn(src, n, depth+1)
}

// fromSource returns the file of m in "from m import ..." (files is what
// the import resolves to), or "".
func (s *Session) fromSource(path string, imp blocks.Import, files []string) string {
	if imp.Module == "" {
		dir := pathpkg.Dir(path)
		for i := 1; i < imp.Level; i++ {
			dir = pathpkg.Dir(dir)
		}
		init := pathpkg.Join(dir, "__init__.py")
		if dir == "." {
			init = "__init__.py"
		}
		if (project{s}).Exists(init) {
			return init
		}
		return ""
	}
	rel := strings.ReplaceAll(imp.Module, ".", "/")
	for _, g := range files {
		if isModuleFile(g, rel) {
			return g
		}
	}
	return ""
}

// nameIn returns what the module-level name n of the module at src stands
// for: what its imports bind n to, a definition or a value (bindObject:
// a value that is a module was handed over by src's own top level, which
// the escape check sees), or, when src binds no n, what its star imports
// give, else a module (its __getattr__, or a submodule set later).
func (s *Session) nameIn(src, n string, depth int) binding {
	if depth > 8 {
		return binding{kind: bindModule}
	}
	fi := s.current(src)
	if fi.cur == nil || fi.cur.File == nil || !fi.cur.File.Parsed || fi.cur.File.Dynamic(0) {
		// A top level that binds names dynamically may bind a module.
		return binding{kind: bindModule}
	}
	f := fi.cur.File
	for j, imp := range f.Imports {
		if imp.Scope != "" {
			continue
		}
		binds := f.ImportBinds(j)
		if len(imp.Names) == 0 {
			if slices.Contains(binds, n) {
				files, ext := s.resolver.Resolve(src, imp)
				if len(files) == 0 && ext != "" {
					return binding{kind: bindExternal}
				}
				return binding{kind: bindModule, file: importedFile(imp, n, files)}
			}
			continue
		}
		for k, m := range imp.Names {
			if k < len(binds) && binds[k] == n && m != "*" {
				return s.fromBinding(src, imp, m, depth)
			}
		}
	}
	if slices.Contains(f.Names, n) {
		return binding{kind: bindObject}
	}
	for _, st := range f.Stmts {
		if st.Kind != blocks.StmtImport && slices.Contains(st.Binds, n) {
			return binding{kind: bindObject} // a value: see the comment above
		}
	}
	for _, imp := range f.Imports {
		if imp.Scope != "" || !slices.Contains(imp.Names, "*") {
			continue
		}
		files, ext := s.resolver.Resolve(src, imp)
		if len(files) == 0 {
			if ext != "" {
				continue
			}
			return binding{kind: bindModule}
		}
		if from := s.fromSource(src, imp, files); from != "" {
			if b := s.nameIn(from, n, depth+1); b.kind != bindNone {
				return b
			}
		}
	}
	if !fi.cur.Top.Precise || slices.Contains(f.Names, "__getattr__") || fi.cur.Top.Names["__getattr__"] != 0 {
		// A module __getattr__ answers for names it does not bind, maybe
		// with a module.
		return binding{kind: bindModule}
	}
	return binding{kind: bindNone}
}

// starBinding returns what a name no import of the file at path binds
// stands for when one of its star imports of project modules binds it.
func (s *Session) starBinding(path, n string) binding {
	fi := s.current(path)
	if fi.cur == nil || fi.cur.File == nil {
		return binding{}
	}
	for _, imp := range fi.cur.File.Imports {
		if !slices.Contains(imp.Names, "*") {
			continue
		}
		files, _ := s.resolver.Resolve(path, imp)
		if src := s.fromSource(path, imp, files); src != "" {
			if b := s.nameIn(src, n, 1); b.kind != bindNone {
				return b
			}
		}
	}
	return binding{}
}

// chainTarget returns what a plain name or a dotted chain ("pkg.sub",
// "mod.Cls") in the file at path stands for, in code whose own local names
// (sorted) are locals.
func (s *Session) chainTarget(path, chain string, locals []string) binding {
	parts := strings.Split(chain, ".")
	if _, local := slices.BinarySearch(locals, parts[0]); local {
		// A value the function computed: a module only if handed over,
		// which the escape check sees where it happens.
		return binding{kind: bindObject}
	}
	b, ok := s.bindings(path)[parts[0]]
	if !ok {
		b = s.starBinding(path, parts[0])
	}
	for _, p := range parts[1:] {
		if b.kind != bindModule {
			return b
		}
		if b.file == "" {
			return b // may be a module: so may its attributes
		}
		if strings.HasSuffix(b.file, "__init__.py") {
			if files, _ := s.resolver.Resolve(b.file, blocks.Import{Level: 1, Names: []string{p}}); len(files) > 0 {
				b = binding{kind: bindModule, file: files[len(files)-1]}
				continue
			}
		}
		b = s.nameIn(b.file, p, 1)
		if b.kind == bindNone {
			// Not bound: an AttributeError, unless the module answers
			// with __getattr__ (then it is not Precise: a module).
			return binding{kind: bindObject}
		}
	}
	return b
}

// escapes reports whether block i of the file at path hands a project
// module to other code as a value (configure(settings), f(pkg.sub), not
// settings.DEBUG): that code may read the module's names without naming
// them (Flask's config.from_object, doctest.testmod, getattr(obj, name)
// on what it was given), so the module counts as reached dynamically.
func (s *Session) escapes(path string, f *blocks.File, i int) bool {
	for _, n := range f.Bare(i) {
		if s.chainTarget(path, n, f.Locals(i)).kind == bindModule {
			return true
		}
	}
	for _, c := range f.Chains(i) {
		if s.chainTarget(path, c, f.Locals(i)).kind == bindModule {
			return true
		}
	}
	return false
}

// targetsFall returns what the getattr/hasattr/delattr calls with a
// computed name, and dir/vars/__dict__, of block i read: a project
// module's names (fallWhole), some object's (fallObject), or nothing the
// project defines (a module from outside: getattr(math, "sumprod")).
func (s *Session) targetsFall(path string, f *blocks.File, i int) fallback {
	fall := fallNone
	for _, t := range f.DynamicTargets(i) {
		switch s.chainTarget(path, t, f.Locals(i)).kind {
		case bindModule:
			return fallWhole
		case bindExternal:
		default:
			fall = fallObject
		}
	}
	return fall
}

// blockFall returns what block i of the file at path makes its tests
// depend on besides what it names (see fallback).
func (s *Session) blockFall(path string, f *blocks.File, i int) fallback {
	key := blockRef{path, i}
	if got, ok := s.blockFalls[key]; ok {
		return got
	}
	fall := s.computeFall(path, f, i)
	s.blockFalls[key] = fall
	return fall
}

// blockRef names a block of a file, for the per-session caches of what
// its code reads.
type blockRef struct {
	path string
	i    int
}

func (s *Session) computeFall(path string, f *blocks.File, i int) fallback {
	switch {
	case f.AnyModule(i):
		return fallAny
	case f.Dynamic(i), s.escapes(path, f, i):
		return fallWhole
	}
	fall := s.targetsFall(path, f, i)
	if fall == fallWhole {
		return fall
	}
	if f.Catches(i) {
		fall = max(fall, fallCatch)
	}
	if f.ObjectDynamic(i) {
		fall = max(fall, fallObject)
	}
	return fall
}

// probeIDs returns, for block i's hasattr/getattr/delattr calls with a
// literal name on a project module, that module's block for the name,
// bound or not: the call answers for a missing name too, so binding it
// later changes what the code does. A probe on what may be a module that
// the engine cannot place makes the test depend on whole modules (r).
func (s *Session) probeIDs(q store.Querier, path string, f *blocks.File, i int, r *reads) ([]int64, error) {
	var ids []int64
	for _, p := range f.Probes(i) {
		target, name, _ := strings.Cut(p, "\x00")
		b := s.chainTarget(path, target, f.Locals(i))
		if b.kind != bindModule {
			continue
		}
		if b.file == "" {
			r.raise(fallWhole)
			continue
		}
		got, err := s.nameBlockIDs(q, b.file, name)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// lookupIDs returns the name blocks of the module-level names that block
// i of the file at path looks up and the module does not bind now: a plain
// name that is neither the block's own nor a builtin (NameError), and
// mod.NAME on a project module (AttributeError). Binding one later changes
// what the code does, whether the error was caught (try, suppress), expected
// (pytest.raises, xfail) or made the test fail; names that are bound are
// dependencies already (nameIDs). ok is false when a lookup is on what may
// be a module the engine cannot place.
func (s *Session) lookupIDs(q store.Querier, path string, f *blocks.File, i int) (ids []int64, ok bool, err error) {
	refs, ok := s.blockLookups(path, f, i)
	for _, ref := range refs {
		got, err := s.nameBlockIDs(q, ref.path, ref.i)
		if err != nil {
			return nil, false, err
		}
		ids = append(ids, got...)
	}
	return ids, ok, nil
}

// nameRef is a module-level name of the module at path.
type nameRef struct {
	path string
	i    string
}

// blockLookups is lookupIDs' names, once per session.
func (s *Session) blockLookups(path string, f *blocks.File, i int) ([]nameRef, bool) {
	key := blockRef{path, i}
	if got, ok := s.lookups[key]; ok {
		return got.refs, got.ok
	}
	var refs []nameRef
	ok := true
	locals := f.Locals(i)
	for _, n := range f.Bare(i) {
		if _, local := slices.BinarySearch(locals, n); local || blocks.IsBuiltin(n) || s.bound(path, n) {
			continue
		}
		refs = append(refs, nameRef{path, n})
	}
	for _, l := range f.Lookups(i) {
		chain, n, _ := strings.Cut(l, "\x00")
		b := s.chainTarget(path, chain, locals)
		switch {
		case b.kind != bindModule:
		case b.file == "":
			ok = false
		case !s.bound(b.file, n) && !s.submodule(b.file, n):
			refs = append(refs, nameRef{b.file, n})
		}
	}
	s.lookups[key] = lookups{refs, ok}
	return refs, ok
}

// lookups is what blockLookups found for a block.
type lookups struct {
	refs []nameRef
	ok   bool
}

// bound reports whether the module at path binds n at module level now,
// by a statement or a definition (or is taken whole: then no name block
// stands for n).
func (s *Session) bound(path, n string) bool {
	fi := s.current(path)
	if fi.cur == nil || fi.cur.File == nil || !fi.cur.Top.Precise {
		return true
	}
	_, ok := fi.cur.Checksums[selection.NamePrefix+n] // see selection.CurrentOf
	return ok
}

// precise reports whether the module at path has name blocks (its top
// level is not taken whole).
func (s *Session) precise(path string) bool {
	fi := s.current(path)
	return fi.cur != nil && fi.cur.File != nil && fi.cur.Top.Precise
}

// submodule reports whether n is a module of the package whose __init__.py
// is at path: importing it binds the name, not the package's code.
func (s *Session) submodule(path, n string) bool {
	if pathpkg.Base(path) != "__init__.py" {
		return false
	}
	files, _ := s.resolver.Resolve(path, blocks.Import{Level: 1, Names: []string{n}})
	return len(files) > 0
}

// rootFiles returns the project modules the blocks name (import bindings
// and dotted chains to modules): those whose names they can look up as
// attributes (mod.NAME). ok is false when a name may be a module the
// engine cannot place.
func (s *Session) rootFiles(ran []ranBlock) (roots map[string]bool, ok bool) {
	roots = map[string]bool{}
	for _, rb := range ran {
		files, ok := s.blockRoots(rb)
		if !ok {
			return nil, false
		}
		for _, f := range files {
			roots[f] = true
		}
	}
	return roots, true
}

// blockRoots is rootFiles for one block, once per session.
func (s *Session) blockRoots(rb ranBlock) ([]string, bool) {
	key := blockRef{rb.path, rb.i}
	if got, ok := s.roots[key]; ok {
		return got, got == nil || len(got) == 0 || got[0] != ""
	}
	var files []string
	for _, n := range rb.f.Idents(rb.i) {
		b := s.chainTarget(rb.path, n, rb.f.Locals(rb.i))
		if b.kind != bindModule {
			continue
		}
		if b.file == "" {
			s.roots[key] = []string{""} // may be a module the engine cannot place
			return nil, false
		}
		if !slices.Contains(files, b.file) {
			files = append(files, b.file)
		}
	}
	s.roots[key] = files
	return files, true
}
