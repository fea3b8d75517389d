package blocks

// The tree-sitter runtime and the Python grammar are compiled and linked by
// the go-tree-sitter packages imported below; this file calls their C API
// directly instead of going through go-tree-sitter's Go wrappers, because
// those allocate a Go object and a map entry for every node they hand out
// (about 1.5 GB and 17 s for a 20 MB file) and cannot be told to stop.
// Here one C call streams a chunk of enter/leaf/leave events into a Go
// buffer, so a walk costs a few cgo calls per few thousand nodes.
//
// The declarations are copied from api.h of
// github.com/smacker/go-tree-sitter v0.0.0-20240827094217-dd81d9e9be82
// (tree-sitter ABI 14); check them again when upgrading that module:
// TSTreeCursor in particular has changed size between releases.

/*
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef uint16_t TSSymbol;
typedef uint16_t TSFieldId;
typedef struct TSLanguage TSLanguage;
typedef struct TSParser TSParser;
typedef struct TSTree TSTree;
typedef struct TSNode {
  uint32_t context[4];
  const void *id;
  const TSTree *tree;
} TSNode;
typedef struct TSTreeCursor {
  const void *tree;
  const void *id;
  uint32_t context[3];
} TSTreeCursor;

TSParser *ts_parser_new(void);
void ts_parser_delete(TSParser *self);
bool ts_parser_set_language(TSParser *self, const TSLanguage *language);
TSTree *ts_parser_parse_string(TSParser *self, const TSTree *old_tree, const char *string, uint32_t length);
void ts_tree_delete(TSTree *self);
TSNode ts_tree_root_node(const TSTree *self);
TSSymbol ts_node_symbol(TSNode self);
uint32_t ts_node_start_byte(TSNode self);
uint32_t ts_node_end_byte(TSNode self);
bool ts_node_has_error(TSNode self);
TSTreeCursor ts_tree_cursor_new(TSNode node);
void ts_tree_cursor_delete(TSTreeCursor *self);
TSNode ts_tree_cursor_current_node(const TSTreeCursor *self);
TSFieldId ts_tree_cursor_current_field_id(const TSTreeCursor *self);
bool ts_tree_cursor_goto_parent(TSTreeCursor *self);
bool ts_tree_cursor_goto_next_sibling(TSTreeCursor *self);
bool ts_tree_cursor_goto_first_child(TSTreeCursor *self);
uint32_t ts_language_symbol_count(const TSLanguage *self);
const char *ts_language_symbol_name(const TSLanguage *self, TSSymbol symbol);
int ts_language_symbol_type(const TSLanguage *self, TSSymbol symbol);
TSFieldId ts_language_field_id_for_name(const TSLanguage *self, const char *name, uint32_t name_length);

const TSLanguage *tree_sitter_python(void);

enum { evEnter = 1, evLeaf = 2, evLeave = 3 };

typedef struct {
  uint32_t start, end;
  TSSymbol sym;
  TSFieldId field;
  uint8_t kind;
} event;

// state: 0 = report the current node, 1 = move past it, 2 = done. The
// root itself is not reported: the caller stands in for it, so that a file
// parsed in pieces yields the same events as parsed at once.
typedef struct {
  TSTreeCursor cur;
  uint32_t depth;
  int state;
} walker;

static void walker_init(walker *w, TSTree *t) {
  w->cur = ts_tree_cursor_new(ts_tree_root_node(t));
  w->depth = 1;
  w->state = ts_tree_cursor_goto_first_child(&w->cur) ? 0 : 2;
}

static void walker_free(walker *w) { ts_tree_cursor_delete(&w->cur); }

static bool tree_has_error(TSTree *t) { return ts_node_has_error(ts_tree_root_node(t)); }

// walker_next fills out with up to n events in document order and returns
// how many it wrote (0 at the end). Every evEnter is matched by an evLeave.
static int walker_next(walker *w, event *out, int n) {
  int k = 0;
  while (k < n && w->state != 2) {
    if (w->state == 0) {
      TSNode nd = ts_tree_cursor_current_node(&w->cur);
      event *e = &out[k++];
      e->start = ts_node_start_byte(nd);
      e->end = ts_node_end_byte(nd);
      e->sym = ts_node_symbol(nd);
      e->field = ts_tree_cursor_current_field_id(&w->cur);
      if (ts_tree_cursor_goto_first_child(&w->cur)) {
        e->kind = evEnter;
        w->depth++;
      } else {
        e->kind = evLeaf;
        w->state = 1;
      }
    } else if (ts_tree_cursor_goto_next_sibling(&w->cur)) {
      w->state = 0;
    } else if (w->depth > 1 && ts_tree_cursor_goto_parent(&w->cur)) {
      w->depth--;
      event *e = &out[k++];
      e->start = e->end = 0;
      e->sym = e->field = 0;
      e->kind = evLeave;
    } else {
      w->state = 2;
    }
  }
  return k;
}
*/
import "C"

import (
	"sync"
	"unsafe"

	_ "github.com/smacker/go-tree-sitter"        // links the tree-sitter runtime
	_ "github.com/smacker/go-tree-sitter/python" // links tree_sitter_python
)

