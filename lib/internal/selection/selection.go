// Package selection decides which recorded block versions are stale, and so
// which tests are affected (SPEC 4.5).
package selection

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Pseudo-block names, as the store names them (store.ContentBlock...).
const (
	Content = store.ContentBlock
	WholePy = store.WholeBlock
	Defs    = store.DefsBlock
	Module  = store.ModuleBlock
	// The statement view of a module's top level (SPEC 4.8): the
	// statements with effects, which every importer depends on; the names
	// "from m import *" takes; and one block per name bound at module
	// level, "<module>:NAME", which the code that reads NAME depends on.
	Effects    = "<effects>"
	Exports    = "<exports>"
	NamePrefix = "<module>:"
	// ExportPrefix: one name "from m import *" takes ("<exports>:NAME"),
	// when the module's exports are known (blocks.TopLevel.ExportNames);
	// a dependency of the code that reads NAME in a star-importer.
	ExportPrefix = "<exports>:"
	// ExportsUnbound is the set of names a module exports without binding
	// them: "from m import *" fails for a name that is not there (unless
	// it is a submodule), so every star-importer depends on it.
	ExportsUnbound = "<exports-unbound>"
	// Bound is the set of names bound at module level other than by
	// definitions, stale when one goes away. Records made before
	// "<bound>:NAME" depend on it; new ones do not.
	Bound = "<names>"
	// BoundPrefix: that a module binds NAME, whatever its value
	// ("<bound>:NAME"), what a module-level "from m import NAME" needs
	// (its import fails without it): a dependency of every test that
	// reaches the importer. The code that reads NAME depends on
	// "<module>:NAME"; a string or a data file that names m.NAME, on m
	// whole.
	BoundPrefix = "<bound>:"
	// A class body's statement view: "Account:<effects>",
	// "Account:<names>" and "Account:fee" for its attributes.
	ClassEffects = ":<effects>"
	ClassBound   = ":<names>"
	// What code that reads names without naming them depends on (SPEC
	// 4.8): every class attribute of a module ("<classes>"), and which
	// names the module binds, definitions included ("<allnames>": a
	// caught AttributeError hides one that is missing).
	ClassNames = "<classes>"
	AllNames   = "<allnames>"
	// Edited is a version no file ever matches: what tests depend on when
	// their file changed while they ran, so that they run again.
	Edited = "<edited>"
)

// Current is what a file's blocks are now.
type Current struct {
	Exists     bool
	Unreadable bool
	Parsed     bool // a Python file that parsed
	Checksums  map[string]uint64
	Names      map[string]bool   // names defined, for "<defs>"
	File       *blocks.File      // nil for data files
	Values     map[string]string // the environment's raw values
	Top        blocks.TopLevel   // a parsed Python file's statement view
	// Classes: each class body's statement view, by qualified name.
	Classes map[string]blocks.TopLevel
}

