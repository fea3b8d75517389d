package blocks

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
)

func parse(t testing.TB, src string) File {
	t.Helper()
	p := NewParser()
	defer p.Close()
	return p.Parse([]byte(src))
}

// defs renders the Class and Function blocks as "name kind start-end".
func defs(f File) []string {
	var out []string
	for _, b := range f.Blocks {
		switch b.Kind {
		case Class:
			out = append(out, fmt.Sprintf("%s class %d-%d", b.Name, b.Start, b.End))
		case Function:
			out = append(out, fmt.Sprintf("%s def %d-%d", b.Name, b.Start, b.End))
		}
	}
	return out
}

func sums(f File) map[string]uint64 {
	m := map[string]uint64{}
	for _, b := range f.Blocks {
		m[b.Name] = b.Checksum
	}
	return m
}

func TestNamesAndRanges(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"plain functions", `
def f():
    return 1

def g(a, b=2, *args, **kw):
    x = a
    return x
`, []string{"f def 2-3", "g def 5-7"}},
		{"methods", `
class Account:
    rate = 1

    def deposit(self, n):
        self.n += n

    def withdraw(self, n):
        self.n -= n
`, []string{"Account class 2-9", "Account.deposit def 5-6", "Account.withdraw def 8-9"}},
		{"decorated function starts at its first decorator", `
import functools

@functools.cache
@other(
    1,
)
def f(x):
    return x
`, []string{"f def 4-9"}},
		{"decorated class and method", `
@dataclass
class P:
    x: int = 0

    @staticmethod
    def make():
        return P()
`, []string{"P class 2-8", "P.make def 6-8"}},
		{"nested functions", `
def outer():
    def inner():
        def innermost():
            pass
        return innermost
    return inner
`, []string{"outer def 2-7", "outer.<locals>.inner def 3-6", "outer.<locals>.inner.<locals>.innermost def 4-5"}},
		{"nested classes", `
class Outer:
    class Inner:
        class Deep:
            def m(self):
                pass
    def n(self):
        pass
`, []string{"Outer class 2-8", "Outer.Inner class 3-6", "Outer.Inner.Deep class 4-6", "Outer.Inner.Deep.m def 5-6", "Outer.n def 7-8"}},
		{"class in function", `
def f():
    class C:
        def m(self):
            return 1
    return C
`, []string{"f def 2-6", "f.<locals>.C class 3-5", "f.<locals>.C.m def 4-5"}},
		{"duplicates get suffixes in source order", `
class A:
    @property
    def x(self):
        return self._x

    @x.setter
    def x(self, v):
        self._x = v

    @x.deleter
    def x(self):
        del self._x

if cond:
    def f():
        pass
else:
    def f():
        pass
`, []string{"A class 2-13", "A.x def 3-5", "A.x#2 def 7-9", "A.x#3 def 11-13", "f def 16-17", "f#2 def 19-20"}},
		{"nested in a duplicate", `
def f():
    def g(): pass
def f():
    def g(): pass
`, []string{"f def 2-3", "f.<locals>.g def 3-3", "f#2 def 4-5", "f#2.<locals>.g def 5-5"}},
		{"async", `
async def fetch(url):
    async with session() as s:
        return await s.get(url)

class C:
    async def run(self):
        async for x in xs():
            yield x
`, []string{"fetch def 2-4", "C class 6-9", "C.run def 7-9"}},
		{"functions in top-level if, try and with", `
import sys
if sys.version_info >= (3, 11):
    def a(): pass
try:
    def b(): pass
except ImportError:
    def c(): pass
finally:
    def d(): pass
with ctx():
    class E: pass
`, []string{"a def 4-4", "b def 6-6", "c def 8-8", "d def 10-10", "E class 12-12"}},
		{"match statements", `
def area(shape):
    match shape:
        case Circle(r=r):
            return 3.14 * r * r
        case [x, y, *rest] if x > 0:
            return x * y
        case {"w": w, **kw}:
            return w
        case _:
            def fallback():
                return 0
            return fallback()
`, []string{"area def 2-13", "area.<locals>.fallback def 11-12"}},
		{"f-strings", `
def show(x, width):
    s = f"{x!r:>{width}} and {x + 1:.2f} {'nested'} {{literal}}"
    return f"""multi
{s}
line"""
`, []string{"show def 2-6"}},
		{"lambdas, walrus and comprehensions are no blocks", `
key = lambda item: item[1]

def f(data):
    if (n := len(data)) > 1:
        return sorted(data, key=lambda d: (d, n))
    return [y for x in data if (y := x * 2)]
`, []string{"f def 4-7"}},
		{"type hints and type parameters", `
from typing import TypeVar

def first[T](xs: list[T], *, default: T | None = None) -> T | None:
    return xs[0] if xs else default

class Box[T]:
    item: T
    def get(self) -> T:
        return self.item

type Alias = dict[str, "Box[int]"]
`, []string{"first def 4-5", "Box class 7-10", "Box.get def 9-10"}},
		{"end ignores trailing comments", `
def f():
    return 1
    # trailing comment

# another
x = 1
`, []string{"f def 2-3"}},
		{"one-line definitions", "def f(): pass\nclass C: x = 1\n", []string{"f def 1-1", "C class 2-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			if !f.Parsed {
				t.Fatalf("not parsed: %+v", f.Blocks)
			}
			if got := defs(f); !slices.Equal(got, tt.want) {
				t.Errorf("blocks:\n got %q\nwant %q", got, tt.want)
			}
			lines := strings.Count(tt.src, "\n")
			first, last := f.Blocks[0], f.Blocks[len(f.Blocks)-1]
			if first.Name != "<module>" || first.Kind != Module || first.Start != 1 || first.End != lines {
				t.Errorf("module block = %+v, want 1-%d", first, lines)
			}
			if last.Name != "<defs>" || last.Kind != Defs || last.Start != 1 || last.End != lines {
				t.Errorf("defs block = %+v", last)
			}
			var names []string
			for _, b := range f.Blocks {
				if b.Kind == Class || b.Kind == Function {
					names = append(names, b.Name)
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, f.Names) {
				t.Errorf("Names = %q, want %q", f.Names, names)
			}
			if want := contenthash.Sum([]byte(strings.Join(names, "\n"))); last.Checksum != want {
				t.Errorf("<defs> checksum %x, want %x", last.Checksum, want)
			}
		})
	}
}

