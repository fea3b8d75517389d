package blocks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// stmtView renders a file's statements as "kind binds<-reads".
func stmtView(f File) []string {
	kinds := map[StmtKind]string{StmtEffect: "effect", StmtAssign: "assign", StmtImport: "import", StmtDef: "def", StmtNoop: "noop", StmtCond: "cond"}
	var out []string
	for _, st := range f.Stmts {
		s := kinds[st.Kind] + " " + strings.Join(st.Binds, ",")
		if len(st.Reads) > 0 {
			s += "<-" + strings.Join(st.Reads, ",")
		}
		if st.Open {
			s += " open"
		}
		out = append(out, s)
	}
	return out
}

func TestStatements(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"docstring and literals", `"""Doc."""
__version__ = "1.2"
RATE = 0.1
NEG = -1
T = (1, "a", None, RATE)
D = {"a": [1, 2], 3: {4}}
A = B = 2
`, []string{"noop __doc__", "assign __version__", "assign RATE", "assign NEG", "assign T<-RATE", "assign D", "assign A,B"}},
		{"effects", `x = f()
y = 1 // 0
o.a = 1
d[k] = 2
z = [i for i in r]
s = f"{x}"
del x
w: int = 3
a, b = 1, 2
k = {[1]: 2}
n = ~1.5
q = b"\xff" "x"
`, []string{"effect x<-f", "effect y", "effect <-a,o", "effect <-d,k", "effect z<-i,r", "effect s<-x", "effect <-x open", "effect w<-int", "effect <-a,b", "effect k", "effect n", "effect q"}},
		{"imports", `import os, a.b as c
from m import x, y as z
from . import w
from x import *
from __future__ import annotations
`, []string{"import os,c", "import x,z", "import w", "effect <-x open", "effect <-annotations"}},
		{"definitions", `def f(a, b=1):
    return a + G
@dec
def g():
    pass
class C(Base):
    fee = 0.5
if X:
    Y = 1
pass
`, []string{"def f", "effect g<-dec", "def C<-Base", "cond Y<-X", "noop "}},
		{"conditions", `import sys, typing
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from enum import Enum as EnumType
    import os.path
if typing.TYPE_CHECKING:
    pass
if sys.version_info >= (3, 11) and not X:
    """Doc."""
    A = 1
elif sys.platform == "win32":
    if Y:
        A = B = (2, Z)
else:
    from m import A
`, []string{"import sys,typing", "import TYPE_CHECKING", "cond EnumType,os<-TYPE_CHECKING", "cond <-typing", "cond A,A,B,A<-X,Y,Z,sys"}},
		{"conditions with effects", `if f():
    A = 1
if X:
    A = f()
if X:
    o.a = 1
if X:
    def g(): pass
if X:
    from m import *
if (n := 1):
    pass
if X[0]:
    pass
try:
    import m
except ImportError:
    m = None
`, []string{"effect A<-f open", "effect A<-X,f open", "effect <-X,a,o open", "effect g<-X open", "effect <-X,m open", "effect <-n open", "effect <-X open", "effect m,m<-ImportError,m open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			if !f.Parsed {
				t.Fatal("not parsed")
			}
			got := stmtView(f)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("statements:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// Literals that tree-sitter accepts and Python refuses, or that may raise,
// are not precise: their statement counts as one with effects.
func TestStatementLiterals(t *testing.T) {
	tests := []struct {
		src  string
		want string // the statement's kind, or "" if the file does not parse
	}{
		{"A = 0777", "effect"},
		{"A = 007.5", "assign"},
		{"A = 00", "assign"},
		{"A = 1e5", "assign"},
		{"A = 0x_ff", "assign"},
		{"A = 1_000", "assign"},
		{"A = 2j", "assign"},
		{`A = "\N{BULLET}"`, "effect"},
		{`A = b"\N{BULLET}"`, "assign"},
		{`A = b"é"`, "effect"},
		{`A = rb"x" `, "assign"},
		{`A = f"x"`, "effect"},
		{`A = "a" "b"`, "effect"},
		{"__debug__ = 1", "effect"},
		{"A = -1.5", "assign"},
		{"A = ~1", "effect"},
		{"A = -None", "effect"},
		{"A = {(1, 2): 3}", "assign"},
		{"A = {B: 3}", "effect"},
		{"A = {[1]: 3}", "effect"},
		{"A = {{1}}", "effect"},
		{"A = {**B}", "effect"},
		{"A = [*B]", "effect"},
		{"A = (yield)", "effect"},
		{"A = lambda: 1", "effect"},
		{"A = ...", "assign"},
		{"A = B.C", "effect"},
		{"A = B[0]", "effect"},
		{"A = 1 + 2", "effect"},
		{"A = not B", "effect"},
		{"A = (B := 1)", "effect"},
		{"A = Été = 1", "effect"},
	}
	kinds := map[StmtKind]string{StmtEffect: "effect", StmtAssign: "assign", StmtImport: "import", StmtDef: "def", StmtNoop: "noop", StmtCond: "cond"}
	for _, tt := range tests {
		f := parse(t, tt.src+"\n")
		got := ""
		if f.Parsed {
			if len(f.Stmts) != 1 {
				t.Errorf("%s: %d statements", tt.src, len(f.Stmts))
				continue
			}
			got = kinds[f.Stmts[0].Kind]
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.src, got, tt.want)
		}
	}
}

// TestDerive checks which parts of a module's statement view an edit
// changes: the effects (every importer), the exports (star importers) and
// each name (its readers).
func TestDerive(t *testing.T) {
	resolves := func(imp Import) bool { return imp.Module != "missing" && imp.Level == 0 }
	tests := []struct {
		name     string
		old, new string
		want     string // "effects", "exports", "names:A,B", "whole" (not precise), joined by " "
	}{
		{"constant changed", "A = 1\nB = 2\n", "A = 1\nB = 3\n", "names:B"},
		{"unused constant added", "A = 1\n", "A = 1\nC = 3\n", "exports names:C"},
		{"private constant added", "A = 1\n", "A = 1\n_C = 3\n", "names:_C"},
		{"__all__ entry added", "__all__ = ['a']\ndef a(): pass\n", "__all__ = ['a', 'b']\ndef a(): pass\ndef b(): pass\n", "exports names:__all__"},
		{"__version__ changed", "__version__ = '1.0'\nx = f()\n", "__version__ = '1.1'\nx = f()\n", "names:__version__"},
		{"read by an effect", "A = 1\nx = f(A)\n", "A = 2\nx = f(A)\n", "effects names:A,x"},
		{"alias follows", "A = 1\nB = A\n", "A = 2\nB = A\n", "names:A,B"},
		{"moved across an effect", "A = 1\nf()\n", "f()\nA = 1\n", "names:A"},
		{"import added", "import os\nx = f()\n", "import os\nimport json\nx = f()\n", "exports names:json"},
		{"unresolved import added", "x = f()\n", "import missing\nx = f()\n", "effects exports names:missing,x"},
		{"relative import added", "x = f()\n", "from . import y\nx = f()\n", "effects exports names:x,y"},
		{"builtin shadowed", "A = 1\n", "A = 1\nlen = 2\n", "effects exports names:len"},
		{"read of an unbound name", "A = 1\n", "A = B\n", "effects names:A"},
		{"call result changed", "T = build()\n", "T = build(1)\n", "effects names:T"},
		{"def shadows a constant", "A = 1\n", "A = 1\ndef A(): pass\n", "effects names:A"},
		{"function body changed", "A = 1\ndef f():\n    return A\n", "A = 1\ndef f():\n    return A + 1\n", ""},
		// The names a star import binds are the engine's business (the
		// source's exports); what the module binds itself stays precise.
		{"star import", "from m import *\nA = 1\n", "from m import *\nA = 2\n", "exports names:A"},
		{"star import added", "A = 1\n", "from m import *\nA = 1\n", "effects exports names:A"},
		// A module's __getattr__ answers only names it does not bind (the
		// engine makes their lookups dependencies); a class's is whole
		// (TestDeriveClass).
		{"module __getattr__", "A = 1\ndef __getattr__(n): pass\n", "A = 2\ndef __getattr__(n): pass\n", "names:A"},
		{"globals at module level", "A = 1\nglobals()['B'] = 2\n", "A = 2\nglobals()['B'] = 2\n", "whole"},
		{"future import moved", "from __future__ import annotations\nA = 1\n", "A = 1\nfrom __future__ import annotations\n", "effects names:A"},
		{"docstring changed", "'''a'''\nA = 1\n", "'''b'''\nA = 1\n", "names:__doc__"}, {"typing-only import added", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\nx = f()\n", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\n    import json\nx = f()\n", ""},
		{"unresolved typing-only import", "import typing\nif typing.TYPE_CHECKING:\n    pass\n", "import typing\nif typing.TYPE_CHECKING:\n    import missing\n    from . import y\n", ""},
		{"typing-only block with an else", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\nelse:\n    os = None\n", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\nelse:\n    os = 0\n", "names:os"},
		{"a TYPE_CHECKING of the module's own", "TYPE_CHECKING = True\nif TYPE_CHECKING:\n    A = 1\n", "TYPE_CHECKING = True\nif TYPE_CHECKING:\n    A = 2\n", "names:A"},
		{"annotation changed", "def f(x: int) -> int:\n    pass\n", "def f(x: str) -> str:\n    pass\n", "effects"},
		{"annotation changed, lazy", "from __future__ import annotations\ndef f(x: int) -> int:\n    pass\n", "from __future__ import annotations\ndef f(x: str) -> str:\n    pass\n", "effects"},
		{"if typing: is true", "import typing\nif typing:\n    A = 1\n", "import typing\nif typing:\n    A = 2\n", "names:A"},
		{"version condition changed", "import sys\nif sys.version_info >= (3, 11):\n    A = 1\nelse:\n    A = 2\n", "import sys\nif sys.version_info >= (3, 12):\n    A = 1\nelse:\n    A = 2\n", "names:A"},
		{"condition on an unbound name", "if X:\n    A = 1\n", "if X:\n    A = 2\n", "effects names:A"},
		{"unresolved import in a branch", "import sys\nif sys.platform == 'win32':\n    A = 1\n", "import sys\nif sys.platform == 'win32':\n    import missing as A\n", "effects names:A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fo, fn := parse(t, tt.old), parse(t, tt.new)
			o, n := fo.Derive(resolves), fn.Derive(resolves)
			var got []string
			if !o.Precise || !n.Precise {
				got = append(got, "whole")
			} else {
				if o.Effects != n.Effects {
					got = append(got, "effects")
				}
				if o.Exports != n.Exports {
					got = append(got, "exports")
				}
				var names []string
				for _, k := range sortedKeys(o.Names, n.Names) {
					if o.Names[k] != n.Names[k] {
						names = append(names, k)
					}
				}
				if len(names) > 0 {
					got = append(got, "names:"+strings.Join(names, ","))
				}
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("got %q, want %q\nold %v\nnew %v", s, tt.want, stmtView(fo), stmtView(fn))
			}
		})
	}
}