// CurrentOf describes a file from its state and, for Python files, its
// blocks (f may be nil for data files). importPrecise classifies the
// module's import statements (see blocks.File.Derive); plainBases tells
// whether a class's bases run no hook when subclassed (nil: they may).
func CurrentOf(st fingerprint.State, f *blocks.File, importPrecise func(blocks.Import) bool, plainBases func(*blocks.File, blocks.ClassBody) bool) Current {
	c := Current{Exists: st.Exists, Unreadable: st.Unreadable}
	if !st.Exists || st.Unreadable {
		return c
	}
	c.Checksums = map[string]uint64{Content: st.Hash}
	if f == nil {
		return c
	}
	c.File = f
	c.Parsed = f.Parsed
	for _, b := range f.Blocks {
		c.Checksums[b.Name] = b.Checksum
	}
	if f.Parsed {
		c.Names = make(map[string]bool, len(f.Names))
		for _, n := range f.Names {
			c.Names[n] = true
		}
		c.Top = f.Derive(importPrecise)
		c.Checksums[Effects] = c.Top.Effects
		c.Checksums[Exports] = c.Top.Exports
		c.Checksums[Bound] = contenthash.Sum([]byte(strings.Join(c.Top.Bound, "\n")))
		for n, h := range c.Top.Names {
			c.Checksums[NamePrefix+n] = h
		}
		all := slices.Clone(c.Top.Bound)
		for _, n := range f.Names {
			if base, _, _ := strings.Cut(n, "#"); !strings.Contains(base, ".") {
				all = append(all, base)
				if _, ok := c.Top.Names[base]; !ok && c.Top.Precise {
					// A definition's name: bound (its code is its own
					// block), which a from-import or hasattr of it sees.
					c.Checksums[NamePrefix+base] = defined
				}
			}
		}
		slices.Sort(all)
		all = slices.Compact(all)
		c.Checksums[AllNames] = contenthash.Sum([]byte(strings.Join(all, "\n")))
		if c.Top.Precise {
			// A name that only an if binds is bound as its conditions
			// say: its statement's checksum stands for that.
			always := map[string]bool{}
			for _, st := range f.Stmts {
				if st.Kind != blocks.StmtCond {
					for _, n := range st.Binds {
						always[n] = true
					}
				}
			}
			for _, n := range all {
				if h, ok := c.Top.Names[n]; ok && !always[n] {
					c.Checksums[BoundPrefix+n] = h
				} else {
					c.Checksums[BoundPrefix+n] = defined
				}
			}
		}
		if c.Top.ExportNames != nil {
			var unbound []string
			for _, n := range c.Top.ExportNames {
				c.Checksums[ExportPrefix+n] = defined
				if _, ok := slices.BinarySearch(all, n); !ok {
					unbound = append(unbound, n)
				}
			}
			c.Checksums[ExportsUnbound] = contenthash.Sum([]byte(strings.Join(unbound, "\n")))
		}
		c.Classes = make(map[string]blocks.TopLevel, len(f.Classes))
		classes := contenthash.Offset
		for _, cb := range f.Classes {
			name := f.Blocks[cb.Block].Name
			top := f.DeriveClass(cb, !cb.Plain && !cb.Opaque && !cb.Decorated && plainBases != nil && plainBases(f, cb))
			c.Classes[name] = top
			c.Checksums[name+ClassEffects] = top.Effects
			c.Checksums[name+ClassBound] = contenthash.Sum([]byte(strings.Join(top.Bound, "\n")))
			for n, h := range top.Names {
				c.Checksums[name+":"+n] = h
			}
			classes = contenthash.AddZero(contenthash.Add(classes, []byte(name)))
			classes = mixNames(classes, top)
		}
		c.Checksums[ClassNames] = classes
	}
	return c
}

// defined is the "<module>:NAME" checksum of a name bound by a def or a
// class statement only (0 stands for "not bound").
const defined = 1

// mixNames adds a class body's attributes and their checksums to h, in
// name order.
func mixNames(h uint64, top blocks.TopLevel) uint64 {
	names := make([]string, 0, len(top.Names))
	for n := range top.Names {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h = contenthash.AddZero(contenthash.Add(h, []byte(n)))
		v := top.Names[n]
		for i := 0; i < 8; i++ {
			h = contenthash.AddByte(h, byte(v>>(8*i)))
		}
	}
	return contenthash.AddByte(h, '\n')
}

// EnvCurrent describes the environment pseudo-file from name=value pairs
// (for example "python" = "3.11").
func EnvCurrent(env map[string]string) Current {
	c := Current{Exists: true, Checksums: make(map[string]uint64, len(env)), Values: env}
	for k, v := range env {
		c.Checksums[k] = contenthash.Sum([]byte(v))
	}
	return c
}

// Versions are the checksums of the recorded versions of a file's blocks, by
// block name.
type Versions map[string]map[uint64]bool

// VersionsOf indexes the recorded versions of a file's blocks.
func VersionsOf(bs []store.Block) Versions {
	v := Versions{}
	for _, b := range bs {
		if v[b.Name] == nil {
			v[b.Name] = map[uint64]bool{}
		}
		v[b.Name][b.Checksum] = true
	}
	return v
}