const invariantBase = `import os

X = {"a": 1, "b": [1, 2]}


@decorator(arg=1)
def f(a, b=2):
    """Docstring."""
    if a:
        return g(a, b, key="v")
    return [x for x in range(b) if x]


class C(Base):
    attr = 1

    def m(self, x):
        total = self.attr + x
        return total


def outer():
    def inner(y):
        return y
    return inner
`

func TestChecksumInvariance(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"comments added", `import os  # imports
# a comment line
X = {"a": 1, "b": [1, 2]}  # trailing


@decorator(arg=1)  # why
def f(a, b=2):  # signature
    """Docstring."""
    # explain
    if a:
        return g(a, b, key="v")
    return [x for x in range(b) if x]
    # after


class C(Base):
    # attrs
    attr = 1

    def m(self, x):
        total = self.attr + x  # sum
        return total


def outer():
    def inner(y):
        # comment
        return y
    return inner
# end
`},
		{"blank lines", strings.ReplaceAll(invariantBase, "\n\n", "\n\n\n\n") + "\n\n"},
		{"blank lines removed", strings.ReplaceAll(strings.ReplaceAll(invariantBase, "\n\n\n", "\n"), "\n\n", "\n")},
		{"reindented from 4 to 2 spaces", strings.ReplaceAll(invariantBase, "    ", "  ")},
		{"reindented with tabs", strings.ReplaceAll(invariantBase, "    ", "\t")},
		{"call split over lines inside brackets", `import os

X = {
    "a": 1,
    "b": [
        1,
        2
    ]
}


@decorator(
    arg=1
)
def f(
    a,
    b=2
):
    """Docstring."""
    if a:
        return g(a,
                 b,
                 key="v")
    return [x
            for x in range(b)
            if x]


class C(
    Base
):
    attr = 1

    def m(self, x):
        total = self.attr + \
            x
        return total


def outer():
    def inner(y):
        return y
    return inner
`},
		{"line continuation and spacing", strings.NewReplacer(
			"total = self.attr + x", "total = self.attr \\\n            + x",
			`X = {"a": 1, "b": [1, 2]}`, `X={ "a" :1 , "b":[ 1,2 ] }`,
			"def f(a, b=2):", "def f( a , b = 2 ) :",
		).Replace(invariantBase)},
		{"CRLF line endings", strings.ReplaceAll(invariantBase, "\n", "\r\n")},
		{"trailing whitespace", strings.ReplaceAll(invariantBase, "\n", "  \n")},
	}
	base := parse(t, invariantBase)
	if !base.Parsed || len(base.Blocks) != 7 {
		t.Fatalf("base: parsed=%v %q", base.Parsed, defs(base))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			if !f.Parsed {
				t.Fatal("not parsed")
			}
			if got, want := sums(f), sums(base); !maps.Equal(got, want) {
				for _, b := range base.Blocks {
					if got[b.Name] != b.Checksum {
						t.Errorf("%s changed", b.Name)
					}
				}
				t.Errorf("blocks %q, want %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
			}
		})
	}
}

