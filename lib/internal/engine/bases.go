package engine

import (
	"slices"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
)

// Creating a class runs its bases' hooks: a metaclass's __new__ and
// __init__, and __init_subclass__. Those receive the class and may read
// every attribute it has (a schema's declared fields, an Enum's members,
// a model's columns), so a class whose bases may run one is one whole
// (blocks.ClassBody.Plain). These bases run none that reads attributes by
// value: ABCMeta looks only for abstract methods, which are decorated and
// so statements with effects already, and Generic only at the bases.
var plainExternalBases = map[string]bool{
	"abc\x00ABC": true, "typing\x00Generic": true, "typing_extensions\x00Generic": true,
}

// plainBuiltinBases are builtin classes whose subclasses run no hook.
var plainBuiltinBases = map[string]bool{
	"object": true, "dict": true, "list": true, "set": true, "frozenset": true, "tuple": true,
	"str": true, "bytes": true, "int": true, "float": true,
	"BaseException": true, "Exception": true, "ValueError": true, "TypeError": true,
	"KeyError": true, "IndexError": true, "LookupError": true, "RuntimeError": true,
	"AttributeError": true, "NotImplementedError": true, "OSError": true, "ArithmeticError": true,
	"AssertionError": true, "ImportError": true, "Warning": true, "UserWarning": true,
	"DeprecationWarning": true, "PendingDeprecationWarning": true, "FutureWarning": true,
	"RuntimeWarning": true,
}

// plainBases returns, for the module at path, whether the bases of one of
// its classes run no hook when subclassed (see blocks.File.DeriveClass):
// each is object, a builtin or standard class in the lists above, or a
// project class that is not decorated, defines no __init_subclass__ and
// whose own bases are such, transitively. When in doubt, not. f is the
// module's parse, which the session is describing.
func (s *Session) plainBases(path string) func(*blocks.File, blocks.ClassBody) bool {
	return func(f *blocks.File, c blocks.ClassBody) bool {
		for _, b := range c.Bases {
			if !s.plainBase(path, f, b, 0) {
				return false
			}
		}
		return true
	}
}

// plainBase reports whether the class the dotted name base stands for in
// the module at path (parsed as f; nil: the session's) runs no hook when
// subclassed.
func (s *Session) plainBase(path string, f *blocks.File, base string, depth int) bool {
	if depth > 8 {
		return false
	}
	key := nameRef{path, base}
	if got, ok := s.basesPlain[key]; ok {
		return got
	}
	if f == nil {
		if s.deriving[path] {
			return false // being described: a cycle of bases, may be anything
		}
		fi := s.current(path)
		if fi.cur == nil || fi.cur.File == nil {
			return false
		}
		f = fi.cur.File
	}
	s.basesPlain[key] = false // a cycle sees "not plain"
	got := f.Parsed && !f.Dynamic(0) && s.computePlainBase(path, f, base, depth)
	s.basesPlain[key] = got
	return got
}

func (s *Session) computePlainBase(path string, f *blocks.File, base string, depth int) bool {
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		// pkg.mod.Base: the class Base of what pkg.mod stands for.
		mod, name := base[:i], base[i+1:]
		b := s.chainTarget(path, mod, nil)
		switch {
		case b.kind == bindModule && b.file != "":
			return s.plainBase(b.file, nil, name, depth+1)
		case b.kind == bindExternal:
			return importsModule(f, mod) && plainExternalBases[mod+"\x00"+name]
		}
		return false
	}
	for _, st := range f.Stmts {
		if st.Kind != blocks.StmtDef && st.Kind != blocks.StmtImport && slices.Contains(st.Binds, base) {
			return false // a statement binds it: not only a class
		}
	}
	for _, c := range f.Classes {
		if f.Blocks[c.Block].Name != base {
			continue
		}
		if slices.Contains(f.Names, base+"#2") {
			return false // defined twice
		}
		return s.plainClass(path, f, c, depth)
	}
	for j, imp := range f.Imports {
		if imp.Scope != "" || len(imp.Names) == 0 {
			continue
		}
		binds := f.ImportBinds(j)
		for k, n := range imp.Names {
			if k >= len(binds) || binds[k] != base || n == "*" {
				continue
			}
			files, ext := s.resolver.Resolve(path, imp)
			if src := s.fromSource(path, imp, files); src != "" {
				return s.plainBase(src, nil, n, depth+1)
			}
			return len(files) == 0 && ext != "" && imp.Level == 0 && plainExternalBases[imp.Module+"\x00"+n]
		}
	}
	return plainBuiltinBases[base] && !slices.Contains(f.Names, base)
}

// plainClass reports whether the project class c of the module at path
// runs no hook when subclassed.
func (s *Session) plainClass(path string, f *blocks.File, c blocks.ClassBody, depth int) bool {
	if c.Decorated || c.Opaque {
		return false // a decorator may give it a metaclass
	}
	for _, st := range c.Stmts {
		for _, b := range st.Binds {
			if b == "__init_subclass__" || b == "__class_getitem__" {
				return false
			}
		}
	}
	for _, b := range c.Bases {
		if !s.plainBase(path, f, b, depth+1) {
			return false
		}
	}
	return true
}

// importsModule reports whether the module's top level binds the first
// part of the dotted module name mod by a plain "import mod" (no alias).
func importsModule(f *blocks.File, mod string) bool {
	root, _, _ := strings.Cut(mod, ".")
	for j, imp := range f.Imports {
		if imp.Scope != "" || len(imp.Names) != 0 || imp.Level != 0 {
			continue
		}
		if binds := f.ImportBinds(j); len(binds) == 1 && binds[0] == root && (imp.Module == mod || strings.HasPrefix(imp.Module, mod+".")) {
			return true
		}
	}
	return false
}
