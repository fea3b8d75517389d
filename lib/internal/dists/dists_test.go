package dists

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestIndex(t *testing.T) {
	site := t.TempDir()
	later := t.TempDir()
	write := func(dir, rel, content string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	write(site, "PyYAML-6.0.1.dist-info/top_level.txt", "_yaml\nyaml\n")
	write(site, "attrs-23.1.0.dist-info/RECORD", "attr/__init__.py,sha256=x,1\nattrs/__init__.py,,\nattrs-23.1.0.dist-info/METADATA,,\n")
	write(site, "six-1.16.0.dist-info/RECORD", "six.py,,\n__pycache__/six.cpython-311.pyc,,\n")
	write(site, "Typing_Extensions-4.0.dist-info/RECORD", "typing_extensions.py,,\n")
	write(later, "six-1.0.0.dist-info/RECORD", "six.py,,\nshadowed.py,,\n")
	x := New([]string{site, later, filepath.Join(site, "missing")})
	tests := []struct {
		module string
		want   []string
	}{
		{"yaml", []string{"pyyaml"}},
		{"attr", []string{"attrs"}},
		{"attrs", []string{"attrs"}},
		{"six", []string{"six"}},
		{"typing_extensions", []string{"typing-extensions"}},
		{"shadowed", nil}, // only in a later, shadowed copy of six
		{"os", nil},
	}
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			if got := x.Lookup(tt.module); !slices.Equal(got, tt.want) {
				t.Errorf("Lookup(%q) = %v, want %v", tt.module, got, tt.want)
			}
		})
	}
}
