package blocks

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestImports(t *testing.T) {
	type I = Import
	tests := []struct {
		name, src string
		want      []Import
	}{
		{"none", "x = 1\n", nil},
		{"plain", "import os\n", []I{{Module: "os"}}},
		{"dotted and alias", "import a.b.c, d as e\n", []I{{Module: "a.b.c"}, {Module: "d"}}},
		{"dotted alias", "import a.b as c\n", []I{{Module: "a.b"}}},
		{"from", "from a.b import c, d as e\n", []I{{Module: "a.b", Names: []string{"c", "d"}}}},
		{"relative", "from . import x\n", []I{{Level: 1, Names: []string{"x"}}}},
		{"relative wildcard", "from ..p.q import *\n", []I{{Level: 2, Module: "p.q", Names: []string{"*"}}}},
		{"wildcard", "from m import *\n", []I{{Module: "m", Names: []string{"*"}}}},
		{"relative module", "from .m import z as w\n", []I{{Level: 1, Module: "m", Names: []string{"z"}}}},
		{"only dots", "from .. import a\nfrom ... import b\nfrom .... import c\n", []I{
			{Level: 2, Names: []string{"a"}}, {Level: 3, Names: []string{"b"}}, {Level: 4, Names: []string{"c"}}}},
		{"spaced dots", "from . . import x\nfrom . .m import y\n", []I{
			{Level: 2, Names: []string{"x"}}, {Level: 2, Module: "m", Names: []string{"y"}}}},
		{"many dots", "from .....z import w\n", []I{{Level: 5, Module: "z", Names: []string{"w"}}}},
		{"future", "from __future__ import annotations\nimport os\n", []I{{Module: "os"}}},
		{"future only", "from __future__ import annotations, division\n", nil},
		{"future parenthesised", "from __future__ import (annotations)\n", nil},
		{"import __future__", "import __future__\n", []I{{Module: "__future__"}}},
		{"relative __future__", "from .__future__ import x\n", []I{{Level: 1, Module: "__future__", Names: []string{"x"}}}},
		{"parenthesised", "from a import (b, c as d)\n", []I{{Module: "a", Names: []string{"b", "c"}}}},
		{"multi-line", "from .. import (\n    a,  # first\n    b as c,\n    # more\n    d,\n)\n", []I{
			{Level: 2, Names: []string{"a", "b", "d"}}}},
		{"continuation", "from a.b import c, \\\n    d\nimport x.\\\n  y, \\\n  z\n", []I{
			{Module: "a.b", Names: []string{"c", "d"}}, {Module: "x.y"}, {Module: "z"}}},
		{"spaced dotted name", "import x . y\nfrom a .b import c\n", []I{{Module: "x.y"}, {Module: "a.b", Names: []string{"c"}}}},
		{"soft keywords", "import match.type, print as p\nfrom type import match\n", []I{
			{Module: "match.type"}, {Module: "print"}, {Module: "type", Names: []string{"match"}}}},
		{"semicolons", "import a; from b import c; import d\n", []I{
			{Module: "a"}, {Module: "b", Names: []string{"c"}}, {Module: "d"}}},
		{"nested", `import top
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from pkg.types import T
try:
    import fast as impl
except ImportError:
    from . import slow as impl
else:
    pass
finally:
    import atexit


class C:
    import inclass

    def m(self):
        from .. import inmethod
        def inner():
            import deep.er
        return inner


@decorator
def f():
    with ctx():
        from x import (y)
    for _ in range(3):
        import loop
    while False:
        import wloop
    match v:
        case 1:
            import matched
    return lambda: __import__("dynamic")


import last
`, []I{
			{Module: "top"},
			{Module: "typing", Names: []string{"TYPE_CHECKING"}},
			{Module: "pkg.types", Names: []string{"T"}},
			{Module: "fast"},
			{Level: 1, Names: []string{"slow"}},
			{Module: "atexit"},
			{Module: "inclass"},
			{Level: 2, Names: []string{"inmethod"}, Scope: "C.m"},
			{Module: "deep.er", Scope: "C.m.<locals>.inner"},
			{Module: "x", Names: []string{"y"}, Scope: "f"},
			{Module: "loop", Scope: "f"},
			{Module: "wloop", Scope: "f"},
			{Module: "matched", Scope: "f"},
			{Module: "last"},
		}},
		{"strings and comments", "s = 'import a'\n# import b\nt = \"\"\"\nfrom c import d\n\"\"\"\n", nil},
		{"CRLF", "import a\r\nfrom b import (\r\n  c,\r\n  d)\r\n", []I{{Module: "a"}, {Module: "b", Names: []string{"c", "d"}}}},
		{"latin-1", "# coding: latin-1\nimport caf\xe9\n", []I{{Module: "café"}}},
		{"unparsed", "import a\ndef f(:\n", nil},
		{"undecodable", "import a\nx = '\xff'\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			if got := f.Imports; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Imports:\n got %+v\nwant %+v", got, tt.want)
			}
			if unparsed := tt.name == "unparsed" || tt.name == "undecodable"; f.Parsed == unparsed {
				t.Errorf("Parsed = %v", f.Parsed)
			}
		})
	}
}

// TestImportsInPieces checks that a large file parsed in pieces yields the
// imports of every piece, in order, as parsed at once.
func TestImportsInPieces(t *testing.T) {
	var b strings.Builder
	var want []Import
	for i := range 200 {
		fmt.Fprintf(&b, "import m%d.sub as alias\n", i)
		fmt.Fprintf(&b, "from ..p%d import (\n    a,\n    b as c,\n)\n", i)
		fmt.Fprintf(&b, "def f%d():\n    from .q%d import *\n    return 1\n\n", i, i)
		want = append(want,
			Import{Module: fmt.Sprintf("m%d.sub", i)},
			Import{Level: 2, Module: fmt.Sprintf("p%d", i), Names: []string{"a", "b"}},
			Import{Level: 1, Module: fmt.Sprintf("q%d", i), Names: []string{"*"}, Scope: fmt.Sprintf("f%d", i)})
	}
	src := b.String()
	defer func(n int) { pieceSize = n }(pieceSize)
	for _, size := range []int{1 << 30, 1000, 1} {
		pieceSize = size
		if size < len(src) {
			if n := len(pieces([]byte(src), size)) - 1; n < 2 {
				t.Fatalf("pieceSize %d: %d pieces", size, n)
			}
		}
		f := parse(t, src)
		if !f.Parsed {
			t.Fatalf("pieceSize %d: not parsed", size)
		}
		if !reflect.DeepEqual(f.Imports, want) {
			t.Fatalf("pieceSize %d: %d imports, want %d\n got %+v\nwant %+v", size, len(f.Imports), len(want), f.Imports, want)
		}
	}
}

// TestImportsParserReuse checks that nothing of one file's imports leaks
// into the next parse.
func TestImportsParserReuse(t *testing.T) {
	p := NewParser()
	defer p.Close()
	srcs := []string{"from a import (b,\n", "from x import y\n", "import z\n", "def f(:\n"}
	want := [][]Import{nil, {{Module: "x", Names: []string{"y"}}}, {{Module: "z"}}, nil}
	for round := range 2 {
		for i, src := range srcs {
			if got := p.Parse([]byte(src)).Imports; !reflect.DeepEqual(got, want[i]) {
				t.Errorf("round %d, %q: got %+v, want %+v", round, src, got, want[i])
			}
		}
	}
}
