package blocks

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
)

// Parser wraps one tree-sitter parser; not safe for concurrent use (one per
// goroutine).
type Parser struct {
	ts      *tsParser
	cleanup runtime.Cleanup
}

// NewParser returns a parser; Close it when done (a forgotten one is freed
// by the garbage collector).
func NewParser() *Parser {
	ts := newTSParser()
	p := &Parser{ts: ts}
	p.cleanup = runtime.AddCleanup(p, (*tsParser).close, ts)
	return p
}

// Close frees the parser. Parse on a closed parser returns Whole files.
func (p *Parser) Close() {
	p.cleanup.Stop()
	p.ts.close()
}

// Parse splits src (raw file bytes) into blocks. It never fails: what
// cannot be decoded or parsed becomes a single Whole block.
//
// Blocks[0] is "<module>" (or the Whole block), then come the Class and
// Function blocks in source order (outer before inner), then "<defs>".
func (p *Parser) Parse(src []byte) (f File) {
	defer func() {
		if r := recover(); r != nil {
			f = wholeFile(src)
			f.Panic = fmt.Sprint(r)
		}
	}()
	if ParseHook != nil {
		ParseHook(src)
	}
	text, ok := decode(src)
	if !ok || len(text) >= math.MaxUint32 {
		return wholeFile(src)
	}
	whole := []int{0, len(text)}
	bounds := whole
	if len(text) > pieceSize {
		bounds = pieces(text, pieceSize)
	}
	f, ok = p.split(text, bounds)
	if !ok && len(bounds) > 2 {
		f, ok = p.split(text, whole)
	}
	if !ok {
		return wholeFile(src)
	}
	return f
}

func (p *Parser) split(text []byte, bounds []int) (File, bool) {
	s := newSplitter(text)
	if !p.ts.walk(text, bounds, s.events) || !s.finish() {
		return File{}, false
	}
	return s.file(), true
}

// ParseHook, set by tests only, runs at the start of every Parse (a test
// makes it panic to check that a parser failure is safe and reported).
var ParseHook func(src []byte)

func wholeFile(src []byte) File {
	return File{
		Blocks: []Block{{Name: "<file>", Kind: Whole, Start: 1, End: countLines(src), Checksum: contenthash.Sum(src)}},
		spans:  []span{{line: 1, blk: 0}},
	}
}

// ctx says where the tokens of a node go.
type ctx struct {
	sinks []int32 // the blocks whose checksums the node feeds
	scope int32   // the innermost enclosing Class or Function block; 0: module
}

// with returns sinks plus blk, without sharing sinks' array.
func with(sinks []int32, blk int32) []int32 {
	return append(slices.Clip(sinks), blk)
}

type frame struct {
	ctx   ctx   // where the node's own tokens go
	outer ctx   // for definitions: the context of the defining statement
	blk   int32 // the block this node opened, or -1
	role  role
	// src[pos:end] is the part of the node not yet covered by a child.
	pos, end uint32
	mark     byte    // the tag recorded on entering the node, or 0
	imp      impKind // the node's part in an import statement
	start    uint32  // where the node starts
	sym      uint16
	field    uint16 // the node's field in its parent
	verbatim bool   // roleInterp: a "=" specifier makes its text count as written
	vk       valueKind
	vm       valueMode // inside a statement being analysed: see stmts.go
	// classBody: the node is a class's body, whose statements are
	// analysed (its scope is pushed on entering it).
	classBody bool
	// dyn: getattr/hasattr/delattr called here (a call node), or the
	// arguments of such a call whose first one is still to come.
	dyn       dynState
	dynTarget string // the first argument, when a plain name
}

