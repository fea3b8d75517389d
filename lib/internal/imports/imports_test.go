package imports

import (
	"slices"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
)

// tree is an in-memory project: file -> its imports.
type tree map[string][]blocks.Import

func (t tree) Exists(rel string) bool             { _, ok := t[rel]; return ok }
func (t tree) Imports(rel string) []blocks.Import { return t[rel] }

func imp(module string, names ...string) blocks.Import {
	return blocks.Import{Module: module, Names: names}
}

func rel(level int, module string, names ...string) blocks.Import {
	return blocks.Import{Level: level, Module: module, Names: names}
}

func TestResolve(t *testing.T) {
	project := tree{
		"app/__init__.py":             nil,
		"app/models.py":               nil,
		"app/sub/__init__.py":         nil,
		"app/sub/deep.py":             nil,
		"src/lib/__init__.py":         nil,
		"src/lib/core.py":             nil,
		"tests/helpers.py":            nil,
		"tests/test_x.py":             nil,
		"ns/mod.py":                   nil, // namespace package: no __init__.py
		"tests/unit/__init__.py":      nil,
		"tests/unit/test_y.py":        nil,
		"tests/unit/fixtures.py":      nil,
		"tests/unit/data/__init__.py": nil,
		"app/warnings.py":             nil,
		"app/localhelp.py":            nil,
	}
	installed := func(top string) bool { return top == "warnings" || top == "requests" }
	r := &Resolver{Project: project, Paths: []string{"", "src"}, Installed: installed}
	tests := []struct {
		name     string
		from     string
		imp      blocks.Import
		files    []string
		external string
	}{
		{"plain module", "tests/test_x.py", imp("app.models"), []string{"app/__init__.py", "app/models.py"}, ""},
		{"package", "tests/test_x.py", imp("app"), []string{"app/__init__.py"}, ""},
		{"from package import submodule", "tests/test_x.py", imp("app", "models", "VERSION"), []string{"app/__init__.py", "app/models.py"}, ""},
		{"from module import name", "tests/test_x.py", imp("app.models", "User"), []string{"app/__init__.py", "app/models.py"}, ""},
		{"src layout", "tests/test_x.py", imp("lib.core"), []string{"src/lib/__init__.py", "src/lib/core.py"}, ""},
		{"sibling of the test file", "tests/test_x.py", imp("helpers"), []string{"tests/helpers.py"}, ""},
		{"namespace package", "tests/test_x.py", imp("ns.mod"), []string{"ns/mod.py"}, ""},
		{"external", "tests/test_x.py", imp("requests.adapters"), nil, "requests"},
		{"relative sibling", "tests/unit/test_y.py", rel(1, "", "fixtures"), []string{"tests/unit/fixtures.py"}, ""},
		{"relative module", "tests/unit/test_y.py", rel(1, "fixtures", "thing"), []string{"tests/unit/fixtures.py"}, ""},
		{"relative parent package", "app/sub/deep.py", rel(2, "models", "X"), []string{"app/models.py"}, ""},
		{"relative package itself", "app/sub/deep.py", rel(1, "", "deep"), []string{"app/sub/deep.py"}, ""},
		{"relative beyond root", "app/models.py", rel(3, "x"), nil, ""},
		{"a package's module does not shadow the standard library", "app/models.py", imp("warnings"), nil, "warnings"},
		{"a package's own directory, when nothing installed has the name", "app/models.py", imp("localhelp"), []string{"app/localhelp.py"}, ""},
		{"test package: its base directory", "tests/unit/test_y.py", imp("helpers"), []string{"tests/helpers.py"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, ext := r.Resolve(tt.from, tt.imp)
			if !slices.Equal(files, tt.files) || ext != tt.external {
				t.Errorf("Resolve = %v, %q; want %v, %q", files, ext, tt.files, tt.external)
			}
		})
	}
}

func TestClosure(t *testing.T) {
	project := tree{
		"tests/test_a.py":   {imp("app.service"), imp("pytest")},
		"tests/conftest.py": {imp("app.config")},
		"app/__init__.py":   nil,
		"app/service.py":    {rel(1, "models", "User"), imp("os")},
		"app/models.py":     {imp("app.service")}, // a cycle
		"app/config.py":     nil,
		"app/unused.py":     nil,
	}
	r := &Resolver{Project: project, Paths: []string{""}}
	files, ext := r.Closure([]string{"tests/test_a.py", "tests/conftest.py"})
	slices.Sort(files)
	want := []string{"app/__init__.py", "app/config.py", "app/models.py", "app/service.py", "tests/conftest.py", "tests/test_a.py"}
	if !slices.Equal(files, want) {
		t.Errorf("files = %v, want %v", files, want)
	}
	slices.Sort(ext)
	if !slices.Equal(ext, []string{"os", "pytest"}) {
		t.Errorf("external = %v", ext)
	}
}

func TestConftests(t *testing.T) {
	exists := tree{"conftest.py": nil, "tests/conftest.py": nil, "tests/unit/conftest.py": nil}.Exists
	got := Conftests("tests/unit/test_x.py", exists)
	want := []string{"tests/unit/conftest.py", "tests/conftest.py", "conftest.py"}
	if !slices.Equal(got, want) {
		t.Errorf("Conftests = %v, want %v", got, want)
	}
	if got := Conftests("test_top.py", exists); !slices.Equal(got, []string{"conftest.py"}) {
		t.Errorf("top-level: %v", got)
	}
}