const (
	evEnter uint8 = C.evEnter
	evLeaf  uint8 = C.evLeaf
	evLeave uint8 = C.evLeave
)

// event is one step of a depth-first walk: a node with children is
// reported by evEnter ... evLeave around its children, a node without by
// evLeaf. Field is the node's field id in its parent (0: none).
type event struct {
	start, end uint32 // byte offsets, end exclusive; 0 for evLeave
	sym, field uint16
	kind       uint8
}

// role says how a node type takes part in block splitting and hashing.
type role uint8

const (
	roleNone role = iota
	roleFunc
	roleClass
	roleDecorated
	roleSkip     // comments and line continuations: layout, not syntax
	roleVerbatim // string contents: the text between children is data
	roleBlock    // a statement block, which Python never allows to be empty
	// An f-string replacement field: its whitespace is layout unless it
	// has a "=" specifier, which prints the expression's text as written.
	roleInterp
)

// impKind says how a node type takes part in reading import statements
// (see importer in import.go).
type impKind uint8

const (
	impNone     impKind = iota
	impStmt             // import_statement: "import a.b, c as d"
	impFrom             // import_from_statement: "from m import a, b as c"
	impAliased          // aliased_import: "a as b"
	impRelative         // relative_import: ".", "..m"
	impPrefix           // import_prefix: the dots of a relative import
	impDotted           // dotted_name: "a.b.c"
	impWildcard         // wildcard_import: "*"
	// Kinds only frames have: what the dotted_name being read stands for.
	impModuleName   // the module of a from-import
	impImportedName // a module of a plain import, a name of a from-import
)

// grammar is the per-process view of the Python grammar: the role of each
// symbol, its part in import statements, and the field ids the splitter
// needs.
type grammar struct {
	roles                             []role
	imps                              []impKind
	params                            []paramKind
	idents                            []bool // identifier tokens
	vks                               []valueKind
	fieldName, fieldBody, fieldModule uint16
	// Fields the statement analysis (stmts.go) reads.
	fieldLeft, fieldRight, fieldType, fieldKey, fieldValue, fieldAlias, fieldSuperclasses uint16
	// The parts of a def header that Python evaluates when it runs the
	// def: defaults and annotations (fieldValue and fieldType too).
	fieldParameters, fieldReturnType uint16
	fieldAttribute                   uint16 // the name after "."
	fieldObject                      uint16 // the object before "."
	// Dynamic access (stmts.go): which calls and except clauses are which.
	fieldFunction, fieldArguments uint16
	calls, excepts                []bool
	// Local names (stmts.go): the nodes whose "left" binds names (binders)
	// and the patterns that pass a binding on to their elements.
	binders, patterns, comprehensions []bool
	keywords                          []bool // keyword_argument: f(name=value)
	kwPatterns                        []bool // keyword_pattern: case C(name=pattern)
}

// paramKind says how a node type takes part in a def's signature.
type paramKind uint8

const (
	paramNone    paramKind = iota
	paramDefault           // a parameter with a default, maybe annotated
	paramTyped             // an annotated parameter without a default
	// Literals: a default that cannot fail and computes nothing.
	paramLiteral
	paramString // a literal, unless an f-string
	paramSigned // a unary operator: a literal when applied to a number
)