// Stale reports whether a recorded block version differs from the file now.
// recorded holds the file's recorded versions (for "<defs>").
func Stale(b store.Block, cur Current, recorded Versions) bool {
	if !cur.Exists || cur.Unreadable {
		return true
	}
	if b.Name == Bound {
		if !cur.Parsed {
			return true
		}
		for _, n := range b.Names {
			if _, ok := cur.Top.Names[n]; !ok && n != "" {
				return true
			}
		}
		return false
	}
	if cls, attr, ok := classPart(b.Name); ok && cur.File != nil {
		if !cur.Parsed {
			return true
		}
		switch attr {
		case "<effects>":
		case "<names>":
			top, ok := cur.Classes[cls]
			if !ok {
				return true
			}
			for _, n := range b.Names {
				if _, ok := top.Names[n]; !ok && n != "" {
					return true
				}
			}
			return false
		default:
			return cur.Checksums[b.Name] != b.Checksum
		}
	}
	if b.Name == Defs {
		return defsChange(b, cur, recorded) != ""
	}
	if strings.HasPrefix(b.Name, NamePrefix) || strings.HasPrefix(b.Name, ExportPrefix) || strings.HasPrefix(b.Name, BoundPrefix) {
		// A name not bound (recorded as 0: a from-import of a name the
		// module lacked) is a dependency too: binding it changes things.
		return !cur.Parsed || cur.Checksums[b.Name] != b.Checksum
	}
	sum, ok := cur.Checksums[b.Name]
	return !ok || sum != b.Checksum
}

// defsChange says how the names a file defines changed in a way that can
// change what code reads, or "" when they did not: a name went away (a test
// may import or patch it), or a new top-level definition may shadow what a
// name stood for (SPEC 4.1). A new definition is harmless only when nothing
// read its name before: no other definition of it, no code that mentions it
// and ran unchanged, no code that reads names without naming them, and no
// tool that looks it up by name (pytest hooks, setup_module...).
func defsChange(b store.Block, cur Current, recorded Versions) string {
	if !cur.Parsed {
		return "cannot be parsed"
	}
	old := make(map[string]bool, len(b.Names))
	for _, n := range b.Names {
		if !cur.Names[n] {
			return fmt.Sprintf("%s was removed or renamed", n)
		}
		old[n] = true
	}
	for _, n := range cur.File.Names {
		if old[n] || strings.Contains(n, ".") {
			continue // nested definitions change their enclosing block
		}
		base, _, again := strings.Cut(n, "#")
		switch {
		case again || cur.Names[base+"#2"]:
			return fmt.Sprintf("%s is defined again", base)
		case lookedUpByName(base):
			return fmt.Sprintf("new %s", base)
		case cur.Names["__getattr__"]:
			return fmt.Sprintf("new %s, which the module's __getattr__ may have answered", base)
		}
		for _, key := range []string{base, blocks.Dynamic} {
			for _, reader := range cur.File.Readers[key] {
				if unchanged(reader, cur, recorded) {
					if key == blocks.Dynamic {
						return fmt.Sprintf("new %s, and %s reads names dynamically", base, reader)
					}
					return fmt.Sprintf("new %s shadows the %s that %s reads", base, base, reader)
				}
			}
		}
	}
	return ""
}

// unchanged reports whether a block's code is as some test recorded it: a
// mention of a name there was read before the new definition came. The
// module and class blocks are in the same tests' dependencies as "<defs>",
// so a change there selects them anyway: they count as unchanged.
func unchanged(block string, cur Current, recorded Versions) bool {
	if block == Module || !cur.isFunction(block) {
		return true
	}
	return recorded[block][cur.Checksums[block]]
}

func (c Current) isFunction(name string) bool {
	for _, b := range c.File.Blocks {
		if b.Name == name {
			return b.Kind == blocks.Function
		}
	}
	return false
}

// lookedUpByName reports whether tools look a module-level name up by
// itself: pytest's hooks and xunit-style fixtures, unittest's load_tests,
// and the module protocol's dunders.
func lookedUpByName(name string) bool {
	switch name {
	case "setup_module", "teardown_module", "setUpModule", "tearDownModule",
		"setup_function", "teardown_function", "setup", "teardown", "load_tests":
		return true
	}
	return strings.HasPrefix(name, "pytest_") ||
		len(name) > 4 && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__")
}