const changeBase = `import os

LIMIT = 10


@cache
def f(a, b=2):
    """Doc of f."""
    if a:
        x = a + 1
        y = x * b
    return "text"


def g():
    def inner():
        return 1
    return inner


class Account(Base):
    rate = 0.5

    @property
    def balance(self):
        return self._b

    def withdraw(self, n):
        self._b -= n

    class Meta:
        ordering = ["id"]
`

// changed returns the names of blocks whose checksum differs between a and
// b, or that exist in only one of them.
func changed(a, b File) []string {
	sa, sb := sums(a), sums(b)
	var out []string
	for n, s := range sa {
		if t, ok := sb[n]; !ok || s != t {
			out = append(out, n)
		}
	}
	for n := range sb {
		if _, ok := sa[n]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func TestChecksumChanges(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"body token", "x = a + 1", "x = a + 2", []string{"f"}},
		{"identifier", "y = x * b", "y = x * a", []string{"f"}},
		{"string contents", `return "text"`, `return "text "`, []string{"f"}},
		{"docstring", `"""Doc of f."""`, `"""Doc of f!"""`, []string{"f"}},
		{"decorator of a top-level function", "@cache\ndef f", "@cache(1)\ndef f", []string{"<module>", "f"}},
		{"decorator added to a top-level function", "\n\ndef g():", "\n\n@wrap\ndef g():", []string{"<module>", "g"}},
		{"default value", "def f(a, b=2):", "def f(a, b=3):", []string{"f"}},
		// Evaluated when the def runs, at import (SPEC 4.1).
		{"default computed", "def f(a, b=2):", "def f(a, b=1 // 0):", []string{"<module>", "f"}},
		{"default read from a name", "def f(a, b=2):", "def f(a, b=LIMIT):", []string{"<module>", "f"}},
		{"default f-string", "def f(a, b=2):", `def f(a, b=f"{LIMIT}"):`, []string{"<module>", "f"}},
		{"default negative literal", "def f(a, b=2):", "def f(a, b=-2.5e3):", []string{"f"}},
		{"default string literal", "def f(a, b=2):", `def f(a, b=rb"x"):`, []string{"f"}},
		{"annotation", "def f(a, b=2):", "def f(a: int, b=2):", []string{"<module>", "f"}},
		{"annotated default", "def f(a, b=2):", "def f(a, b: int = 2):", []string{"<module>", "f"}},
		{"star parameter annotation", "def f(a, b=2):", "def f(a, b=2, *c: T):", []string{"<module>", "f"}},
		{"return annotation", "def f(a, b=2):", "def f(a, b=2) -> int:", []string{"<module>", "f"}},
		{"parameter added", "def f(a, b=2):", "def f(a, b=2, c=None):", []string{"f"}},
		{"class attribute", "rate = 0.5", "rate = 0.25", []string{"Account"}},
		// A class header is in its own block, which every test that ran code
		// in the file depends on; "<module>" is not needed for it.
		{"base class", "class Account(Base):", "class Account(Base, Mixin):", []string{"Account"}},
		{"class decorator", "class Account(Base):", "@total_ordering\nclass Account(Base):", []string{"<module>", "Account"}},
		{"method body", "self._b -= n", "self._b -= 2 * n", []string{"Account.withdraw"}},
		{"method signature", "def withdraw(self, n):", "def withdraw(self, n, force=False):", []string{"Account", "Account.withdraw"}},
		{"method decorator", "    @property\n", "    @cached_property\n", []string{"Account", "Account.balance"}},
		{"method added", "    class Meta:", "    def deposit(self, n):\n        self._b += n\n\n    class Meta:", []string{"<defs>", "Account", "Account.deposit"}},
		{"nested class body", `ordering = ["id"]`, `ordering = ["-id"]`, []string{"Account", "Account.Meta"}},
		{"nested function body", "        return 1", "        return 2", []string{"g.<locals>.inner"}},
		{"nested function signature", "def inner():", "def inner(z=1):", []string{"g", "g.<locals>.inner"}},
		{"nested function default computed", "def inner():", "def inner(z=h()):", []string{"g", "g.<locals>.inner"}},
		{"method default computed", "def withdraw(self, n):", "def withdraw(self, n=1 // 0):", []string{"Account", "Account.withdraw"}},
		{"method annotation", "def withdraw(self, n):", "def withdraw(self, n: int) -> None:", []string{"Account", "Account.withdraw"}},
		{"statement moved out of an if body", "        y = x * b\n", "    y = x * b\n", []string{"f"}},
		{"new top-level function", "\n\ndef g():", "\n\ndef h():\n    pass\n\n\ndef g():", []string{"<defs>", "h"}},
		{"function renamed", "def g():", "def g2():", []string{"<defs>", "g", "g.<locals>.inner", "g2", "g2.<locals>.inner"}},
		{"module statement", "LIMIT = 10", "LIMIT = 11", []string{"<module>"}},
		{"module import", "import os", "import os.path", []string{"<module>"}},
		{"statement added to a class", "    rate = 0.5\n", "    rate = 0.5\n    fee = 1\n", []string{"Account"}},
		{"function moved", "\n\ndef g():\n    def inner():\n        return 1\n    return inner\n", "", []string{}},
	}
	base := parse(t, changeBase)
	if !base.Parsed {
		t.Fatal("base not parsed")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Count(changeBase, tt.old) != 1 {
				t.Fatalf("%q is not unique in the base", tt.old)
			}
			src := strings.Replace(changeBase, tt.old, tt.new, 1)
			if tt.name == "function moved" {
				src += "\n\ndef g():\n    def inner():\n        return 1\n    return inner\n"
			}
			f := parse(t, src)
			if !f.Parsed {
				t.Fatal("not parsed")
			}
			got := changed(base, f)
			if len(tt.want) == 0 && len(got) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("changed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBlockAt(t *testing.T) {
	src := `import os            # 1
                     # 2
@deco                # 3
@deco2(              # 4
    1)               # 5
def f(x):            # 6
    def inner():     # 7
        return x     # 8
    return inner     # 9
                     # 10
class C:             # 11
    y = [            # 12
        i for i in   # 13
        range(3)]    # 14
    def m(self):     # 15
        return {     # 16
            k: v     # 17
            for k, v in self.items()  # 18
        }            # 19
    z = 2            # 20
                     # 21
X = 1                # 22
`
	f := parse(t, src)
	if !f.Parsed {
		t.Fatal("not parsed")
	}
	want := map[int]string{
		1: "<module>", 2: "<module>", 3: "f", 4: "f", 5: "f", 6: "f", 7: "f.<locals>.inner", 8: "f.<locals>.inner",
		9: "f", 10: "<module>", 11: "C", 12: "C", 13: "C", 14: "C", 15: "C.m", 16: "C.m", 17: "C.m", 18: "C.m",
		19: "C.m", 20: "C", 21: "<module>", 22: "<module>",
	}
	for line := 1; line <= 22; line++ {
		t.Run(fmt.Sprint("line ", line), func(t *testing.T) {
			i := f.BlockAt(line)
			if i < 0 || f.Blocks[i].Name != want[line] {
				t.Errorf("BlockAt(%d) = %d, want %s", line, i, want[line])
			}
		})
	}
	for _, line := range []int{0, -1, 23, 1000} {
		if i := f.BlockAt(line); i != -1 {
			t.Errorf("BlockAt(%d) = %d, want -1", line, i)
		}
	}

	t.Run("whole file", func(t *testing.T) {
		w := parse(t, "def f(:\n  pass\n")
		if w.Parsed || w.BlockAt(1) != 0 || w.BlockAt(2) != 0 || w.BlockAt(3) != -1 {
			t.Errorf("got parsed=%v %d %d %d", w.Parsed, w.BlockAt(1), w.BlockAt(2), w.BlockAt(3))
		}
	})
	t.Run("hand-built file", func(t *testing.T) {
		h := File{Blocks: slices.Clone(f.Blocks)}
		for line := 1; line <= 22; line++ {
			if got, want := h.BlockAt(line), f.BlockAt(line); got != want {
				t.Errorf("BlockAt(%d) = %d, want %d", line, got, want)
			}
		}
	})
}

func TestEncodings(t *testing.T) {
	utf8Src := "# -*- coding: utf-8 -*-\ndef f():\n    return \"café\"\n"
	latin1 := []byte("# -*- coding: latin-1 -*-\ndef f():\n    return \"caf\xe9\"\n")
	utf8Ref := parse(t, utf8Src)
	tests := []struct {
		name   string
		src    []byte
		parsed bool
		same   *File // when parsed: expected checksums
	}{
		{"latin-1 cookie", latin1, true, &utf8Ref},
		{"iso-8859-1 cookie, vim style, line 2", []byte("#!/usr/bin/env python\n# vim: set fileencoding=iso-8859-1 :\ndef f():\n    return \"caf\xe9\"\n"), true, &utf8Ref},
		{"cp1252 cookie", []byte("# coding=cp1252\ndef f():\n    return \"caf\xe9\"\n"), true, &utf8Ref},
		{"utf-8 with BOM", append([]byte("\xef\xbb\xbf"), utf8Src...), true, &utf8Ref},
		{"no cookie, valid UTF-8", []byte("def f():\n    return \"café\"\n"), true, &utf8Ref},
		{"no cookie, invalid UTF-8", []byte("def f():\n    return \"caf\xe9\"\n"), false, nil},
		{"cookie on line 2 after code is ignored", []byte("x = 1\n# coding: latin-1\ns = \"caf\xe9\"\n"), false, nil},
		{"unknown encoding", []byte("# coding: klingon\nx = 1\n"), false, nil},
		{"utf-16 cookie", []byte("# coding: utf-16\nx = 1\n"), false, nil},
		{"BOM with a latin-1 cookie", []byte("\xef\xbb\xbf# coding: latin-1\nx = 1\n"), false, nil},
		{"undecodable in the declared encoding", []byte("# coding: ascii\nx = \"caf\xe9\"\n"), false, nil},
		{"NUL byte", []byte("x = 1\x00\n"), false, nil},
		{"syntax error", []byte("def f(:\n    pass\n"), false, nil},
		{"missing token", []byte("x = (1, 2\ny = 3\n"), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, string(tt.src))
			if f.Parsed != tt.parsed {
				t.Fatalf("Parsed = %v, want %v (%q)", f.Parsed, tt.parsed, defs(f))
			}
			if !tt.parsed {
				want := Block{Name: "<file>", Kind: Whole, Start: 1, End: strings.Count(string(tt.src), "\n"), Checksum: contenthash.Sum(tt.src)}
				if len(f.Blocks) != 1 || f.Blocks[0] != want || f.Names != nil {
					t.Errorf("blocks = %+v, want %+v", f.Blocks, want)
				}
				return
			}
			if got, want := sums(f), sums(*tt.same); !maps.Equal(got, want) {
				t.Errorf("checksums %x, want %x", got, want)
			}
		})
	}
}

