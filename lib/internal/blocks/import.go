package blocks

import (
	"bytes"
	"strings"
)

// Import is one import statement's target, as written.
//
//	import a.b.c          -> {Module: "a.b.c"}
//	from a.b import c, d  -> {Module: "a.b", Names: ["c", "d"]}
//	from . import x       -> {Level: 1, Names: ["x"]}
//	from ..p import *     -> {Level: 2, Module: "p", Names: ["*"]}
//
// Every import in the file counts, including those under `if
// TYPE_CHECKING:` and in try blocks: over-approximating only selects more.
// An import inside a function runs only when the function does, so it is
// charged to the tests that ran that function (Scope), not to every test
// whose file imports this one.
type Import struct {
	Module string
	Level  int // leading dots of a relative import
	Names  []string
	// Scope is the qualified name of the innermost function the import is
	// in (a class body inside a function counts as that function); "" at
	// module or class level.
	Scope string
}

// importer reads the import statements out of the splitter's event stream.
// Statements never nest, so one statement is read at a time; which node a
// frame stands for is kept in frame.imp, set by enter from the parent's.
type importer struct {
	imports []Import
	scopes  []int32 // per import: the enclosing block (0: module)
	scope   int32   // the enclosing block of the statement being entered
	stmt    impKind // the statement being read: impStmt or impFrom
	cur     Import  // the from-import being read
	dotted  []byte  // the dotted name being read
	// stmtScope is the enclosing block of the statement being read.
	stmtScope int32
	// alias holds the "as" names: of import i ({i, -1}) or of name j of
	// from-import i ({i, j}).
	alias map[aliasKey]string
}

type aliasKey struct{ imp, name int }

// enter returns the import kind of a node of kind k (not impNone) entered
// under parent through field: impNone outside the parts of import statements
// that matter.
func (im *importer) enter(g *grammar, parent *frame, k impKind, field uint16) impKind {
	switch k {
	case impStmt, impFrom:
		im.stmt, im.cur = k, Import{}
		im.stmtScope = im.scope
		return k
	case impAliased:
		if parent.imp == impStmt || parent.imp == impFrom {
			return k
		}
	case impRelative:
		if parent.imp == impFrom && field == g.fieldModule {
			return k
		}
	case impPrefix:
		if parent.imp == impRelative {
			return k
		}
	case impWildcard:
		if parent.imp == impFrom {
			im.cur.Names = append(im.cur.Names, "*")
		}
	case impDotted:
		switch {
		case parent.imp == impRelative, parent.imp == impFrom && field == g.fieldModule:
			im.dotted = im.dotted[:0]
			return impModuleName
		case field == g.fieldName && (parent.imp == impStmt || parent.imp == impFrom || parent.imp == impAliased):
			// The name, not the alias: "import a.b as c" imports a.b.
			im.dotted = im.dotted[:0]
			return impImportedName
		}
	}
	return impNone
}

// leaf takes in the text of a token under parent (comments and line
// continuations aside).
func (im *importer) leaf(parent *frame, text []byte) {
	switch parent.imp {
	case impModuleName, impImportedName:
		// The identifiers of a dotted name, which may have layout around
		// its dots: "a . b" is "a.b".
		if string(text) != "." {
			if len(im.dotted) > 0 {
				im.dotted = append(im.dotted, '.')
			}
			im.dotted = append(im.dotted, text...)
		}
	case impPrefix:
		im.cur.Level += bytes.Count(text, []byte{'.'})
	case impAliased:
		if string(text) == "as" {
			return
		}
		if im.alias == nil {
			im.alias = map[aliasKey]string{}
		}
		if im.stmt == impStmt {
			im.alias[aliasKey{len(im.imports) - 1, -1}] = string(text)
		} else {
			im.alias[aliasKey{len(im.imports), len(im.cur.Names) - 1}] = string(text)
		}
	}
}

// leave finishes the node of frame f.
func (im *importer) leave(f *frame) {
	switch f.imp {
	case impModuleName:
		im.cur.Module = string(im.dotted)
	case impImportedName:
		if im.stmt == impStmt {
			im.imports = append(im.imports, Import{Module: string(im.dotted)})
			im.scopes = append(im.scopes, im.stmtScope)
		} else {
			im.cur.Names = append(im.cur.Names, string(im.dotted))
		}
	case impFrom:
		im.imports = append(im.imports, im.cur)
		im.scopes = append(im.scopes, im.stmtScope)
		im.cur = Import{}
	}
}

// binds returns the names import i binds: for "import a.b" a, for
// "import a.b as c" c, for a from-import each name or its alias.
func (im *importer) binds(i int, imp Import) []string {
	if len(imp.Names) == 0 {
		if a := im.alias[aliasKey{i, -1}]; a != "" {
			return []string{a}
		}
		first, _, _ := strings.Cut(imp.Module, ".")
		return []string{first}
	}
	out := make([]string, len(imp.Names))
	for j, n := range imp.Names {
		out[j] = n
		if a := im.alias[aliasKey{i, j}]; a != "" {
			out[j] = a
		}
	}
	return out
}

// scoped sets each import's Scope from the blocks it was found in.
func (im *importer) scoped(blocks []Block) []Import {
	for i := range im.imports {
		sc := im.scopes[i]
		if sc <= 0 || int(sc) >= len(blocks) {
			continue
		}
		switch b := blocks[sc]; b.Kind {
		case Function:
			im.imports[i].Scope = b.Name
		case Class:
			// A class body runs when its enclosing function does.
			if j := strings.LastIndex(b.Name, ".<locals>."); j >= 0 {
				im.imports[i].Scope = b.Name[:j]
			}
		}
	}
	return im.imports
}
