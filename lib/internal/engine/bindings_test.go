package engine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
)

func TestChainTarget(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"pkg/__init__.py": "from pkg import sub as alias\nfrom pkg.models import Model\n\ndef __getattr__(name):\n    raise AttributeError(name)\n",
		"pkg/sub.py":      "X = 1\n\ndef f():\n    pass\n",
		"pkg/models.py":   "class Model:\n    pass\n\nvalue = Model()\n",
		"pkg/star.py":     "from pkg.sub import *\nfrom pkg import sub\n",
		"user.py": "import json\nimport pkg.sub\nimport pkg.sub as s\nfrom pkg import sub, models, alias, Model, missing\n" +
			"from pkg.star import *\n\ndef g(sub):\n    return getattr(sub, n)\n",
	}
	for rel, src := range files {
		write(t, root, rel, src)
	}
	s := session(t, root, true)
	tests := []struct {
		chain  string
		locals []string
		want   bindKind
		file   string
	}{
		{"json", nil, bindExternal, ""},
		{"pkg", nil, bindModule, "pkg/__init__.py"},
		{"pkg.sub", nil, bindModule, "pkg/sub.py"},
		{"pkg.sub.X", nil, bindObject, ""},
		{"pkg.sub.f", nil, bindObject, ""},
		{"s", nil, bindModule, "pkg/sub.py"},
		{"sub", nil, bindModule, "pkg/sub.py"},
		{"sub", []string{"sub"}, bindObject, ""}, // a parameter named like the module
		{"models.value", nil, bindObject, ""},
		{"alias", nil, bindModule, "pkg/sub.py"}, // re-exported under another name
		{"pkg.alias", nil, bindModule, "pkg/sub.py"},
		{"Model", nil, bindObject, ""},
		{"missing", nil, bindModule, ""}, // the package's __getattr__ answers
		{"X", nil, bindObject, ""},       // through the star import
		{"unknown", nil, bindNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.chain, func(t *testing.T) {
			got := s.chainTarget("user.py", tt.chain, tt.locals)
			if got.kind != tt.want || got.file != tt.file {
				t.Errorf("chainTarget(%q) = %+v, want kind %d file %q", tt.chain, got, tt.want, tt.file)
			}
		})
	}
}

func TestBlockLookups(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"pkg", "other"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"pkg/__init__.py":   "",
		"pkg/sub.py":        "X = 1\n\ndef f():\n    pass\n",
		"other/__init__.py": "from other.gone import thing\n", // cannot be placed: other/gone.py is missing
		"user.py": "import pkg.sub\nfrom pkg import sub\nimport other\n\n" +
			"def g(a):\n    b = 1\n    return sub.X + sub.Y + pkg.sub.Z + pkg.more + len(a) + b + MISSING + sub.f()\n\n" +
			"def h():\n    return other.thing.NAME\n",
	}
	for rel, src := range files {
		write(t, root, rel, src)
	}
	s := session(t, root, true)
	f := s.current("user.py").cur.File
	tests := []struct {
		block string
		want  []nameRef
		ok    bool
	}{
		// Bound names (X, f), builtins (len), the function's own names (a,
		// b) and submodules (pkg.sub) are not lookups of missing names.
		{"g", []nameRef{{"user.py", "MISSING"}, {"pkg/__init__.py", "more"}, {"pkg/sub.py", "Z"}, {"pkg/sub.py", "Y"}}, true},
		{"h", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.block, func(t *testing.T) {
			i := slices.IndexFunc(f.Blocks, func(b blocks.Block) bool { return b.Name == tt.block })
			got, ok := s.blockLookups("user.py", f, i)
			if !slices.Equal(got, tt.want) || ok != tt.ok {
				t.Errorf("blockLookups(%s) = %v, %v; want %v, %v", tt.block, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEarlyModules(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"pkg", "other"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for rel, src := range map[string]string{
		"pkg/__init__.py":   "from pkg import core, warns\n",
		"pkg/core.py":       "X = 1\n",
		"pkg/warns.py":      "class W(UserWarning):\n    pass\n",
		"other/__init__.py": "",
		"other/settings.py": "DEBUG = True\n",
	} {
		write(t, root, rel, src)
	}
	s := session(t, root, true)
	deps := []Dep{
		{Kind: DepLines, Path: "pkg/warns.py", Lines: []uint32{WholeModule}},
		{Kind: DepLines, Path: "pkg/__init__.py", Lines: []uint32{ImportedEarly}},
		{Kind: DepLines, Path: "pkg/core.py", Lines: []uint32{3, ImportedEarly}},
		{Kind: DepLines, Path: "other/settings.py", Lines: []uint32{ImportedEarly}},
	}
	// The package on the way to the module named by name, and what it
	// imports, were imported by them; other/settings.py may have been
	// imported by name.
	want := [][]uint32{{WholeModule}, {}, {3}, {WholeModule}}
	got := s.earlyModules(deps)
	for i, d := range got {
		if !slices.Equal(d.Lines, want[i]) {
			t.Errorf("%s: lines %v, want %v", d.Path, d.Lines, want[i])
		}
	}
}