func TestLineEndings(t *testing.T) {
	// Python counts a lone CR as a line break.
	f := parse(t, "x = 1\rdef f():\r    pass\r")
	if !f.Parsed || !slices.Equal(defs(f), []string{"f def 2-3"}) || f.Blocks[0].End != 3 {
		t.Errorf("got parsed=%v %q module end %d", f.Parsed, defs(f), f.Blocks[0].End)
	}
	f = parse(t, "def f():\n    pass")
	if f.Blocks[0].End != 2 {
		t.Errorf("no final newline: module end %d, want 2", f.Blocks[0].End)
	}
	f = parse(t, "")
	if !f.Parsed || len(f.Blocks) != 2 || f.Blocks[0].End != 1 || f.BlockAt(1) != 0 {
		t.Errorf("empty file: %+v", f)
	}
}

func TestDeepNesting(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"parentheses", "x = " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + "\n"},
		{"brackets", "x = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"},
		{"unbalanced", "x = " + strings.Repeat("[{(", 5000) + "\n"},
		{"operators", "x = 1" + strings.Repeat(" + 1", 20000) + "\n"},
		{"nested functions", func() string {
			var b strings.Builder
			for i := range 300 {
				fmt.Fprintf(&b, "%sdef f%d():\n", strings.Repeat(" ", i), i)
			}
			fmt.Fprintf(&b, "%spass\n", strings.Repeat(" ", 300))
			return b.String()
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			if i := f.BlockAt(1); i < 0 || i >= len(f.Blocks) {
				t.Errorf("BlockAt(1) = %d", i)
			}
		})
	}
}

