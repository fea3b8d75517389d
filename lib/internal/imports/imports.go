// Package imports resolves import statements to the project's files and
// walks the import graph, so that a test depends on the module-level code of
// every project module its test file and conftest.py files import, directly
// or transitively (SPEC 4.4c): constants, class attributes and parametrize
// data are used at import time, before any test runs.
package imports

import (
	"path"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
)

// Project answers questions about the files under the root.
type Project interface {
	// Exists reports whether a regular file exists at rel.
	Exists(rel string) bool
	// Imports returns the imports of a Python file (nil if unreadable).
	Imports(rel string) []blocks.Import
}

// Resolver maps module names to files.
type Resolver struct {
	Project Project
	// Paths are the directories (relative to the root, "" for the root
	// itself) searched for absolute imports, like sys.path.
	Paths []string
	// Installed reports whether a top-level module name is found outside
	// the project (the standard library, an installed distribution). Nil:
	// never.
	Installed func(top string) bool
	cache     map[string][]string
}

// moduleFiles returns the files that importing module `name` from search
// directory dir runs: every package __init__.py on the way, and the module
// itself. ok is false when the module is not there.
func (r *Resolver) moduleFiles(dir, name string) (files []string, ok bool) {
	parts := strings.Split(name, ".")
	cur := dir
	for i, p := range parts {
		if p == "" {
			return nil, false
		}
		cur = path.Join(cur, p)
		if init := path.Join(cur, "__init__.py"); r.Project.Exists(init) {
			files = append(files, init)
			continue
		}
		if i == len(parts)-1 && r.Project.Exists(cur+".py") {
			return append(files, cur+".py"), true
		}
		// A namespace package (a directory without __init__.py) is fine
		// on the way, but must lead somewhere.
		if i == len(parts)-1 {
			return files, len(files) > 0
		}
	}
	return files, true
}

// absolute resolves an absolute module name the way Python's import
// would from a file in fromDir. The search starts at the directory pytest
// puts on sys.path for a test file or conftest.py there (rootdir
// insertion: the first directory upwards that is not a package), then the
// search paths. The file's own directory, when it is a package, comes last
// and only for a name nothing outside the project provides: Python does
// not search it (marshmallow/fields.py's "import warnings" is the standard
// library's, not marshmallow/warnings.py), but a conftest.py may have put
// it on sys.path, and then a helper module there is the project's.
func (r *Resolver) absolute(fromDir, name string) []string {
	key := fromDir + "\x00" + name
	if got, ok := r.cache[key]; ok {
		return got
	}
	base := r.baseDir(fromDir)
	dirs := append([]string{base}, r.Paths...)
	if base != fromDir {
		top, _, _ := strings.Cut(name, ".")
		if r.Installed == nil || !r.Installed(top) {
			dirs = append(dirs, fromDir)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, dir := range dirs {
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if files, ok := r.moduleFiles(dir, name); ok {
			out = files
			break
		}
	}
	if r.cache == nil {
		r.cache = map[string][]string{}
	}
	r.cache[key] = out
	return out
}

// baseDir returns the first directory at or above dir that is not a
// package: the one pytest's rootdir insertion puts on sys.path for a test
// module in dir.
func (r *Resolver) baseDir(dir string) string {
	for dir != "" && r.Project.Exists(path.Join(dir, "__init__.py")) {
		dir = path.Dir(dir)
		if dir == "." {
			dir = ""
		}
	}
	return dir
}

// Resolve returns the project files an import statement in file `from`
// runs, and the top-level name when it resolves outside the project (an
// installed distribution, or the standard library).
func (r *Resolver) Resolve(from string, imp blocks.Import) (files []string, external string) {
	fromDir := path.Dir(from)
	if fromDir == "." {
		fromDir = ""
	}
	if imp.Level > 0 {
		base := fromDir
		for i := 1; i < imp.Level; i++ {
			if base == "" {
				return nil, "" // beyond the root: nothing we can see
			}
			base = path.Dir(base)
			if base == "." {
				base = ""
			}
		}
		mod := base
		if imp.Module != "" {
			got, ok := r.moduleFiles(base, imp.Module)
			if !ok {
				return nil, ""
			}
			files = got
			mod = path.Join(base, strings.ReplaceAll(imp.Module, ".", "/"))
		}
		return append(files, r.submodules(mod, imp.Names)...), ""
	}
	files = r.absolute(fromDir, imp.Module)
	if files == nil {
		return nil, strings.SplitN(imp.Module, ".", 2)[0]
	}
	mod := strings.TrimSuffix(strings.TrimSuffix(files[len(files)-1], "/__init__.py"), ".py")
	return append(files, r.submodules(mod, imp.Names)...), ""
}

// submodules resolves `from pkg import a, b` where a and b are modules of
// the package rather than names in it.
func (r *Resolver) submodules(pkgDir string, names []string) []string {
	var out []string
	for _, n := range names {
		if n == "*" || n == "" {
			continue
		}
		if files, ok := r.moduleFiles(pkgDir, n); ok {
			out = append(out, files[len(files)-1])
		}
	}
	return out
}

// Closure returns every project file reachable by imports from the start
// files (which are included), and the external top-level names imported
// along the way, both in first-seen order.
func (r *Resolver) Closure(start []string) (files []string, external []string) {
	seen := map[string]bool{}
	ext := map[string]bool{}
	queue := append([]string(nil), start...)
	for _, f := range start {
		seen[f] = true
	}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		files = append(files, f)
		for _, imp := range r.Project.Imports(f) {
			got, name := r.Resolve(f, imp)
			if name != "" && !ext[name] {
				ext[name] = true
				external = append(external, name)
			}
			for _, g := range got {
				if !seen[g] {
					seen[g] = true
					queue = append(queue, g)
				}
			}
		}
	}
	return files, external
}

// Conftests returns the conftest.py files that pytest loads for a test
// file: one per directory from the root down to the file's own.
func Conftests(testFile string, exists func(string) bool) []string {
	var out []string
	dir := path.Dir(testFile)
	for {
		if dir == "." {
			dir = ""
		}
		if c := path.Join(dir, "conftest.py"); exists(c) && c != testFile {
			out = append(out, c)
		}
		if dir == "" {
			break
		}
		dir = path.Dir(dir)
	}
	return out
}