// Records fed to the checksums: the text of every token, and of the tree's
// shape only where statements and blocks start and end. Those stand for
// Python's NEWLINE, INDENT and DEDENT tokens, and with the other tokens
// determine the program; the shape of an expression follows from its
// tokens. Recording expression nodes as well would add nothing but the few
// places where tree-sitter resolves an ambiguous (mostly invalid)
// expression differently depending on the text that follows it. A text
// ends with a NUL, which source cannot contain, so records never run into
// each other.
const (
	tagToken byte = 1 + iota // text
	tagGap                   // non-layout text between the children of a node
	tagStmt
	tagStmtEnd
	tagBlock
	tagBlockEnd
)

// splitter turns the event stream of one file into blocks.
type splitter struct {
	g      *grammar
	src    []byte
	lines  []uint32 // byte offset of the start of each line
	blocks []Block
	sums   []uint64 // running checksum of each block
	seen   map[string]int
	stack  []frame
	last   uint32 // end of the last token, comments aside
	imp    importer
	ok     bool
	reads  map[string]*identReaders // identifier -> the blocks it occurs in

	// The statement analysis of SPEC 4.8 (stmts.go).
	module          *scopeState
	scopes          []*scopeState // the module, then the class bodies being walked
	scopeOf         []*scopeState // per block: its scope while walked, or nil
	classes         []ClassBody
	plain           []bool     // per block: a class with no decorator nor bases
	bases           [][]string // per block: a class's bases, when each is a dotted name
	opaque          []bool     // per block: a class with a base that is not a dotted name, or a keyword (metaclass=)
	decor           []bool     // per block: a decorated class
	idents          [][]string // per block: identifiers its own code reads
	bare            [][]string // per block: identifiers used as plain values
	paths           [][]string // per block: strings that read as dotted module paths
	words           [][]string // per block: the words of strings that list names
	dynamic         []bool     // per block: reaches names dynamically
	anyModule       []bool     // per block: gets a module by a computed name
	lazyAnnotations bool       // "from __future__ import annotations": annotations are strings
	targets         [][]string // per block: getattr(NAME, ...) first arguments
	objdyn          []bool     // per block: reads some object's attributes by computed names
	catches         []bool     // per block: catches AttributeError or NameError
	chains          [][]string // per block: dotted chains used as values ("pkg.sub")
	probes          [][]string // per block: hasattr(NAME, "attr") and the like
	locals          [][]string // per function block: names its assignments and loops bind
	attrs           [][]string // per block: names read after a dot (x.NAME), or by getattr(x, "NAME")
	lookups         [][]string // per block: x.NAME where x is a plain name or a dotted chain
	// per function block: names comprehensions bind, and names read
	// outside any comprehension (a comprehension's names are its own).
	// compReads: names read inside a comprehension, with where it starts.
	compLocals, outerReads, compReads [][]string
}

func newSplitter(src []byte) *splitter {
	s := &splitter{
		g:          pythonGrammar(),
		src:        src,
		lines:      []uint32{0},
		blocks:     []Block{{Name: "<module>", Kind: Module, Start: 1}},
		sums:       []uint64{contenthash.Offset},
		seen:       map[string]int{},
		ok:         true,
		idents:     [][]string{nil},
		bare:       [][]string{nil},
		paths:      [][]string{nil},
		words:      [][]string{nil},
		dynamic:    []bool{false},
		anyModule:  []bool{false},
		targets:    [][]string{nil},
		objdyn:     []bool{false},
		catches:    []bool{false},
		chains:     [][]string{nil},
		probes:     [][]string{nil},
		locals:     [][]string{nil},
		attrs:      [][]string{nil},
		lookups:    [][]string{nil},
		compLocals: [][]string{nil},
		outerReads: [][]string{nil},
		compReads:  [][]string{nil},
		plain:      []bool{false},
		bases:      [][]string{nil},
		opaque:     []bool{false},
		decor:      []bool{false},
		reads:      map[string]*identReaders{},
	}
	s.module = &scopeState{depth: 1, loose: contenthash.Offset}
	s.scopes = []*scopeState{s.module}
	s.scopeOf = []*scopeState{s.module}
	for i, c := range src {
		if c == '\n' {
			s.lines = append(s.lines, uint32(i+1))
		}
	}
	module := ctx{sinks: []int32{0}}
	s.stack = []frame{{ctx: module, outer: module, blk: -1, end: uint32(len(src))}}
	return s
}