// Parsing in pieces must give exactly what parsing at once gives.
func TestPieces(t *testing.T) {
	srcs := []string{
		invariantBase,
		changeBase,
		`import a
@deco
# comment between decorator and def
def f(): pass
if x:
    pass
elif y:
    pass
else:
    pass
try:
    pass
except E:
    pass
finally:
    pass
s = """
col0 line inside a string
def not_a_def(): pass
"""
t = ('''it's''', "a\"b", 'c\'d',
x)
u = 1 + \
2
for i in range(3): pass
else: pass
z = {
"k": 1}
r = r"\"\\"
class K: pass
`,
	}
	defer func(n int) { pieceSize = n }(pieceSize)
	p := NewParser()
	defer p.Close()
	for i, src := range srcs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			pieceSize = 1 << 30
			whole := p.Parse([]byte(src))
			pieceSize = 1
			if len(pieces([]byte(src), 1)) < 4 {
				t.Errorf("too few pieces: %d", len(pieces([]byte(src), 1)))
			}
			cut := p.Parse([]byte(src))
			if !whole.Parsed || !reflect.DeepEqual(whole, cut) {
				t.Errorf("whole %+v\npieces %+v", whole.Blocks, cut.Blocks)
			}
		})
	}
	t.Run("pieces", func(t *testing.T) {
		src := []byte(srcs[2])
		var starts []string
		for _, b := range pieces(src, 1) {
			if b < len(src) {
				line, _ := cutLine(src[b:])
				starts = append(starts, strings.TrimSpace(string(line)))
			}
		}
		want := []string{"import a", "@deco", "if x:", "try:", `s = """`, "t = ('''it's''', \"a\\\"b\", 'c\\'d',", "u = 1 + \\", "for i in range(3): pass", "z = {", `r = r"\"\\"`, "class K: pass"}
		if !slices.Equal(starts, want) {
			t.Errorf("pieces start at\n%q\nwant\n%q", starts, want)
		}
	})
	t.Run("a wrong cut fails and the whole file is parsed instead", func(t *testing.T) {
		src := []byte("x = (1,\n2)\ny = 3\n")
		if _, ok := p.split(src, []int{0, 8, len(src)}); ok {
			t.Error("a cut inside brackets parsed")
		}
		if f, ok := p.split(src, []int{0, 11, len(src)}); !ok || !reflect.DeepEqual(f, p.Parse(src)) {
			t.Error("a cut between statements differs from the whole")
		}
	})
}