// Reason says in a few words why a stale block version selects its tests.
func Reason(path string, b store.Block, cur Current, recorded Versions) string {
	switch {
	case store.IsEnvPath(path):
		old := ""
		if len(b.Names) > 0 {
			old = b.Names[0]
		}
		return fmt.Sprintf("%s %s -> %s", strings.TrimPrefix(b.Name, "dist:"), old, envValue(b.Name, cur))
	case !cur.Exists:
		return path + " deleted"
	case cur.Unreadable:
		return path + " unreadable"
	case b.Name == Content:
		return path + " changed"
	case b.Name == Edited:
		return path + " changed while the tests ran"
	case !cur.Parsed && cur.File != nil:
		return path + " cannot be parsed"
	case b.Name == Defs:
		return path + ": " + defsChange(b, cur, recorded)
	case b.Name == WholePy:
		return path + " changed"
	case b.Name == Bound:
		return path + ": a module-level name was removed"
	case cur.File != nil && strings.HasSuffix(b.Name, ClassEffects):
		return fmt.Sprintf("%s::%s changed (class header, statements with effects or attribute names)", path, strings.TrimSuffix(b.Name, ClassEffects))
	case cur.File != nil && strings.HasSuffix(b.Name, ClassBound):
		return fmt.Sprintf("%s::%s: a class attribute was removed", path, strings.TrimSuffix(b.Name, ClassBound))
	case b.Name == Effects:
		return path + ": module-level code with effects changed"
	case b.Name == Exports:
		return path + ": the names that \"from ... import *\" takes changed"
	case b.Name == ExportsUnbound:
		return path + ": \"from ... import *\" now takes a name the module does not bind"
	case strings.HasPrefix(b.Name, ExportPrefix):
		name := strings.TrimPrefix(b.Name, ExportPrefix)
		if b.Checksum == 0 {
			return fmt.Sprintf("%s: %s now in what \"from ... import *\" takes", path, name)
		}
		return fmt.Sprintf("%s: %s no longer in what \"from ... import *\" takes", path, name)
	case strings.HasPrefix(b.Name, BoundPrefix):
		name := strings.TrimPrefix(b.Name, BoundPrefix)
		if cur.Checksums[b.Name] == 0 {
			return fmt.Sprintf("%s: %s (module level) removed, which a from-import takes", path, name)
		}
		return fmt.Sprintf("%s: %s (module level) bound under other conditions, which a from-import takes", path, name)
	case strings.HasPrefix(b.Name, NamePrefix):
		name := strings.TrimPrefix(b.Name, NamePrefix)
		switch {
		case b.Checksum == 0:
			return fmt.Sprintf("%s: %s (module level) added", path, name)
		case cur.Checksums[b.Name] == 0:
			return fmt.Sprintf("%s: %s (module level) removed", path, name)
		}
		return fmt.Sprintf("%s: %s (module level) changed", path, name)
	}
	if cls, attr, ok := classPart(b.Name); ok && cur.File != nil {
		return fmt.Sprintf("%s: %s.%s (class attribute) changed", path, cls, attr)
	}
	if _, ok := cur.Checksums[b.Name]; !ok {
		return fmt.Sprintf("%s::%s removed", path, b.Name)
	}
	return fmt.Sprintf("%s::%s changed", path, b.Name)
}

// IsName reports whether a block is a module-level name or a class
// attribute (SPEC 4.8).
func IsName(block string) bool {
	if strings.HasPrefix(block, NamePrefix) {
		return true
	}
	_, part, ok := classPart(block)
	return ok && !strings.HasPrefix(part, "<")
}

// classPart splits a class-body block name "Account:fee" into the class
// and the part ("fee", "<effects>", "<names>").
func classPart(name string) (cls, part string, ok bool) {
	if strings.HasPrefix(name, "<") {
		return "", "", false
	}
	i := strings.LastIndexByte(name, ':')
	if i <= 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

func envValue(name string, cur Current) string {
	if v, ok := cur.Values[name]; ok {
		return v
	}
	return "(absent)"
}