func (s *splitter) events(evs []event) bool {
	for _, e := range evs {
		if e.kind == evLeave {
			s.leave()
		} else {
			s.enter(e)
		}
	}
	return s.ok
}

func (s *splitter) enter(e event) {
	parent := &s.stack[len(s.stack)-1]
	s.gap(parent, e.start)
	parent.pos = max(parent.pos, e.end)
	r := s.g.role(e.sym)
	vk := s.g.vk(e.sym)
	var vm valueMode
	switch top := s.scopes[len(s.scopes)-1]; {
	case len(s.stack) == top.depth && e.kind != evLeaf && r != roleSkip:
		vm = s.beginStmt(top, e)
	case r != roleSkip:
		vm = s.analyse(parent, vk, e.field, s.src[e.start:e.end], e.kind == evLeaf)
	}
	var mark byte
	switch {
	case r == roleBlock:
		mark = tagBlock
		if e.start == e.end {
			// tree-sitter accepts "class A:" with nothing indented below.
			s.ok = false
		}
	case len(s.stack) == 1 || parent.role == roleBlock:
		mark = tagStmt
	}
	c := s.childCtx(parent, e.field)
	if int(e.sym) < len(s.g.excepts) && s.g.excepts[e.sym] && bareExcept(s.src[e.start:e.end]) {
		s.catches[c.scope] = true
	}
	// getattr's object is a value the engine decides on as a target.
	firstArg := (parent.dyn == dynFirstArg || parent.dyn == dynOnlyArg) && vk != vkAnon
	if parent.dyn >= dynFirstArg && vk != vkAnon && r != roleSkip {
		s.attrCallArg(parent, c.scope, e, vk)
	}
	if r == roleSkip {
		c.sinks = nil
	} else if scope, ok := s.evaluatedAtDef(parent, e); ok {
		if scope == 0 {
			c.sinks = with(c.sinks, 0)
		} else if sc := s.inner(); sc != nil && sc.blk == scope {
			// A method's header counts in its class's block anyway; what
			// the class body runs when it runs the def is what makes the
			// def a statement with effects there.
			sc.cur.evaluated = true
		}
	}
	if e.kind == evLeaf {
		if r != roleSkip && e.end > e.start {
			s.last = e.end
			if parent.imp != impNone {
				s.imp.leaf(parent, s.src[e.start:e.end])
			}
		}
		if parent.role == roleInterp && string(s.src[e.start:e.end]) == "=" {
			// f"{x = }" prints "x = 1": the field's text is output.
			parent.verbatim = true
		}
		defName := (parent.role == roleFunc || parent.role == roleClass) && e.field == s.g.fieldName
		if defName {
			s.name(parent, string(s.src[e.start:e.end]))
		} else if s.g.ident(e.sym) && e.field != s.g.fieldAttribute {
			s.read(string(s.src[e.start:e.end]), c.sinks)
		}
		if vk == vkIdent && r != roleSkip {
			s.ident(parent, c.scope, e.field, e.start, s.src[e.start:e.end], defName)
		}
		if vk == vkStringPart && r != roleSkip {
			if p, ok := modulePath(s.src[e.start:e.end]); ok {
				s.paths[c.scope] = append(s.paths[c.scope], p)
			}
			if text := s.src[e.start:e.end]; bytes.IndexByte(text, '{') >= 0 && formatAttr.Match(text) {
				s.objdyn[c.scope] = true
			}
			if text := s.src[e.start:e.end]; len(text) <= maxNameList && nameList.Match(text) {
				s.words[c.scope] = append(s.words[c.scope], nameWord.FindAllString(string(text), -1)...)
			}
		}
		s.record(c.sinks, mark)
		s.text(c.sinks, tagToken, s.src[e.start:e.end])
		s.record(c.sinks, closing(mark))
		return
	}
	if vk == vkAttribute && r != roleSkip && !firstArg && e.field != s.g.fieldObject && e.field != s.g.fieldFunction {
		// "pkg.sub" as a value may hand a module to other code.
		if chain, ok := dottedChain(s.src[e.start:e.end]); ok {
			s.chains[c.scope] = append(s.chains[c.scope], chain)
		}
	}
	f := frame{ctx: c, outer: c, blk: -1, role: r, pos: e.start, end: e.end, mark: mark, start: e.start, sym: e.sym, field: e.field, vk: vk, vm: vm}
	switch {
	case parent.dyn == dynCallee && e.field == s.g.fieldArguments:
		f.dyn = dynFirstArg
	case parent.dyn == dynCalleeOne && e.field == s.g.fieldArguments:
		f.dyn = dynOnlyArg
	case parent.dyn == dynImportCallee && e.field == s.g.fieldArguments:
		f.dyn = dynImportArg
	}
	if k := s.g.imp(e.sym); k != impNone {
		s.imp.scope = c.scope
		f.imp = s.imp.enter(s.g, parent, k, e.field)
	}
	switch r {
	case roleDecorated:
		// The block starts at the first decorator, and decorators count in
		// both the block and the enclosing scope.
		f.blk = s.open(e.start)
		f.ctx.sinks = with(c.sinks, f.blk)
	case roleFunc, roleClass:
		if parent.role == roleDecorated && parent.blk >= 0 {
			f.blk, f.outer = parent.blk, parent.outer
			parent.blk = -1
		} else {
			f.blk = s.open(e.start)
		}
		f.ctx.scope = f.outer.scope
		if r == roleClass {
			s.blocks[f.blk].Kind = Class
			s.plain[f.blk] = parent.role != roleDecorated
			s.decor[f.blk] = parent.role == roleDecorated
			// Like a def line: a class header counts in an enclosing
			// function or class, not at module level, so that adding a class
			// leaves "<module>" alone (its own block holds its header).
			f.ctx.sinks = []int32{f.blk}
			if f.outer.scope != 0 {
				f.ctx.sinks = with(f.outer.sinks, f.blk)
			}
		} else {
			s.blocks[f.blk].Kind = Function
			// A def line counts in an enclosing function or class (its
			// signature is part of that body) but not at module level, so
			// that adding a function leaves "<module>" alone.
			f.ctx.sinks = []int32{f.blk}
			if f.outer.scope != 0 {
				f.ctx.sinks = with(f.outer.sinks, f.blk)
			}
		}
	}
	if parent.role == roleClass && parent.blk >= 0 {
		switch {
		case e.field == s.g.fieldBody && r == roleBlock:
			// Its statements are analysed like a module's.
			sc := &scopeState{blk: parent.blk, depth: len(s.stack) + 1, loose: contenthash.Offset}
			s.scopes = append(s.scopes, sc)
			s.scopeOf[parent.blk] = sc
			f.classBody = true
		case e.field == s.g.fieldSuperclasses:
			if t := string(stripSpace(s.src[e.start:e.end])); t != "()" && t != "(object)" {
				s.plain[parent.blk] = false
				bases, ok := baseNames(t)
				s.bases[parent.blk], s.opaque[parent.blk] = bases, !ok
			}
		}
	}
	s.record(f.ctx.sinks, mark)
	s.stack = append(s.stack, f)
}