func TestLargeFile(t *testing.T) {
	src := generate(3 << 20)
	defer func(n int) { pieceSize = n }(pieceSize)
	p := NewParser()
	defer p.Close()
	cut := p.Parse(src)
	if !cut.Parsed || len(cut.Blocks) < 1000 || len(pieces(src, pieceSize)) < 3 {
		t.Fatalf("parsed=%v blocks=%d pieces=%d", cut.Parsed, len(cut.Blocks), len(pieces(src, pieceSize)))
	}
	pieceSize = 1 << 30
	if whole := p.Parse(src); !reflect.DeepEqual(whole, cut) {
		t.Error("parsing in pieces differs from parsing at once")
	}
}

func TestParserClose(t *testing.T) {
	p := NewParser()
	p.Close()
	p.Close()
	if f := p.Parse([]byte("x = 1\n")); f.Parsed || len(f.Blocks) != 1 || f.Blocks[0].Kind != Whole {
		t.Errorf("closed parser: %+v", f)
	}
}

func TestConcurrentParsers(t *testing.T) {
	done := make(chan File)
	for range 4 {
		go func() {
			p := NewParser()
			defer p.Close()
			var f File
			for range 20 {
				f = p.Parse([]byte(changeBase))
			}
			done <- f
		}()
	}
	want := parse(t, changeBase)
	for range 4 {
		if f := <-done; !reflect.DeepEqual(f, want) {
			t.Error("results differ between goroutines")
		}
	}
}

