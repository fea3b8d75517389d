package selection

import (
	"slices"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

const defsBase = `from os.path import join

LIMIT = 10


def where(name):
    return join("a", name)


def size(x):
    return len(x)


def unrun(x):
    return helper(x)


class Box:
    def open(self):
        return 1
`

// A new definition makes "<defs>" stale when it can change what a name
// reads; the base's function blocks were all recorded but unrun().
func TestDefsChange(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old by new in the base ("" old: append new)
		stale    bool
	}{
		{"nothing new", "", "", false},
		{"new function nothing mentions", "", "\n\ndef brand_new():\n    return 1\n", false},
		{"new class nothing mentions", "", "\n\nclass Fresh:\n    pass\n", false},
		{"new method", "        return 1\n", "        return 1\n\n    def close(self):\n        return 2\n", false},
		{"new nested function", "    return len(x)\n", "    def inner():\n        return 1\n    return len(x)\n", false},
		{"helper called only by a changed function", "    return len(x)\n", "    return _len(x)\n\n\ndef _len(x):\n    return 0\n", false},
		{"helper mentioned only by a function no test ran", "", "\n\ndef helper(x):\n    return x\n", false},
		{"name removed", "def size(x):", "def size2(x):", true},
		{"second definition lower in the file", "", "\n\ndef where(name):\n    return name\n", true},
		{"second definition higher in the file", "\n\ndef where(name):", "\n\ndef where(name):\n    return name\n\n\ndef where(name):", true},
		{"definition shadowing an import", "", "\n\ndef join(*parts):\n    return '-'.join(parts)\n", true},
		{"definition shadowing a builtin read by unchanged code", "", "\n\ndef len(x):\n    return 0\n", true},
		{"definition shadowing a module-level name", "", "\n\nclass LIMIT:\n    pass\n", true},
		{"star import added alone", "from os.path import join\n", "from os.path import join\nfrom json import *\n", false},
		{"new name in a module with a star import", "LIMIT = 10\n", "from json import *\nLIMIT = 10\n\n\ndef brand_new():\n    return 1\n", true},
		{"new reader of globals() and nothing else", "    return len(x)\n", "    return len(x)\n\n\ndef lookup(n):\n    return globals()[n]\n", false},
		{"module __getattr__", "", "\n\ndef __getattr__(name):\n    return 1\n\n\ndef other():\n    pass\n", true},
		{"pytest hook", "", "\n\ndef pytest_runtest_call(item):\n    raise RuntimeError\n", true},
		{"xunit fixture", "", "\n\ndef setup_module():\n    raise RuntimeError\n", true},
	}
	p := blocks.NewParser()
	defer p.Close()
	base := p.Parse([]byte(defsBase))
	var recorded []store.Block
	for _, b := range base.Blocks {
		if b.Name != "unrun" {
			recorded = append(recorded, store.Block{Name: b.Name, Checksum: b.Checksum})
		}
	}
	versions := VersionsOf(recorded)
	defs := store.Block{Name: Defs, Names: base.Names}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := defsBase + tt.new
			if tt.old != "" {
				if strings.Count(defsBase, tt.old) != 1 {
					t.Fatalf("%q is not unique in the base", tt.old)
				}
				src = strings.Replace(defsBase, tt.old, tt.new, 1)
			}
			f := p.Parse([]byte(src))
			if !f.Parsed {
				t.Fatal("not parsed")
			}
			cur := CurrentOf(fingerprint.State{Exists: true, Hash: contenthash.Sum([]byte(src))}, &f, nil, nil)
			if got := Stale(defs, cur, versions); got != tt.stale {
				t.Errorf("stale %v, want %v (%s)", got, tt.stale, Reason("m.py", defs, cur, versions))
			}
		})
	}
}

func TestNameViews(t *testing.T) {
	// Which pseudo-blocks change between two versions of a module: the
	// names code may look up without naming them (SPEC 4.8).
	tests := []struct {
		name, old, new string
		changed        []string
	}{
		{"class attribute", "class A:\n    x = 1\n", "class A:\n    x = 2\n", []string{ClassNames}},
		{"new function", "X = 1\n", "X = 1\ndef f():\n    pass\n", []string{AllNames, "<module>:f"}},
		{"new constant", "X = 1\n", "X = 1\nY = 2\n", []string{AllNames, "<module>:Y"}},
		{"function body", "def f():\n    return 1\n", "def f():\n    return 2\n", nil},
		{"__all__ entry added", "__all__ = ['f']\ndef f():\n    pass\ndef g():\n    pass\n", "__all__ = ['f', 'g']\ndef f():\n    pass\ndef g():\n    pass\n", []string{"<exports>:g"}},
		{"__all__ entry missing", "__all__ = ['f']\ndef f():\n    pass\n", "__all__ = ['f', 'h']\ndef f():\n    pass\n", []string{ExportsUnbound, "<exports>:h"}},
	}
	p := blocks.NewParser()
	defer p.Close()
	cur := func(src string) Current {
		f := p.Parse([]byte(src))
		return CurrentOf(fingerprint.State{Exists: true, Hash: contenthash.Sum([]byte(src))}, &f, nil, nil)
	}
	watched := []string{ClassNames, AllNames, ExportsUnbound, "<module>:f", "<module>:Y", "<exports>:g", "<exports>:h"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, n := cur(tt.old), cur(tt.new)
			var got []string
			for _, b := range watched {
				if o.Checksums[b] != n.Checksums[b] {
					got = append(got, b)
				}
			}
			if !slices.Equal(got, tt.changed) {
				t.Errorf("changed %q, want %q", got, tt.changed)
			}
		})
	}
}

// "<bound>:NAME" goes stale when a from-import of NAME could fail where it
// did not: the name removed, or bound only under other conditions.
func TestBoundName(t *testing.T) {
	const base = "import sys\nRATE = 1\nOTHER = 2\n"
	tests := []struct {
		name, src string
		stale     bool
		reason    string
	}{
		{"value changed", "import sys\nRATE = 3\nOTHER = 2\n", false, ""},
		{"other name removed", "import sys\nRATE = 1\n", false, ""},
		{"removed", "import sys\nOTHER = 2\n", true, "m.py: RATE (module level) removed, which a from-import takes"},
		{"import removed", "RATE = 1\nOTHER = 2\n", false, ""},
		{"bound only under an if", "import sys\nif sys.version_info < (3, 0):\n    RATE = 1\nOTHER = 2\n", true,
			"m.py: RATE (module level) bound under other conditions, which a from-import takes"},
	}
	p := blocks.NewParser()
	defer p.Close()
	current := func(src string) Current {
		f := p.Parse([]byte(src))
		if !f.Parsed {
			t.Fatalf("%q not parsed", src)
		}
		return CurrentOf(fingerprint.State{Exists: true, Hash: contenthash.Sum([]byte(src))}, &f, nil, nil)
	}
	was := current(base)
	rate := store.Block{Name: BoundPrefix + "RATE", Checksum: was.Checksums[BoundPrefix+"RATE"]}
	if rate.Checksum == 0 {
		t.Fatal("RATE is not bound in the base")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := current(tt.src)
			if got := Stale(rate, cur, nil); got != tt.stale {
				t.Fatalf("stale %v, want %v", got, tt.stale)
			}
			if tt.stale {
				if got := Reason("m.py", rate, cur, nil); got != tt.reason {
					t.Errorf("reason %q, want %q", got, tt.reason)
				}
			}
		})
	}
}