// identReaders are the blocks an identifier occurs in, in the order of the
// first occurrence, and the highest of them.
type identReaders struct {
	at  []int32
	max int32
}

// read notes that an identifier occurs in the code of sinks.
func (s *splitter) read(ident string, sinks []int32) {
	r := s.reads[ident]
	if r == nil {
		r = &identReaders{max: -1}
		s.reads[ident] = r
	}
	for _, k := range sinks {
		// Blocks are numbered as they open, so a block past the highest is
		// new; only an enclosing one needs the search (a common name read
		// in every function of a large file made this quadratic).
		if k > r.max || !slices.Contains(r.at, k) {
			r.at = append(r.at, k)
			r.max = max(r.max, k)
		}
	}
}

// readers returns File.Readers: for each top-level definition's name, and
// for Dynamic, the names of the blocks that mention it.
func (s *splitter) readers(names []string) map[string][]string {
	out := map[string][]string{}
	add := func(key string, at []int32) {
		for _, k := range at {
			if n := s.blocks[k].Name; !slices.Contains(out[key], n) {
				out[key] = append(out[key], n)
			}
		}
	}
	for _, n := range names {
		if !strings.ContainsAny(n, ".#") {
			if r := s.reads[n]; r != nil {
				add(n, r.at)
			}
		}
	}
	// The statement analysis's rule (dynamicNames): one list of the names
	// that reach a module's names without naming them.
	for k, dyn := range s.dynamic {
		if dyn {
			add(Dynamic, []int32{int32(k)})
		}
	}
	for _, imp := range s.imp.imports {
		if slices.Contains(imp.Names, "*") {
			add(Dynamic, []int32{0})
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// evaluatedAtDef reports whether node e, a child of parent, is a default
// or an annotation in the header of a def that Python evaluates when it
// runs the def, and the scope that runs it: for a module-level def they
// belong to "<module>" as well as to the function (SPEC 4.1): "def mul(a,
// b=1 // 0)" breaks every importer. A literal default computes nothing and
// cannot fail, and under "from __future__ import annotations" a method's
// annotations are strings: only the tests that call it see those, through
// its own block.
func (s *splitter) evaluatedAtDef(parent *frame, e event) (int32, bool) {
	g := s.g
	if e.field == g.fieldReturnType {
		return parent.outer.scope, parent.role == roleFunc && s.annotationsRun(parent.outer.scope)
	}
	if e.field != g.fieldValue && e.field != g.fieldType {
		return 0, false
	}
	kind := g.param(parent.sym)
	if kind == paramNone || e.field == g.fieldValue && kind != paramDefault || len(s.stack) < 3 {
		return 0, false
	}
	params, fn := &s.stack[len(s.stack)-2], &s.stack[len(s.stack)-3]
	if params.field != g.fieldParameters || fn.role != roleFunc {
		return 0, false
	}
	if e.field == g.fieldType {
		return fn.outer.scope, s.annotationsRun(fn.outer.scope)
	}
	return fn.outer.scope, !s.literal(e)
}

// annotationsRun reports whether the annotations of a def in scope are
// evaluated when the def runs. Under "from __future__ import annotations"
// they are strings, yet a module-level function handed to a library that
// reads them (typer.run(main)) may never run: only a method's count as
// its own (SPEC 4.8 keeps the function's importers).
func (s *splitter) annotationsRun(scope int32) bool {
	return !s.lazyAnnotations || scope == 0
}

// literal reports whether a default value is a literal constant: a number,
// True, False, None, ..., a string that is no f-string, or a signed number.
func (s *splitter) literal(e event) bool {
	text := s.src[e.start:e.end]
	switch s.g.param(e.sym) {
	case paramLiteral:
		return true
	case paramString:
		prefix := text[:max(bytes.IndexAny(text, `"'`), 0)]
		return !bytes.ContainsAny(prefix, "fFtT")
	case paramSigned:
		rest := bytes.TrimLeft(text, "+-~ \t")
		return len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' &&
			len(bytes.Trim(rest, "0123456789_.xXoObBjJeE+-abcdefABCDEF")) == 0
	}
	return false
}

// baseNames returns the bases of a class header's argument list (spaces
// stripped: "(Field,typing.Generic[T])") as dotted names, a subscript
// dropped ("typing.Generic"), object left out; false when one is anything
// else or a keyword (metaclass=...) is given.
func baseNames(list string) ([]string, bool) {
	inner := strings.TrimSuffix(strings.TrimPrefix(list, "("), ")")
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(inner); i++ {
		if i < len(inner) {
			switch inner[i] {
			case '[', '(', '{':
				depth++
				continue
			case ']', ')', '}':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		part := inner[start:i]
		start = i + 1
		if part == "" && i == len(inner) {
			break // a trailing comma
		}
		name, _, _ := strings.Cut(part, "[")
		if !baseRe.MatchString(name) || name != part && !strings.HasSuffix(part, "]") {
			return nil, false
		}
		if name != "object" {
			out = append(out, name)
		}
	}
	return out, true
}

var baseRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func stripSpace(b []byte) []byte {
	var out []byte
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\\' {
			out = append(out, c)
		}
	}
	return out
}

// childCtx is where a child of parent goes: into the parent's context,
// except for the bodies of definitions.
func (s *splitter) childCtx(parent *frame, field uint16) ctx {
	if field != s.g.fieldBody || parent.blk < 0 {
		return parent.ctx
	}
	switch parent.role {
	case roleFunc:
		return ctx{sinks: []int32{parent.blk}, scope: parent.blk}
	case roleClass:
		// A class body counts in an enclosing class or function, not in the
		// module.
		sinks := []int32{parent.blk}
		if parent.outer.scope != 0 {
			sinks = with(parent.outer.sinks, parent.blk)
		}
		return ctx{sinks: sinks, scope: parent.blk}
	}
	return parent.ctx
}

func (s *splitter) leave() {
	if len(s.stack) <= 1 {
		s.ok = false
		return
	}
	f := &s.stack[len(s.stack)-1]
	s.gap(f, f.end)
	if f.verbatim {
		s.text(f.ctx.sinks, tagGap, s.src[f.start:f.end])
	}
	s.record(f.ctx.sinks, closing(f.mark))
	if f.dyn == dynFirstArg || f.dyn == dynOnlyArg || f.dyn == dynImportArg {
		// dir() or vars() with no argument: the scope's own names
		// (__import__() fails, which is dynamic enough).
		s.dynamic[f.ctx.scope] = true
	}
	switch f.role {
	case roleFunc, roleClass:
		b := &s.blocks[f.blk]
		if b.Name == "" || s.last == 0 {
			s.ok = false
		} else {
			b.End = s.lineOf(s.last - 1)
		}
	case roleDecorated:
		if f.blk >= 0 { // decorators of nothing
			s.ok = false
		}
	}
	if f.imp != impNone {
		s.imp.leave(f)
	}
	s.stack = s.stack[:len(s.stack)-1]
	if f.classBody {
		sc := s.scopes[len(s.scopes)-1]
		s.scopes = s.scopes[:len(s.scopes)-1]
		s.scopeOf[sc.blk] = nil
		s.classes = append(s.classes, ClassBody{
			Block: int(sc.blk), Stmts: sc.stmts, Plain: s.plain[sc.blk], loose: sc.loose,
			Bases: s.bases[sc.blk], Opaque: s.opaque[sc.blk], Decorated: s.decor[sc.blk],
		})
	}
	if top := s.scopes[len(s.scopes)-1]; top.in && len(s.stack) == top.depth {
		s.endStmt(top)
	}
}

func (s *splitter) open(start uint32) int32 {
	s.blocks = append(s.blocks, Block{Start: s.lineOf(start)})
	s.sums = append(s.sums, contenthash.Offset)
	s.idents = append(s.idents, nil)
	s.bare = append(s.bare, nil)
	s.paths = append(s.paths, nil)
	s.words = append(s.words, nil)
	s.dynamic = append(s.dynamic, false)
	s.anyModule = append(s.anyModule, false)
	s.targets = append(s.targets, nil)
	s.objdyn = append(s.objdyn, false)
	s.catches = append(s.catches, false)
	s.chains = append(s.chains, nil)
	s.probes = append(s.probes, nil)
	s.locals = append(s.locals, nil)
	s.attrs = append(s.attrs, nil)
	s.lookups = append(s.lookups, nil)
	s.compLocals = append(s.compLocals, nil)
	s.outerReads = append(s.outerReads, nil)
	s.compReads = append(s.compReads, nil)
	s.plain = append(s.plain, false)
	s.bases = append(s.bases, nil)
	s.opaque = append(s.opaque, false)
	s.decor = append(s.decor, false)
	s.scopeOf = append(s.scopeOf, nil)
	return int32(len(s.blocks) - 1)
}

// name gives a definition its __qualname__, with "#2", "#3"... for later
// definitions of the same name in the same scope.
func (s *splitter) name(f *frame, ident string) {
	b := &s.blocks[f.blk]
	if b.Name != "" {
		return
	}
	q := ident
	if sc := f.outer.scope; sc != 0 {
		if s.blocks[sc].Kind == Function {
			q = s.blocks[sc].Name + ".<locals>." + ident
		} else {
			q = s.blocks[sc].Name + "." + ident
		}
	}
	n := s.seen[q] + 1
	s.seen[q] = n
	if n > 1 {
		q += "#" + strconv.Itoa(n)
	}
	b.Name = q
}

// gap records the text of f between its children up to offset to. Outside
// string contents that text is layout (whitespace, line continuations) and
// counts only if something else shows up there.
func (s *splitter) gap(f *frame, to uint32) {
	if to <= f.pos || len(f.ctx.sinks) == 0 {
		return
	}
	text := s.src[f.pos:to]
	if f.role != roleVerbatim {
		var ok bool
		if text, ok = stripLayout(text); !ok {
			s.ok = false // Python: "invalid non-printable character"
		}
	}
	if len(text) > 0 {
		s.text(f.ctx.sinks, tagGap, text)
	}
}

// stripLayout returns b without whitespace and backslashes (of line
// continuations), and false if b holds a control character, which Python
// refuses outside strings and comments.
func stripLayout(b []byte) ([]byte, bool) {
	var out []byte
	for _, c := range b {
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\\':
		case c < 0x20 || c == 0x7f:
			return nil, false
		default:
			out = append(out, c)
		}
	}
	return out, true
}

func closing(mark byte) byte {
	if mark == 0 {
		return 0
	}
	return mark + 1
}

// record feeds a one-byte record (none for tag 0) to the checksums of sinks.
func (s *splitter) record(sinks []int32, tag byte) {
	if tag != 0 {
		for _, k := range sinks {
			s.sums[k] = contenthash.AddByte(s.sums[k], tag)
			if sc := s.scopeOf[k]; sc != nil {
				sc.feed(tag, nil, false)
			}
		}
	}
}

func (s *splitter) text(sinks []int32, tag byte, text []byte) {
	for _, k := range sinks {
		h := contenthash.AddByte(s.sums[k], tag)
		s.sums[k] = contenthash.AddZero(contenthash.Add(h, text))
		if sc := s.scopeOf[k]; sc != nil {
			sc.feed(tag, text, true)
		}
	}
}

// lineOf returns the 1-based line holding byte offset off.
func (s *splitter) lineOf(off uint32) int {
	return sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off })
}