// generate returns about n bytes of varied Python source.
func generate(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, `class C%d(Base):
    """Class %d."""
    x = [1, 2, 3]

    @property
    def m(self, a, b=2):
        return {k: v for k, v in a.items() if v > b}  # comment

    async def n(self):
        async with self.lock:
            await self.step(f"{self.x!r:>10}")


@deco(%d)
def f%d(x, *args, **kw):
    def inner(y):
        return lambda z: (x, y, z)
    if x:
        y = x \
            + 1
    else:
        y = """text
with lines"""
    match y:
        case [a, *rest]:
            return a
    return inner


`, i, i, i, i)
	}
	return b
}

func BenchmarkParse(b *testing.B) {
	src := generate(1 << 20)
	p := NewParser()
	defer p.Close()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if f := p.Parse(src); !f.Parsed {
			b.Fatal("not parsed")
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{invariantBase, changeBase, "", "x = 1", "def f(:\n", "# coding: latin-1\nx = '\xe9'\n",
		"@d\nclass A:\n  @p\n  def x(s): pass\n  @x.setter\n  def x(s, v): pass\n", "if x:\n def f(): pass\nelse:\n def f(): pass\n",
		"s = '''\ndef g(): pass\n'''\nt = 1 + \\\n2\n", "match x:\n case {'a': [b, *c]}: pass\n", "f'{x!r:>{w}}'\n",
		"import a.b.c, d as e\nfrom a.b import (c,\n  d as e,)\n", "from . import x\nfrom ..p.q import *\nfrom .. . import y\n",
		"from __future__ import annotations\nif T:\n    import x . \\\n y\ndef f():\n    from .m import n\n"} {
		f.Add([]byte(s))
	}
	p := NewParser()
	defer p.Close()
	f.Fuzz(func(t *testing.T, src []byte) {
		defer func(n int) { pieceSize = n }(pieceSize)
		pieceSize = 1 << 30
		a := p.Parse(src)
		if b := p.Parse(src); !reflect.DeepEqual(a.Imports, b.Imports) {
			t.Fatalf("Imports are not deterministic:\n%+v\n%+v", a.Imports, b.Imports)
		} else if !reflect.DeepEqual(a, b) {
			t.Fatal("Parse is not deterministic")
		}
		pieceSize = 1
		b := p.Parse(src)
		// Which identifiers are plain values depends on an expression's
		// shape, which tree-sitter may resolve differently in pieces for
		// an ambiguous (invalid) expression; only the escape check reads it
		// (with the chains used as values). So may which attribute's object
		// is a dotted chain.
		a.bare, b.bare = nil, nil
		a.chains, b.chains = nil, nil
		a.lookups, b.lookups = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("parsing in pieces differs:\n%+v\n%+v\nimports:\n%+v\n%+v", a.Blocks, b.Blocks, a.Imports, b.Imports)
		}
		if !a.Parsed && a.Imports != nil {
			t.Fatalf("unparsed file with Imports %+v", a.Imports)
		}
		for _, imp := range a.Imports {
			if imp.Level < 0 || imp.Module == "" && (imp.Level == 0 || len(imp.Names) == 0) || slices.Contains(imp.Names, "") ||
				strings.HasPrefix(imp.Module, ".") || strings.HasSuffix(imp.Module, ".") || strings.Contains(imp.Module, "..") {
				t.Fatalf("bad import %+v", imp)
			}
		}
		if len(a.Blocks) == 0 || a.Blocks[0].Start != 1 || a.Blocks[0].End != countLines(src) {
			t.Fatalf("first block %+v, want lines 1-%d", a.Blocks, countLines(src))
		}
		seen := map[string]bool{}
		for _, b := range a.Blocks {
			if seen[b.Name] || b.Start < 1 || b.End < b.Start || b.End > a.Blocks[0].End {
				t.Fatalf("bad block %+v", b)
			}
			seen[b.Name] = true
		}
		for line := 1; line <= a.Blocks[0].End; line++ {
			i := a.BlockAt(line)
			if i < 0 || i >= len(a.Blocks) {
				t.Fatalf("BlockAt(%d) = %d", line, i)
			}
			if b := a.Blocks[i]; b.Kind == Defs || line < b.Start || line > b.End {
				t.Fatalf("BlockAt(%d) = %+v", line, b)
			}
		}
	})
}