var pythonGrammar = sync.OnceValue(func() *grammar {
	lang := C.tree_sitter_python()
	g := &grammar{}
	n := int(C.ts_language_symbol_count(lang))
	g.roles = make([]role, n)
	g.imps = make([]impKind, n)
	g.params = make([]paramKind, n)
	g.idents = make([]bool, n)
	g.vks = make([]valueKind, n)
	g.calls = make([]bool, n)
	g.excepts = make([]bool, n)
	g.binders = make([]bool, n)
	g.patterns = make([]bool, n)
	g.comprehensions = make([]bool, n)
	g.keywords = make([]bool, n)
	g.kwPatterns = make([]bool, n)
	for i := range n {
		name := C.GoString(C.ts_language_symbol_name(lang, C.TSSymbol(i)))
		// Type 0 is a named node, 2 an anonymous token (punctuation,
		// keywords), 1 a hidden auxiliary node.
		g.vks[i] = valueKindOf(name, int(C.ts_language_symbol_type(lang, C.TSSymbol(i))) != 0)
		switch name {
		case "import_statement":
			g.imps[i] = impStmt
		case "import_from_statement":
			// "from __future__ import x" is a future_import_statement,
			// which is left alone: a compiler directive, not a dependency.
			g.imps[i] = impFrom
		case "aliased_import":
			g.imps[i] = impAliased
		case "relative_import":
			g.imps[i] = impRelative
		case "import_prefix":
			g.imps[i] = impPrefix
		case "dotted_name":
			g.imps[i] = impDotted
		case "wildcard_import":
			g.imps[i] = impWildcard
		}
		g.idents[i] = name == "identifier"
		g.calls[i] = name == "call"
		g.excepts[i] = name == "except_clause" || name == "except_group_clause"
		switch name {
		case "assignment", "augmented_assignment", "for_statement", "for_in_clause":
			g.binders[i] = true
		case "list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression":
			g.comprehensions[i] = true
		case "keyword_argument":
			g.keywords[i] = true
		case "keyword_pattern":
			g.kwPatterns[i] = true
		case "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "parenthesized_expression", "expression_list", "list_splat_pattern":
			g.patterns[i] = true
		}
		switch name {
		case "default_parameter", "typed_default_parameter":
			g.params[i] = paramDefault
		case "typed_parameter":
			g.params[i] = paramTyped
		case "integer", "float", "true", "false", "none", "ellipsis":
			g.params[i] = paramLiteral
		case "string":
			g.params[i] = paramString
		case "unary_operator":
			g.params[i] = paramSigned
		}
		switch name {
		case "function_definition":
			g.roles[i] = roleFunc
		case "class_definition":
			g.roles[i] = roleClass
		case "decorated_definition":
			g.roles[i] = roleDecorated
		case "comment", "line_continuation":
			g.roles[i] = roleSkip
		case "string", "string_content", "format_specifier":
			g.roles[i] = roleVerbatim
		case "block":
			g.roles[i] = roleBlock
		case "interpolation", "format_expression": // f"{x:{w}}" nests the second
			g.roles[i] = roleInterp
		}
	}
	field := func(s string) uint16 {
		cs := C.CString(s)
		defer C.free(unsafe.Pointer(cs))
		return uint16(C.ts_language_field_id_for_name(lang, cs, C.uint32_t(len(s))))
	}
	g.fieldName = field("name")
	g.fieldBody = field("body")
	g.fieldModule = field("module_name")
	g.fieldParameters = field("parameters")
	g.fieldReturnType = field("return_type")
	g.fieldAttribute = field("attribute")
	g.fieldLeft = field("left")
	g.fieldRight = field("right")
	g.fieldType = field("type")
	g.fieldKey = field("key")
	g.fieldValue = field("value")
	g.fieldAlias = field("alias")
	g.fieldSuperclasses = field("superclasses")
	g.fieldFunction = field("function")
	g.fieldObject = field("object")
	g.fieldArguments = field("arguments")
	return g
})

func (g *grammar) role(sym uint16) role {
	if int(sym) < len(g.roles) {
		return g.roles[sym]
	}
	return roleNone
}

func (g *grammar) ident(sym uint16) bool {
	return int(sym) < len(g.idents) && g.idents[sym]
}

func (g *grammar) param(sym uint16) paramKind {
	if int(sym) < len(g.params) {
		return g.params[sym]
	}
	return paramNone
}

func (g *grammar) vk(sym uint16) valueKind {
	if int(sym) < len(g.vks) {
		return g.vks[sym]
	}
	return vkOther
}

func (g *grammar) imp(sym uint16) impKind {
	if int(sym) < len(g.imps) {
		return g.imps[sym]
	}
	return impNone
}

// tsParser is the small interface to tree-sitter: parse, and stream the
// tree's events to a callback.
type tsParser struct{ p *C.TSParser }

func newTSParser() *tsParser {
	p := C.ts_parser_new()
	if !C.ts_parser_set_language(p, C.tree_sitter_python()) {
		C.ts_parser_delete(p)
		return &tsParser{}
	}
	return &tsParser{p: p}
}

func (t *tsParser) close() {
	if t.p != nil {
		C.ts_parser_delete(t.p)
		t.p = nil
	}
}

// walk parses the pieces src[bounds[i]:bounds[i+1]] one after the other
// and calls fn with batches of the events of their top-level nodes, offsets
// relative to src. It returns false if a piece has a syntax error or could
// not be parsed at all, or if fn returns false.
func (t *tsParser) walk(src []byte, bounds []int, fn func([]event) bool) bool {
	if t.p == nil {
		return false
	}
	evs := make([]event, 4096)
	for i := 0; i+1 < len(bounds); i++ {
		if !t.walkPiece(src[bounds[i]:bounds[i+1]], uint32(bounds[i]), evs, fn) {
			return false
		}
	}
	return true
}

func (t *tsParser) walkPiece(src []byte, base uint32, evs []event, fn func([]event) bool) bool {
	var ptr *C.char
	if len(src) > 0 {
		ptr = (*C.char)(unsafe.Pointer(&src[0]))
	}
	// tree-sitter reads the string only during the call and keeps no
	// reference to it, so Go memory can be passed without a copy.
	tree := C.ts_parser_parse_string(t.p, nil, ptr, C.uint32_t(len(src)))
	if tree == nil {
		return false
	}
	defer C.ts_tree_delete(tree)
	if C.tree_has_error(tree) {
		return false
	}
	var w C.walker
	C.walker_init(&w, tree)
	defer C.walker_free(&w)
	var cbuf [4096]C.event
	for {
		n := int(C.walker_next(&w, &cbuf[0], C.int(min(len(cbuf), len(evs)))))
		if n == 0 {
			return true
		}
		for i, e := range cbuf[:n] {
			evs[i] = event{base + uint32(e.start), base + uint32(e.end), uint16(e.sym), uint16(e.field), uint8(e.kind)}
		}
		if !fn(evs[:n]) {
			return false
		}
	}
}