func (s *splitter) finish() bool {
	if !s.ok || len(s.stack) != 1 {
		return false
	}
	s.gap(&s.stack[0], uint32(len(s.src)))
	return s.ok
}

func (s *splitter) file() File {
	last := countLines(s.src)
	var names []string
	for i := range s.blocks {
		b := &s.blocks[i]
		b.Checksum = s.sums[i]
		if b.Kind == Class || b.Kind == Function {
			names = append(names, b.Name)
		}
	}
	s.blocks[0].End = last
	sort.Strings(names)
	blocks := append(s.blocks, Block{
		Name: "<defs>", Kind: Defs, Start: 1, End: last,
		Checksum: contenthash.Sum([]byte(strings.Join(names, "\n"))),
	})
	for i, ids := range s.idents {
		slices.Sort(ids)
		s.idents[i] = slices.Clip(slices.Compact(ids))
	}
	for i, ids := range s.bare {
		slices.Sort(ids)
		s.bare[i] = slices.Clip(slices.Compact(ids))
	}
	for i, names := range s.compLocals {
		// A name a comprehension binds is local when every read of it is
		// in a comprehension that binds it, none outside one.
		outer := s.outerReads[i]
		slices.Sort(outer)
		bound := map[string]bool{}
		for _, n := range names {
			bound[n] = true
		}
		local := map[string]bool{}
		for _, n := range names {
			name, _, _ := strings.Cut(n, "\x00")
			if _, read := slices.BinarySearch(outer, name); !read {
				local[name] = true
			}
		}
		for _, r := range s.compReads[i] {
			if name, _, _ := strings.Cut(r, "\x00"); local[name] && !bound[r] {
				delete(local, name)
			}
		}
		for name := range local {
			s.locals[i] = append(s.locals[i], name)
		}
	}
	for _, lists := range [][][]string{s.chains, s.probes, s.targets, s.locals, s.attrs, s.lookups} {
		for i, l := range lists {
			slices.Sort(l)
			lists[i] = slices.Clip(slices.Compact(l))
		}
	}
	imports := s.imp.scoped(s.blocks)
	binds := make([][]string, len(imports))
	for i, imp := range imports {
		binds[i] = s.imp.binds(i, imp)
	}
	return File{
		Blocks: blocks, Parsed: true, Names: names, Readers: s.readers(names), Imports: imports, spans: buildSpans(blocks), bare: s.bare, paths: s.paths, words: s.words, binds: binds,
		Stmts: s.module.stmts, Classes: s.classes, idents: s.idents, dynamic: s.dynamic, anyModule: s.anyModule, targets: s.targets, loose: s.module.loose,
		objdyn: s.objdyn, catches: s.catches, chains: s.chains, probes: s.probes, locals: s.locals, attrs: s.attrs,
		lookups: s.lookups,
	}
}