func sortedKeys(ms ...map[string]uint64) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestDeriveClass checks the statement view of class bodies: a literal
// attribute is a dependency of its readers; anything else, a new name, a
// decorator or a base class keeps the whole class.
func TestDeriveClass(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string // as in TestDerive, for the class named C
	}{
		{"attribute changed", "class C:\n    fee = 1\n    def f(self):\n        return self.fee\n", "class C:\n    fee = 2\n    def f(self):\n        return self.fee\n", "names:fee"},
		{"method body changed", "class C:\n    fee = 1\n    def f(self):\n        return 1\n", "class C:\n    fee = 1\n    def f(self):\n        return 2\n", ""},
		{"attribute added", "class C:\n    fee = 1\n", "class C:\n    fee = 1\n    tax = 2\n", "effects names:tax"},
		{"method added", "class C:\n    fee = 1\n", "class C:\n    fee = 1\n    def g(self):\n        pass\n", "effects"},
		// A literal default is the method's own business (its block);
		// what the class body evaluates when it runs the def is not.
		{"literal default added", "class C:\n    def g(self):\n        pass\n", "class C:\n    def g(self, x=1):\n        pass\n", ""},
		{"computed default added", "class C:\n    def g(self):\n        pass\n", "class C:\n    def g(self, x=f()):\n        pass\n", "effects"},
		{"annotation changed", "class C:\n    def g(self, x: int):\n        pass\n", "class C:\n    def g(self, x: str):\n        pass\n", "effects"},
		{"return annotation changed", "class C:\n    def g(self) -> int:\n        pass\n", "class C:\n    def g(self) -> str:\n        pass\n", "effects"},
		{"annotation changed, lazy", "from __future__ import annotations\nclass C:\n    def g(self, x: int) -> int:\n        pass\n", "from __future__ import annotations\nclass C:\n    def g(self, x: str) -> str:\n        pass\n", ""},
		{"call", "class C:\n    fee = f()\n", "class C:\n    fee = f(1)\n", "effects names:fee"},
		{"decorated", "@d\nclass C:\n    fee = 1\n", "@d\nclass C:\n    fee = 2\n", "whole"},
		{"base class", "class C(B):\n    fee = 1\n", "class C(B):\n    fee = 2\n", "whole"},
		{"object base", "class C(object):\n    fee = 1\n", "class C(object):\n    fee = 2\n", "names:fee"},
		{"slots", "class C:\n    __slots__ = ()\n    fee = 1\n", "class C:\n    __slots__ = ()\n    fee = 2\n", "whole"},
		{"annotated", "class C:\n    fee: int = 1\n", "class C:\n    fee: int = 2\n", "effects names:fee"},
		{"nested class", "def f():\n    class C:\n        fee = 1\n", "def f():\n    class C:\n        fee = 2\n", "names:fee"},
		{"__getattr__", "class C:\n    fee = 1\n    def __getattr__(self, n):\n        pass\n", "class C:\n    fee = 2\n    def __getattr__(self, n):\n        pass\n", "whole"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fo, fn := parse(t, tt.old), parse(t, tt.new)
			view := func(f File) TopLevel {
				for _, c := range f.Classes {
					if n := f.Blocks[c.Block].Name; n == "C" || strings.HasSuffix(n, ".C") {
						return f.DeriveClass(c, false)
					}
				}
				t.Fatal("no class C")
				return TopLevel{}
			}
			o, n := view(fo), view(fn)
			var got []string
			if !o.Precise || !n.Precise {
				got = append(got, "whole")
			} else {
				if o.Effects != n.Effects {
					got = append(got, "effects")
				}
				var names []string
				for _, k := range sortedKeys(o.Names, n.Names) {
					if o.Names[k] != n.Names[k] {
						names = append(names, k)
					}
				}
				if len(names) > 0 {
					got = append(got, "names:"+strings.Join(names, ","))
				}
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestAnyModule(t *testing.T) {
	// A module got back by a name the code computes may be any module
	// imported so far; by a literal name, it is that module.
	tests := []struct {
		src  string
		want bool
	}{
		{"import importlib\nm = importlib.import_module('calc.' + name)\n", true},
		{"import importlib\nm = importlib.import_module(name, package=__package__)\n", true},
		{"import importlib\nm = importlib.import_module('calc.ops')\n", false},
		{"from importlib import import_module\nm = import_module(name)\n", true},
		{"from importlib import import_module\nm = import_module('calc.ops')\n", false},
		{"m = __import__(name)\n", true},
		{"m = __import__(cls.__module__)\n", false},
		{"m = __import__('calc.ops', fromlist=['x'])\n", false},
		{"loader = importlib.import_module\n", true},
		{"import sys\nm = sys.modules[cls.__module__]\n", false},
		{"import sys\nm = sys.modules[self.cls.__module__].__dict__\n", false},
		{"import sys\nm = sys.modules[type(o).__module__]\n", true},
		{"import sys\nm = sys.modules[key]\n", true},
		{"from sys import modules\nm = modules[key]\n", true},
		{"m = self.modules[key]\n", false},
		{"import sys\nm = sys.modules.get(f'calc.{name}')\n", true},
		{"import sys\nm = sys.modules.get('calc.ops')\n", false},
		{"import sys\nthis = sys.modules[__name__]\n", false},
		{"import sys\nthis = sys.modules [ \"calc.ops\" ]\n", false},
		{"import sys\nfor m in list(sys.modules.values()):\n    pass\n", true},
		{"import sys\nloaded = 'numpy' in sys.modules\n", false},
		{"import sys\nsys.modules.pop(name, None)\n", false},
		{"from pkgutil import resolve_name\nv = resolve_name(spec)\n", true},
		{"import importlib.metadata\nv = importlib.metadata.version('x')\n", false},
		{"x = getattr(mod, name)\n", false},
		{"eval(compile(script, filename, 'exec'), globs)\n", true},
		{"exec(f'from calc.{name} import LIMIT', ns)\n", true},
		{"exec('x = 1', ns)\n", false},
		{"exec('from calc import rates; x = rates.RATE', ns)\n", true},
		{"v = eval('1 + 2')\n", false},
		{"v = df.eval(expr)\n", false},
		{"import builtins\nv = builtins.eval(expr)\n", true},
	}
	p := NewParser()
	defer p.Close()
	for _, tt := range tests {
		f := p.Parse([]byte(tt.src))
		if !f.Parsed {
			t.Fatalf("%q did not parse", tt.src)
		}
		if got := f.AnyModule(0); got != tt.want {
			t.Errorf("AnyModule(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestDynamicAccess(t *testing.T) {
	// Each kind of dynamic access is read at the module's top level
	// (block 0): module-wide (Dynamic), on a name or chain the engine
	// decides (DynamicTargets), on some object (ObjectDynamic), a caught
	// AttributeError/NameError (Catches), and the probes and chains.
	const (
		dyn = 1 << iota
		obj
		catch
	)
	tests := []struct {
		name    string
		src     string
		flags   int
		targets []string // getattr & co. first arguments, decided by the engine
		paths   []string // strings that read as module paths
		probes  []string
		chains  []string
	}{
		{"a parameter named like a builtin", "def f(x: int, locals: dict = None, *, vars=None):\n    return x\n", 0, nil, nil, nil, nil},
		{"a builtin as a parameter's default", "def f(x: int, getattr=getattr):\n    return x\n", dyn, nil, nil, nil, nil},
		{"getattr with a literal name", "import math\nx = getattr(math, 'sumprod', None)\n", 0, nil, nil, []string{"math\x00sumprod"}, nil},
		{"hasattr with a literal name", "ok = hasattr(obj, '__reversed__')\n", 0, nil, nil, []string{"obj\x00__reversed__"}, nil},
		{"getattr on an expression, literal name", "x = getattr(a.b, 'c')\n", 0, nil, nil, []string{"a.b\x00c"}, nil},
		{"getattr on a call, literal name", "x = getattr(f(), 'c')\n", 0, nil, nil, nil, nil},
		{"getattr with a computed name on a name", "x = getattr(mod, name)\n", 0, []string{"mod"}, nil, nil, nil},
		{"getattr with a computed name on a chain", "x = getattr(a . b, name)\n", 0, []string{"a.b"}, nil, nil, nil},
		{"getattr with a computed name on a call", "x = getattr(a.b(), name)\n", obj, nil, nil, nil, nil},
		{"getattr with a computed name on a subscript", "x = getattr(a[0], name)\n", obj, nil, nil, nil, nil},
		{"getattr with an f-string name", "x = getattr(mod, f'get_{n}')\n", 0, []string{"mod"}, nil, nil, nil},
		{"getattr of unpacked arguments", "x = getattr(*args)\n", dyn, nil, nil, nil, nil},
		{"getattr passed on", "g = getattr\n", dyn, nil, nil, nil, nil},
		{"dir of a name", "x = dir(cls)\n", 0, []string{"cls"}, nil, nil, nil},
		{"vars of a chain", "x = vars(pkg.mod)\n", 0, []string{"pkg.mod"}, nil, nil, nil},
		{"vars of a call", "x = vars(f())\n", obj, nil, nil, nil, nil},
		{"dir of nothing", "x = dir()\n", dyn, nil, nil, nil, nil},
		{"vars of nothing", "def f():\n    pass\nx = vars( )\n", dyn, nil, nil, nil, nil},
		{"__dict__ of a name", "x = parent.__dict__[k]\n", 0, []string{"parent"}, nil, nil, []string{"parent.__dict__"}},
		{"__dict__ of a chain", "x = a.b.__dict__\n", 0, []string{"a.b"}, nil, nil, []string{"a.b.__dict__"}},
		{"__dict__ of a call", "x = type(o).__dict__\n", obj, nil, nil, nil, nil},
		{"__dict__ alone", "__dict__ = 1\n", dyn, nil, nil, nil, nil},
		{"globals", "x = globals()\n", dyn, nil, nil, nil, nil},
		{"a function's globals", "x = f.__globals__\n", dyn, nil, nil, nil, []string{"f.__globals__"}},
		{"a frame's globals", "x = sys._getframe(1).f_globals\n", dyn, nil, nil, nil, nil},
		{"getmodule", "x = inspect.getmodule(o)\n", dyn, nil, nil, nil, nil},
		{"module __getattr__ defined", "def __getattr__(name):\n    raise AttributeError(name)\n", 0, nil, nil, nil, nil},
		{"module __getattr__ assigned", "__getattr__ = make()\n", 0, nil, nil, nil, nil},
		{"__getattr__ read", "x = super().__getattr__\n", dyn, nil, nil, nil, nil},
		{"subclassing AttributeError", "class E(AttributeError):\n    pass\n", 0, nil, nil, nil, nil},
		{"raising NameError", "def f():\n    raise NameError('x')\n", 0, nil, nil, nil, nil},
		{"catching ImportError", "try:\n    import fast\nexcept ImportError:\n    fast = None\n", 0, nil, nil, nil, nil},
		{"catching NameError", "try:\n    x = y\nexcept NameError:\n    x = None\n", catch, nil, nil, nil, nil},
		{"catching in a tuple", "try:\n    x = m.y\nexcept (KeyError, AttributeError):\n    x = None\n", catch, nil, nil, nil, []string{"m.y"}},
		{"catching Exception", "try:\n    x = m.y\nexcept Exception:\n    x = None\n", catch, nil, nil, nil, []string{"m.y"}},
		{"bare except", "try:\n    x = m.y\nexcept  :\n    x = None\n", catch, nil, nil, nil, []string{"m.y"}},
		{"suppress", "with contextlib.suppress(KeyError):\n    x = m.y\n", catch, nil, nil, nil, []string{"m.y"}},
		{"subclassing Exception", "class E(Exception):\n    pass\n", 0, nil, nil, nil, nil},
		{"raising in an except body", "try:\n    x = 1\nexcept KeyError:\n    raise AttributeError('x')\n", 0, nil, nil, nil, nil},
		{"module paths", "a = 'pkg.mod:NAME'\nb = 'pkg.mod.NAME'\nc = 'plain words'\nd = 'x'\n", 0, nil, []string{"pkg.mod:NAME", "pkg.mod.NAME"}, nil, nil},
		{"module paths after a scheme or a name", "a = 'ext://pkg.mod.LEVEL'\nb = ' tool = pkg.cli:main '\nc = 'see pkg.mod for more'\nd = 'https://example.com/x'\n", 0, nil, []string{"pkg.mod.LEVEL", "pkg.cli:main"}, nil, nil},
		{"non-ASCII module paths", "a = 'ext://ñandú.config.NIVEL'\nb = 'app.señal:main'\n", 0, nil, []string{"ñandú.config.NIVEL", "app.señal:main"}, nil, nil},
		{"format field reading an attribute", "x = '{0.fee} {a.rate:>8}'.format(a)\n", obj, nil, nil, nil, nil},
		{"format fields without attributes", "x = '{0} {name!r} {:>8} {0[1]} a.b'\n", 0, nil, nil, nil, nil},
		{"a template string", "t = Template('Fee: {{ a[\"fee\"] }}')\n", obj, nil, nil, nil, nil},
		{"attrgetter", "from operator import attrgetter\nget = attrgetter('fee')\n", obj, nil, nil, nil, nil},
		{"importing attrgetter", "from operator import attrgetter\n", 0, nil, nil, nil, nil},
		{"__import__ of a literal name", "f = __import__('concurrent.futures').futures\n", 0, nil, []string{"concurrent.futures"}, nil, nil},
		{"import_module of a literal name", "m = import_module('helpers')\n", 0, nil, []string{"helpers"}, nil, nil},
		{"__import__ of a computed name", "m = __import__(name)\n", dyn, nil, nil, nil, nil},
		{"__import__ with no argument", "m = __import__()\n", dyn, nil, nil, nil, nil},
		{"__import__ as a value", "f = __import__\n", dyn, nil, nil, nil, nil},
		{"importlib.import_module", "m = importlib.import_module('helpers')\n", dyn, nil, nil, nil, nil},
		{"chains as values", "f(pkg.sub)\nx = a.b.c\ny = p.q.r()\nz = s.t.u.v\nw = [m.n]\n", 0, nil, nil, nil, []string{"a.b.c", "m.n", "pkg.sub", "s.t.u.v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			if got := f.Dynamic(0); got != (tt.flags&dyn != 0) {
				t.Errorf("Dynamic(0) = %v, want %v", got, !got)
			}
			if got := f.ObjectDynamic(0); got != (tt.flags&obj != 0) {
				t.Errorf("ObjectDynamic(0) = %v, want %v", got, !got)
			}
			if got := f.Catches(0); got != (tt.flags&catch != 0) {
				t.Errorf("Catches(0) = %v, want %v", got, !got)
			}
			if got := f.DynamicTargets(0); !slices.Equal(got, tt.targets) {
				t.Errorf("DynamicTargets(0) = %q, want %q", got, tt.targets)
			}
			if got := f.ModulePaths(0); !slices.Equal(got, tt.paths) {
				t.Errorf("ModulePaths(0) = %q, want %q", got, tt.paths)
			}
			if got := f.Probes(0); !slices.Equal(got, tt.probes) {
				t.Errorf("Probes(0) = %q, want %q", got, tt.probes)
			}
			if got := f.Chains(0); !slices.Equal(got, tt.chains) {
				t.Errorf("Chains(0) = %q, want %q", got, tt.chains)
			}
		})
	}
}

func TestLocals(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"assignment and loop", "def f(x):\n    a = 1\n    b, (c, *d) = x\n    for e in x:\n        pass\n    g += 1\n    h.i = 2\n    j[0] = 3\n", []string{"a", "b", "c", "e", "g", "x"}}, // *d: missed, which is safe
		{"comprehension", "def f(x):\n    return [getattr(base, 'y') for base in x]\n", []string{"base", "x"}},
		{"comprehension name also read outside", "def f(x):\n    y = [b for base in x]\n    return base\n", []string{"x", "y"}},
		{"module level", "a = 1\nfor b in c:\n    pass\n", nil},
		{"name of one comprehension read in another", "def f(x):\n    y = [1 for base in x]\n    return [getattr(base, n) for n in x]\n", []string{"n", "x", "y"}},
		{"nested comprehension reading it", "def f(x):\n    return [[base for m in base] for base in x]\n", []string{"m", "x"}},
		{"parameters", "def f(a, b=1, *c, d: int = 2, **e):\n    return lambda g: g\n", []string{"a", "b", "c", "d", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			i := len(f.Blocks) - 2 // the last block before "<defs>"
			if got := f.Locals(i); !slices.Equal(got, tt.want) {
				t.Errorf("Locals(%d) = %q, want %q", i, got, tt.want)
			}
		})
	}
}

// moduleCase is a source and what an accessor of its top level (block 0)
// gives.
type moduleCase struct {
	src  string
	want []string
}

// checkModule runs table tests of one accessor of a module's top level.
func checkModule(t *testing.T, name string, get func(*File) []string, tests []moduleCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			f := parse(t, tt.src)
			if got := get(&f); !slices.Equal(got, tt.want) {
				t.Errorf("%s(0) = %q, want %q", name, got, tt.want)
			}
		})
	}
}