// Whitespace inside an f-string's replacement field is layout, except with
// a "=" specifier, which prints the field's text as written.
func TestFStringFields(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		same     bool
	}{
		{"spaces around an expression", `f"{x}"`, `f"{ x }"`, true},
		{"spaces in a comparison", `f"{x == y}"`, `f"{x==y}"`, true},
		{"format spec stays verbatim", `f"{x:>4}"`, `f"{x:> 4}"`, false},
		{"= specifier: space before", `f"{x=}"`, `f"{x =}"`, false},
		{"= specifier: spaces around", `f"{x=}"`, `f"{x = }"`, false},
		{"= specifier: leading space", `f"{x=}"`, `f"{ x=}"`, false},
		{"= specifier with conversion", `f"{x=!r}"`, `f"{x= !r}"`, false},
		{"= specifier in a nested field", `f"{x:{w=}}"`, `f"{x:{w = }}"`, false},
		{"= specifier, same text", `f"{x = }"`, `f"{x = }"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := parse(t, "def show(x, y, w):\n    return "+tt.old+"\n")
			b := parse(t, "def show(x, y, w):\n    return "+tt.new+"\n")
			if !a.Parsed || !b.Parsed {
				t.Fatal("not parsed")
			}
			if got := maps.Equal(sums(a), sums(b)); got != tt.same {
				t.Errorf("same checksums: %v, want %v (changed %q)", got, tt.same, changed(a, b))
			}
		})
	}
}

// A panic while parsing (a parser bug) makes the file one Whole block and
// says why.
func TestParsePanicIsReported(t *testing.T) {
	ParseHook = func([]byte) { panic("boom") }
	defer func() { ParseHook = nil }()
	p := NewParser()
	defer p.Close()
	src := []byte("def f():\n    return 1\n")
	f := p.Parse(src)
	if f.Parsed || len(f.Blocks) != 1 || f.Blocks[0].Kind != Whole || f.Panic != "boom" {
		t.Fatalf("Parse after a panic: parsed=%v blocks=%v panic=%q", f.Parsed, f.Blocks, f.Panic)
	}
}