// span says that lines from line on belong to block blk, up to the next
// span.
type span struct {
	line int32
	blk  int32
}

// buildSpans flattens the nested line ranges of the Module, Class and
// Function blocks (in source order, outer before inner) into spans of their
// innermost block, in time linear in the number of blocks.
func buildSpans(blocks []Block) []span {
	if len(blocks) == 0 {
		return nil
	}
	var spans []span
	next := 1 // first line not yet in a span
	fill := func(upto, blk int) {
		if upto >= next {
			spans = append(spans, span{line: int32(next), blk: int32(blk)})
			next = upto + 1
		}
	}
	stack := []int{0}
	for i := 1; i < len(blocks); i++ {
		if k := blocks[i].Kind; k != Class && k != Function {
			continue
		}
		for len(stack) > 1 && blocks[stack[len(stack)-1]].End < blocks[i].Start {
			top := stack[len(stack)-1]
			fill(blocks[top].End, top)
			stack = stack[:len(stack)-1]
		}
		fill(blocks[i].Start-1, stack[len(stack)-1])
		stack = append(stack, i)
	}
	for j := len(stack) - 1; j >= 0; j-- {
		fill(blocks[stack[j]].End, stack[j])
	}
	return spans
}

// BlockAt returns the index in f.Blocks of the innermost Function, Class or
// Module block whose line range contains line (for a Whole file: the Whole
// block), or -1 if line is outside the file. A File built by hand rather
// than by Parse computes its line table on first use, so its first call
// must not race with others.
func (f *File) BlockAt(line int) int {
	if len(f.Blocks) == 0 || line < 1 || line > f.Blocks[0].End {
		return -1
	}
	if f.spans == nil {
		f.spans = buildSpans(f.Blocks)
	}
	i, found := slices.BinarySearchFunc(f.spans, line, func(sp span, l int) int { return int(sp.line) - l })
	if !found {
		i--
	}
	if i < 0 {
		return 0
	}
	return int(f.spans[i].blk)
}