func TestBare(t *testing.T) {
	// What code hands over as values: not assignment targets, parameter
	// names, keyword names or attribute objects.
	checkModule(t, "Bare", func(f *File) []string { return f.Bare(0) }, []moduleCase{
		{"x = ops\n", []string{"ops"}},
		{"for m in (a, b):\n    pass\n", []string{"a", "b"}},
		{"f(validate=v, key=k.attr)\n", []string{"f", "v"}},
		{"y: int = mod.X\n", []string{"int"}},
		{"f(ops=ops)\n", []string{"f", "ops"}},
		{"def g(ops):\n    return ops\n", nil},
		{"match a:\n    case A(fee=1):\n        pass\n", []string{"A", "a"}},
	})
}

func TestAttrs(t *testing.T) {
	// Names read as attributes: after a dot, and a class pattern's keywords.
	checkModule(t, "Attrs", func(f *File) []string { return f.Attrs(0) }, []moduleCase{
		{"x = mod.X\n", []string{"X"}},
		{"match a:\n    case A(fee=1, rate=r):\n        pass\n", []string{"fee", "rate"}},
	})
}

func TestLookups(t *testing.T) {
	// Attributes looked up on a plain name or a dotted chain, at every
	// step of the chain; not on a call's result or a subscript, and not in
	// import statements.
	checkModule(t, "Lookups", func(f *File) []string { return f.Lookups(0) }, []moduleCase{
		{"x = mod.X\n", []string{"mod\x00X"}},
		{"x = pkg.sub.f(1).y\n", []string{"pkg\x00sub", "pkg.sub\x00f"}},
		{"x = pkg . sub.Z\n", []string{"pkg\x00sub", "pkg.sub\x00Z"}},
		{"x = g().h + a[1].q\n", nil},
		{"import a.b\nfrom c.d import e\n", nil},
		{"mod.X = 1\n", []string{"mod\x00X"}},
		{"def f(self):\n    return self.x\n", nil}, // the method's lookups are its own
	})
}

