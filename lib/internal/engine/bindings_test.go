package engine

import (
	"os"
	"path/filepath"
	"testing"
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