func TestImportsReadNothing(t *testing.T) {
	// An import statement binds names; what it names is the import graph's
	// and the engine's from-import sources'. A compound statement holding
	// one reads what else it holds.
	checkModule(t, "Idents", func(f *File) []string { return f.Idents(0) }, []moduleCase{
		{"from calc.consts import LIMIT, RATE as FACTOR\nimport os.path as p\nfrom m import *\n", nil},
		{"try:\n    from m import A\nexcept ImportError:\n    A = fallback(Y)\n", []string{"A", "ImportError", "Y", "fallback", "m"}},
	})
}

func TestExportNames(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // nil: unknown
	}{
		{"literal __all__", "__all__ = ['b', \"a\",\n    'c',  # why\n]\nb = 1\n", nil},
		{"literal __all__ plain", "__all__ = [\n    'b',\n    \"a\",\n]\nb = 1\n", []string{"a", "b"}},
		{"tuple", "__all__ = ('x',)\n", []string{"x"}},
		{"empty", "__all__ = []\n", []string{}},
		{"extended", "__all__ = ['a']\n__all__ += ['b']\n", nil},
		{"extend call", "__all__ = ['a']\n__all__.extend(['b'])\n", nil},
		{"computed", "__all__ = [n for n in dir()]\n", nil},
		{"changed in a function", "__all__ = ['a']\ndef f():\n    __all__.append('b')\n", nil},
		{"no __all__", "import os\nx = 1\n_y = 2\ndef f():\n    pass\nclass C:\n    pass\n", []string{"C", "f", "os", "x"}},
		{"no __all__, a star import", "from m import *\nx = 1\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			got := f.Derive(func(Import) bool { return true }).ExportNames
			if (got == nil) != (tt.want == nil) || !slices.Equal(got, tt.want) {
				t.Errorf("ExportNames = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFeedsAndEffectReads(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		feeds       string // "NAME<-READS" sorted by name, joined by " "
		effectReads string
	}{
		{"assignments", "from m import P\nA = 1\nT = (P, A)\nB = T\n", "B<-T T<-A,P", ""},
		{"condition", "from m import P\nif P:\n    U = 1\nelse:\n    from n import U\n", "U<-P", ""},
		{"effects", "from m import P\nX = f(P)\nY = Z\nclass C(P): pass\n", "", "P,Z,f"},
		{"imports read nothing", "import a.b as c\nfrom m import x\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			top := f.Derive(func(Import) bool { return true })
			var feeds []string
			for _, n := range slices.Sorted(maps.Keys(top.Feeds)) {
				r := slices.Clone(top.Feeds[n])
				slices.Sort(r)
				feeds = append(feeds, n+"<-"+strings.Join(slices.Compact(r), ","))
			}
			if got := strings.Join(feeds, " "); got != tt.feeds {
				t.Errorf("feeds %q, want %q", got, tt.feeds)
			}
			if got := strings.Join(top.EffectReads, ","); got != tt.effectReads {
				t.Errorf("effect reads %q, want %q", got, tt.effectReads)
			}
		})
	}
}

func TestBaseNames(t *testing.T) {
	tests := []struct {
		list string
		want string // "" with ok false: "opaque"
	}{
		{"(Field)", "Field"},
		{"(Field,typing.Generic[_NumType])", "Field typing.Generic"},
		{"(Number[int])", "Number"},
		{"(object)", ""},
		{"(A,B,)", "A B"},
		{"(Base,metaclass=Meta)", "opaque"},
		{"(*bases)", "opaque"},
		{"(make_base())", "opaque"},
		{"(NamedTuple('P',[]))", "opaque"},
		{"(a[0].B)", "opaque"},
	}
	for _, tt := range tests {
		got, ok := baseNames(tt.list)
		s := strings.Join(got, " ")
		if !ok {
			s = "opaque"
		}
		if s != tt.want {
			t.Errorf("baseNames(%q) = %q, want %q", tt.list, s, tt.want)
		}
	}
}

func TestStringNames(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"one name", "x = getattr_static(a, 'fee')\n", []string{"fee"}},
		{"a list of names", "P = namedtuple('P', 'x y')\nQ = ('fee', 'balance,rate')\n", []string{"P", "x", "y", "fee", "balance", "rate"}},
		{"a dotted path", "p = 'calc.ops.RATE'\n", []string{"calc", "ops", "RATE"}},
		{"non-ASCII names", "x = getattr_static(a, 'tarifa_año')\nQ = ('ñ, é1')\n", []string{"tarifa_año", "ñ", "é1"}},
		{"text is no list", "m = 'must be positive!'\nn = 'Return the fee.'\no = '{0.fee}'\n", nil},
		{"too long", "x = '" + strings.Repeat("word ", 60) + "'\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.src)
			if got := f.StringNames(0); !slices.Equal(got, tt.want) {
				t.Errorf("StringNames(0) = %q, want %q", got, tt.want)
			}
		})
	}
}
