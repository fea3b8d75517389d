package blocks

import (
	"bytes"
	"regexp"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"slices"
	"strconv"
	"strings"
)

// A module's top level is a sequence of statements (SPEC 4.8). A statement
// that only binds names to values that cannot raise (a literal, a name bound
// earlier, an import that resolves) is a dependency of the code that reads
// those names; any other statement has effects, and every importer depends
// on it, as on the whole top level before.

// StmtKind says what a top-level statement does when the module runs.
type StmtKind uint8

const (
	// StmtEffect is anything that may do more than bind names, or may
	// raise: a call, an operator, a store into another object, a compound
	// statement, a decorator, a star or __future__ import.
	StmtEffect StmtKind = iota
	// StmtAssign is "NAME = NAME2 = literal", the literal built from
	// numbers, strings, True/False/None, names, tuples, lists, sets and
	// dicts of them, in forms that cannot raise.
	StmtAssign
	// StmtImport is an import or from-import of named modules or names.
	StmtImport
	// StmtDef is an undecorated def or class at module level; it binds its
	// name (the body is a block of its own).
	StmtDef
	// StmtNoop is a docstring or pass.
	StmtNoop
	// StmtCond is an if statement whose conditions only read names and
	// compare them with literals, and whose branches hold only imports,
	// literal assignments, pass and such if statements ("if TYPE_CHECKING:",
	// "if sys.version_info >= (3, 11):"): it binds names like an assignment,
	// and which value each gets depends on what the conditions read.
	StmtCond
	// stmtTyping is an "if TYPE_CHECKING:" that only a type checker runs
	// (derive's view of a StmtCond).
	stmtTyping
)

// Stmt is one statement of a module's top level.
type Stmt struct {
	Line int
	// Sum is the checksum of the statement's tokens that belong to the
	// module's top level (for a def or class: none, unless decorators or
	// other header parts are evaluated there).
	Sum uint64
	// Fed reports whether any token of the statement counts at module
	// level.
	Fed  bool
	Kind StmtKind
	// Binds are the names the statement binds; for statements with effects
	// only those in plain assignment targets, imports and definitions.
	Binds []string
	// Open reports that a statement with effects may bind names not in
	// Binds (a compound statement, an assignment expression).
	Open bool
	// Reads are the identifiers the statement reads at module level,
	// sorted and unique.
	Reads []string
	// Imports are an import statement's targets.
	Imports []Import
	// Future marks a "from __future__" import, which must come first.
	Future bool
	def    bool // a definition (decorated or not) binds Binds
	// typing: for "if TYPE_CHECKING:" or "if typing.TYPE_CHECKING:" with
	// no other branch, the name the condition starts with. Its body runs
	// only under a type checker, if that name is typing's (see derive).
	typing string
	// exports: for "__all__ = [...]" of string literals only, the names.
	exports []string
}

// valueKind classifies grammar symbols for the statement analysis.
type valueKind uint8

const (
	vkOther  valueKind = iota // a named node of no interest: fails a literal
	vkAnon                    // an anonymous token: punctuation, keywords
	vkIdent                   // identifier
	vkNumber                  // integer, float
	vkConst                   // True, False, None, ...
	vkString                  // string
	vkStringStart
	vkStringPart
	vkEscape
	vkTuple // tuple, parenthesized expression, bare tuple
	vkList
	vkSet
	vkDict
	vkPair
	vkUnary
	vkAssign
	vkExprStmt
	vkPass
	vkImport
	vkFuture
	vkDef
	vkDecorated
	vkParam        // a node whose direct identifiers are parameter names
	vkDefaultParam // a parameter with a default: its name field is one
	vkWalrus       // named_expression: binds a name from inside an expression
	vkAttribute    // attribute: "obj.name"
	vkIf           // if_statement
	vkIfPart       // elif_clause, else_clause
	vkBlock        // block: the statements of a branch
	vkCondOp       // not, and/or, comparisons
)

func valueKindOf(name string, anonymous bool) valueKind {
	switch name {
	case "identifier":
		return vkIdent
	case "integer", "float":
		return vkNumber
	case "true", "false", "none", "ellipsis":
		return vkConst
	case "string":
		return vkString
	case "string_start":
		return vkStringStart
	case "string_content", "string_end":
		return vkStringPart
	case "escape_sequence":
		return vkEscape
	case "tuple", "parenthesized_expression", "expression_list":
		return vkTuple
	case "list":
		return vkList
	case "set":
		return vkSet
	case "dictionary":
		return vkDict
	case "pair":
		return vkPair
	case "unary_operator":
		return vkUnary
	case "assignment":
		return vkAssign
	case "expression_statement":
		return vkExprStmt
	case "pass_statement":
		return vkPass
	case "import_statement", "import_from_statement":
		return vkImport
	case "future_import_statement":
		return vkFuture
	case "function_definition", "class_definition":
		return vkDef
	case "decorated_definition":
		return vkDecorated
	case "parameters", "lambda_parameters", "typed_parameter", "list_splat_pattern", "dictionary_splat_pattern":
		return vkParam
	case "default_parameter", "typed_default_parameter":
		return vkDefaultParam
	case "attribute":
		return vkAttribute
	case "named_expression":
		return vkWalrus
	case "if_statement":
		return vkIf
	case "elif_clause", "else_clause":
		return vkIfPart
	case "block":
		return vkBlock
	case "not_operator", "boolean_operator", "comparison_operator":
		return vkCondOp
	}
	if anonymous {
		return vkAnon
	}
	return vkOther
}

// valueMode is what a node may be inside a statement still thought to be
// a literal assignment; vmNone outside one.
type valueMode uint8

const (
	vmNone   valueMode = iota
	vmStmt             // the expression statement itself
	vmAssign           // an assignment: identifier targets, a literal value
	vmValue            // a literal expression
	vmKey              // a dict key or set element: hashable literals only
	vmNum              // the operand of a unary operator: numbers only
	vmDict
	vmPair
	vmStr  // inside a string literal
	vmIf   // an if statement or one of its elif/else clauses
	vmCond // a condition: names, attributes, comparisons, literals
	vmBody // a branch: its statements
)

// stmtState is the statement being walked.
type stmtState struct {
	st       Stmt
	sum      uint64
	impStart int
	start    uint32 // where the statement starts
	failed   bool   // no longer a candidate for StmtAssign / StmtNoop / StmtCond
	bytes    bool   // the string being read is a bytes literal
	alt      bool   // an if statement with an elif or else branch
	// evaluated: a def whose header has parts its scope evaluates when it
	// runs the def (a computed default, an annotation).
	evaluated bool
	// held are identifiers that are no reads of a name of the scope (the
	// names in an import, the attribute after a dot): they count as reads
	// only if the statement turns out to have effects.
	held []string
}

// scopeState is a module or class body whose statements are analysed.
type scopeState struct {
	blk   int32 // 0: the module
	stmts []Stmt
	cur   stmtState
	in    bool   // cur is being walked
	depth int    // stack length at which its statements are entered
	loose uint64 // its tokens outside any of its statements (a class header)
}

// ClassBody is a class body's statements, for class attributes as
// dependencies (SPEC 4.8: self.fee, cls.fee, Account.fee).
type ClassBody struct {
	Block int // index in File.Blocks
	Stmts []Stmt
	// Plain: no decorator and no base class other than object, whose
	// hooks (__init_subclass__, metaclasses) could read its attributes.
	Plain bool
	// Bases are the dotted names of its bases (a subscript dropped, object
	// left out) when Opaque is false: the engine decides whether those
	// run hooks (DeriveClass's plainBases).
	Bases []string
	// Opaque: a base that is no dotted name, or a keyword (metaclass=).
	Opaque    bool
	Decorated bool
	loose     uint64
}

// inner returns the innermost scope with a statement being walked, or nil.
func (s *splitter) inner() *scopeState {
	for i := len(s.scopes) - 1; i >= 0; i-- {
		if s.scopes[i].in {
			return s.scopes[i]
		}
	}
	return nil
}

// beginStmt starts a statement of scope sc at node e; it returns the value
// mode of the statement's node.
func (s *splitter) beginStmt(sc *scopeState, e event) valueMode {
	vk := s.g.vk(e.sym)
	st := &sc.cur
	*st = stmtState{sum: contenthash.Offset, impStart: len(s.imp.imports)}
	st.st.Line = s.lineOf(e.start)
	st.start = e.start
	sc.in = true
	switch vk {
	case vkExprStmt:
		st.st.Kind = StmtAssign // refined at the end
		return vmStmt
	case vkPass:
		st.st.Kind = StmtNoop
	case vkImport:
		st.st.Kind = StmtImport
	case vkFuture:
		st.st.Future = true
		if futureAnnotations.Match(s.src[e.start:e.end]) {
			s.lazyAnnotations = true
		}
	case vkDef:
		st.st.Kind = StmtDef
	case vkDecorated:
	case vkIf:
		st.st.Kind = StmtCond
		return vmIf
	default:
		st.st.Open = true
	}
	return vmNone
}

// endStmt finishes the statement of sc being walked.
func (s *splitter) endStmt(sc *scopeState) {
	st := &sc.cur
	if st.failed && (st.st.Kind == StmtAssign || st.st.Kind == StmtNoop || st.st.Kind == StmtCond) {
		if st.st.Kind == StmtCond {
			st.st.Open = true // a branch may bind names unseen
		}
		st.st.Kind = StmtEffect
	}
	if st.st.Kind == StmtAssign && len(st.st.Binds) == 0 {
		// An expression statement that is only a string: a docstring (the
		// first statement) or a no-op.
		st.st.Kind = StmtNoop
		if len(sc.stmts) == 0 {
			st.st.Binds = []string{"__doc__"}
		}
	}
	plainImport := st.st.Kind == StmtImport // not a compound statement holding one
	for i := st.impStart; i < len(s.imp.imports); i++ {
		imp := s.imp.imports[i]
		st.st.Imports = append(st.st.Imports, imp)
		if len(imp.Names) == 0 {
			name := s.imp.alias[aliasKey{i, -1}]
			if name == "" {
				name, _, _ = strings.Cut(imp.Module, ".")
			}
			st.st.Binds = append(st.st.Binds, name)
			continue
		}
		for j, n := range imp.Names {
			if a := s.imp.alias[aliasKey{i, j}]; a != "" {
				n = a
			}
			if n == "*" {
				st.st.Kind = StmtEffect
				st.st.Open = true
				continue
			}
			st.st.Binds = append(st.st.Binds, n)
		}
	}
	if st.st.Kind != StmtImport && st.st.Kind != StmtCond {
		st.st.Reads = append(st.st.Reads, st.held...)
	}
	if st.st.Kind == StmtDef && sc.blk != 0 {
		// A method's whole header counts in its class's block; only what
		// the class body evaluates makes the def more than a binding.
		st.st.Fed = st.evaluated
	}
	if st.st.Kind == StmtCond && !st.alt {
		if m := typeChecking.FindSubmatch(s.src[st.start:]); m != nil {
			st.st.typing = string(m[1]) + string(m[2])
		}
	}
	st.st.Sum = st.sum
	if st.st.Kind == StmtAssign && len(st.st.Binds) == 1 && st.st.Binds[0] == "__all__" && s.last > st.start {
		st.st.exports = literalAll(s.src[st.start:s.last])
	}
	if st.st.Kind != StmtAssign && st.st.Kind != StmtNoop && st.st.Kind != StmtCond && !plainImport {
		// What a literal assignment reads reaches its readers through the
		// names it binds; anything else may use what it reads at import.
		// An import reads nothing of the project's code: the module it
		// names runs (the import graph), and the names it takes are the
		// values of the names it binds (see the engine's fromNameIDs).
		s.idents[sc.blk] = append(s.idents[sc.blk], st.st.Reads...)
	}
	slices.Sort(st.st.Reads)
	st.st.Reads = slices.Compact(st.st.Reads)
	sc.stmts = append(sc.stmts, st.st)
	sc.in = false
}

// feed takes in a record fed to the checksum of sc's block.
func (sc *scopeState) feed(tag byte, text []byte, withText bool) {
	if !sc.in {
		sc.loose = contenthash.AddByte(sc.loose, tag)
		if withText {
			sc.loose = contenthash.AddZero(contenthash.Add(sc.loose, text))
		}
		return
	}
	sc.cur.st.Fed = true
	h := contenthash.AddByte(sc.cur.sum, tag)
	if withText {
		h = contenthash.AddZero(contenthash.Add(h, text))
	}
	sc.cur.sum = h
}

// analyse takes in a node (or token) entered inside a top-level statement
// under parent, through field, and returns its value mode.
func (s *splitter) analyse(parent *frame, vk valueKind, field uint16, text []byte, leaf bool) valueMode {
	if parent.vm == vmNone {
		return vmNone
	}
	sc := s.inner()
	if sc == nil || sc.cur.failed {
		return vmNone
	}
	st := &sc.cur
	if vk == vkAnon {
		if parent.vm == vmNum && string(text) == "~" { // ~1.5 raises
			st.failed = true
		}
		return vmNone
	}
	fail := func() valueMode {
		st.failed = true
		return vmNone
	}
	value := func(key bool) valueMode {
		switch vk {
		case vkIdent:
			if key || !validName(text) {
				return fail()
			}
			return vmNone
		case vkNumber:
			if !validNumber(string(text)) {
				return fail()
			}
			return vmNone
		case vkConst:
			return vmNone
		case vkString:
			return vmStr
		case vkTuple:
			if key {
				return vmKey
			}
			return vmValue
		case vkUnary:
			return vmNum
		}
		if key {
			return fail()
		}
		switch vk {
		case vkList:
			return vmValue
		case vkSet:
			return vmKey
		case vkDict:
			return vmDict
		}
		return fail()
	}
	// cond takes in a part of an if statement's condition: reading names
	// and attributes and comparing them with literals computes a value
	// and changes nothing (a property or __eq__ the project defines runs
	// at import and is charged to every importer, as any code run there).
	cond := func() valueMode {
		switch vk {
		case vkIdent:
			if !validName(text) {
				return fail()
			}
			return vmNone
		case vkAttribute, vkCondOp, vkTuple:
			return vmCond
		case vkNumber, vkConst, vkString, vkUnary:
			return value(false)
		}
		return fail()
	}
	switch parent.vm {
	case vmStmt:
		switch vk {
		case vkAssign:
			return vmAssign
		case vkString:
			return vmStr
		}
		return fail()
	case vmAssign:
		switch field {
		case s.g.fieldLeft:
			if vk != vkIdent || !validName(text) || string(text) == "__debug__" {
				return fail()
			}
			return vmNone
		case s.g.fieldRight:
			if vk == vkAssign {
				return vmAssign
			}
			return value(false)
		}
		return fail()
	case vmValue:
		return value(false)
	case vmKey:
		return value(true)
	case vmNum:
		if vk == vkNumber && validNumber(string(text)) {
			return vmNone
		}
		if vk == vkUnary {
			return vmNum
		}
		return fail()
	case vmDict:
		if vk == vkPair {
			return vmPair
		}
		return fail()
	case vmPair:
		switch field {
		case s.g.fieldKey:
			return value(true)
		case s.g.fieldValue:
			return value(false)
		}
		return fail()
	case vmIf:
		switch vk {
		case vkBlock:
			return vmBody
		case vkIfPart:
			if parent.start == st.start {
				st.alt = true
			}
			return vmIf
		}
		return cond()
	case vmCond:
		return cond()
	case vmBody:
		switch vk {
		case vkExprStmt:
			return vmStmt
		case vkPass, vkImport:
			return vmNone
		case vkIf:
			return vmIf
		}
		return fail()
	case vmStr:
		switch vk {
		case vkStringStart:
			if !validStringStart(text, &st.bytes) {
				return fail()
			}
			return vmNone
		case vkStringPart:
			if !validStringContent(text, st.bytes) {
				return fail()
			}
			return vmStr // string_content holds escape sequences
		case vkEscape:
			if bytesHasPrefix(text, `\N`) && !st.bytes {
				return fail() // a named escape must name a real character
			}
			return vmNone
		}
		return fail()
	}
	return fail()
}

func bytesHasPrefix(b []byte, p string) bool { return strings.HasPrefix(string(b), p) }

// ident takes in an identifier token at scope (0: module level) under
// parent through field.
func (s *splitter) ident(parent *frame, scope int32, field uint16, start uint32, text []byte, defName bool) {
	name := string(text)
	// A parameter named like a builtin ("def f(locals=None)") is no use of
	// the builtin where it is declared. (Where the body reads it, it may be
	// one: "def f(getattr=getattr)".)
	declared := parent.vk == vkParam || parent.vk == vkDefaultParam && field == s.g.fieldName
	if attrReaders[name] && parent.imp == impNone && !declared {
		// operator.attrgetter("fee") reads an object's attributes by the
		// names in its strings, in C: like getattr(obj, name).
		s.objdyn[scope] = true
	}
	if dynamicNames[name] && parent.imp == impNone && !declared {
		// Using importlib, not importing it, reaches names dynamically.
		switch {
		case (defName || parent.vk == vkAssign && field == s.g.fieldLeft) && wholeHooks[name]:
			// Defining a module's or a class's __getattr__ or __dir__
			// makes that module or class one whole (see derive); code
			// that uses it names the module or reads the class's
			// attributes.
		case caughtNames[name]:
			// Catching one hides a missing name; subclassing or raising
			// it does not.
			if s.inExcept() {
				s.catches[scope] = true
			}
		case name == "suppress":
			s.catches[scope] = true
		case attrFuncs[name] && field == s.g.fieldFunction && int(parent.sym) < len(s.g.calls) && s.g.calls[parent.sym]:
			parent.dyn = dynCallee // decided by the first argument
		case oneArgFuncs[name] && field == s.g.fieldFunction && int(parent.sym) < len(s.g.calls) && s.g.calls[parent.sym]:
			parent.dyn = dynCalleeOne // decided by the argument
		case importFuncs[name] && field == s.g.fieldFunction && int(parent.sym) < len(s.g.calls) && s.g.calls[parent.sym]:
			parent.dyn = dynImportCallee // decided by the module's name
		case name == "__dict__" && parent.vk == vkAttribute && field == s.g.fieldAttribute:
			// x.__dict__ reads x's attributes, like vars(x).
			obj := bytes.TrimRight(s.src[parent.start:start], " \t\r\n\\")
			obj = bytes.TrimRight(bytes.TrimSuffix(obj, []byte(".")), " \t\r\n\\")
			if chain, ok := dottedChain(obj); ok || validName(obj) {
				if !ok {
					chain = string(obj)
				}
				s.targets[scope] = append(s.targets[scope], chain)
			} else {
				s.objdyn[scope] = true
			}
		default:
			s.dynamic[scope] = true
			if anyModuleUse(name, s.src[int(start)+len(text):]) && s.anyModuleOwner(name, parent, field, start) {
				s.anyModule[scope] = true
			}
		}
	}
	// "case Account(fee=1):" reads the subject's attribute fee, in C.
	kwPattern := int(parent.sym) < len(s.g.kwPatterns) && s.g.kwPatterns[parent.sym]
	if kwPattern {
		s.attrs[scope] = append(s.attrs[scope], name)
	}
	if parent.vk == vkAttribute && field == s.g.fieldAttribute && parent.imp == impNone {
		s.attrs[scope] = append(s.attrs[scope], name)
		obj := bytes.TrimRight(s.src[parent.start:start], " \t\r\n\\")
		obj = bytes.TrimRight(bytes.TrimSuffix(obj, []byte(".")), " \t\r\n\\")
		if chain, ok := dottedChain(obj); ok {
			s.lookups[scope] = append(s.lookups[scope], chain+"\x00"+name)
		} else if validName(obj) {
			s.lookups[scope] = append(s.lookups[scope], string(obj)+"\x00"+name)
		}
	}
	param := parent.vk == vkParam || parent.vk == vkDefaultParam && field == s.g.fieldName
	// getattr(mod, ...) reads mod's attributes as mod.x does: mod is not
	// handed to other code (see attrCallArg).
	getattrObject := parent.dyn == dynSecondArg && parent.dynTarget == name
	local, comp := s.bindsLocal(field)
	// An assignment target is bound, not handed over; f(validate=...)
	// names a parameter.
	keyword := field == s.g.fieldName && int(parent.sym) < len(s.g.keywords) && s.g.keywords[parent.sym]
	if !param && !defName && !local && !keyword && !kwPattern && parent.vk != vkAttribute && parent.imp == impNone && !getattrObject {
		s.bare[scope] = append(s.bare[scope], name)
	}
	if param && !defName {
		if blk := s.paramOf(); blk > 0 {
			// A parameter is the function's own name, whatever the
			// module's imports bind.
			s.locals[blk] = append(s.locals[blk], name)
		}
	}
	if !defName && !param && s.blocks[scope].Kind == Function {
		at, inComp := s.comprehension()
		switch {
		case local && comp:
			s.compLocals[scope] = append(s.compLocals[scope], compName(name, at))
		case local:
			s.locals[scope] = append(s.locals[scope], name)
		case !inComp:
			s.outerReads[scope] = append(s.outerReads[scope], name)
		default:
			s.compReads[scope] = append(s.compReads[scope], compName(name, at))
		}
	}
	sc := s.scopeOf[scope]
	if defName {
		if sc != nil && sc.in && parent.outer.scope == scope {
			sc.cur.st.Binds = append(sc.cur.st.Binds, name)
			sc.cur.st.def = true
		}
		return
	}
	if sc == nil || !sc.in {
		if !param {
			s.idents[scope] = append(s.idents[scope], name)
		}
		return
	}
	st := &sc.cur.st
	switch {
	case parent.imp == impAliased && field == s.g.fieldAlias:
		return // bound, from the import records
	case parent.imp != impNone:
		sc.cur.held = append(sc.cur.held, name)
		return
	case parent.vk == vkAttribute && field == s.g.fieldAttribute:
		sc.cur.held = append(sc.cur.held, name)
		if st.Kind == StmtCond {
			// "if flags.DEBUG:" reads flags' DEBUG when the module runs,
			// whatever the statement binds: no name of this scope carries it.
			s.idents[scope] = append(s.idents[scope], name)
		}
		return
	case parent.vk == vkAssign && field == s.g.fieldLeft:
		st.Binds = append(st.Binds, name)
		return
	case parent.vk == vkWalrus:
		st.Open = true
	case param:
		return
	}
	st.Reads = append(st.Reads, name)
}

// dynamicNames reach a module's or an object's names without naming them:
// code that mentions one of these depends on every name (SPEC 4.8).
// AttributeError, NameError and ImportError are here because code that
// catches them may behave differently once a name it looked for exists.
// dynState follows a getattr/hasattr/delattr call to its first argument.
type dynState uint8

const (
	dynNone         dynState = iota
	dynCallee                // a call node whose function is getattr & co.
	dynFirstArg              // its argument list, before the first argument
	dynSecondArg             // its argument list, before the second argument
	dynCalleeOne             // a call node whose function is dir or vars
	dynOnlyArg               // its argument list, before its argument
	dynImportCallee          // a call node whose function is __import__ or import_module
	dynImportArg             // its argument list, before the module's name
)

// attrCallArg takes in an argument of a getattr/hasattr/delattr call, or
// of dir/vars (args is the argument list's frame). A literal attribute name
// makes the call an attribute read like x.name (and, when x is a plain name
// or a dotted chain, a probe: the engine makes it depend on the name
// whether it is bound or not, since hasattr and getattr with a default
// answer for a missing name too). A computed one reads x's attributes
// whatever they are: the engine decides what x may be from the plain name
// or dotted chain (a module of the project, one from outside, anything
// else); any other expression is some object, not a module, unless a
// module was handed over as a value somewhere (see Chains and Bare).
func (s *splitter) attrCallArg(args *frame, scope int32, e event, vk valueKind) {
	text := s.src[e.start:e.end]
	switch args.dyn {
	case dynImportArg:
		// __import__("concurrent.futures"): an import of a module named by
		// a literal, which the string rule follows (ModulePaths): a project
		// module counts whole, one from outside not at all. A computed
		// name may be any module.
		args.dyn = dynNone
		if m := literalModule.FindSubmatch(text); m != nil {
			if !bytes.Contains(m[2], []byte(".")) {
				s.paths[scope] = append(s.paths[scope], string(m[2])) // a dotted one is a path anyway
			}
		} else {
			s.dynamic[scope] = true
			s.anyModule[scope] = s.anyModule[scope] || !moduleAttr(bytes.TrimSpace(text))
		}
	case dynFirstArg, dynOnlyArg:
		if len(text) > 0 && text[0] == '*' {
			args.dyn = dynNone
			s.dynamic[scope] = true
			return
		}
		target := ""
		switch {
		case e.kind == evLeaf && vk == vkIdent:
			target = string(text)
		case vk == vkAttribute:
			target, _ = dottedChain(text)
		}
		if args.dyn == dynOnlyArg {
			args.dyn = dynNone
			if target != "" {
				s.targets[scope] = append(s.targets[scope], target)
			} else {
				s.objdyn[scope] = true
			}
			return
		}
		args.dyn, args.dynTarget = dynSecondArg, target
	case dynSecondArg:
		args.dyn = dynNone
		if m := literalName.FindSubmatch(text); m != nil {
			s.idents[scope] = append(s.idents[scope], string(m[2]))
			s.attrs[scope] = append(s.attrs[scope], string(m[2]))
			if args.dynTarget != "" {
				s.probes[scope] = append(s.probes[scope], args.dynTarget+"\x00"+string(m[2]))
			}
		} else if args.dynTarget != "" {
			s.targets[scope] = append(s.targets[scope], args.dynTarget)
		} else {
			s.objdyn[scope] = true
		}
	}
}

// dottedChain returns the text of a dotted chain of identifiers ("a.b.c",
// spaces removed), or false.
func dottedChain(text []byte) (string, bool) {
	if !chainRe.Match(text) {
		return "", false
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(string(text), ".", " ")), "."), true
}

var chainRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:[ \t]*\.[ \t]*[A-Za-z_][A-Za-z0-9_]*)+$`)

// importFuncs import the module their first argument names.
var importFuncs = map[string]bool{"__import__": true, "import_module": true}

// literalModule matches a plain string literal that is a dotted module
// name.
var literalModule = regexp.MustCompile(`^[rRuU]?(['"])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)['"]$`)

// literalName matches a plain string literal that is an identifier.
var literalName = regexp.MustCompile(`^[rRuU]?(['"])([A-Za-z_][A-Za-z0-9_]*)['"]$`)

// caughtNames are the exceptions whose catching hides a missing name.
// ImportError is not one: "from m import NAME" depends on m's NAME whether
// it is bound or not, so a fallback import is followed by name; a module
// that does not exist is nobody's dependency either way.
// Exception and BaseException catch them too, as does a bare "except:"
// (see bareExcept) and contextlib.suppress, whatever it is given.
var caughtNames = map[string]bool{"AttributeError": true, "NameError": true, "Exception": true, "BaseException": true}

// bareExcept reports whether an except clause's text catches everything.
func bareExcept(text []byte) bool {
	rest, ok := strings.CutPrefix(string(text), "except")
	return ok && strings.HasPrefix(strings.TrimLeft(rest, " \t\\\r\n"), ":")
}

// attrFuncs read one object's attributes by a computed name.
var attrFuncs = map[string]bool{"getattr": true, "hasattr": true, "delattr": true}

// oneArgFuncs read all of one object's attributes (their argument's), or
// the scope's own names when called with none.
var oneArgFuncs = map[string]bool{"dir": true, "vars": true}

// wholeHooks, defined in a module or a class, answer for names it does not
// bind.
var wholeHooks = map[string]bool{"__getattr__": true, "__dir__": true}

// futureAnnotations matches "from __future__ import annotations" (with
// other features too): annotations are then strings, evaluated by no one
// when the def runs (PEP 563).
var futureAnnotations = regexp.MustCompile(`\bannotations\b`)

// typeChecking matches the start of "if TYPE_CHECKING:" and of
// "if typing.TYPE_CHECKING:".
var typeChecking = regexp.MustCompile(`^if[ \t]+(?:(typing)[ \t]*\.[ \t]*TYPE_CHECKING|(TYPE_CHECKING))[ \t]*:`)

// typingOnly reports whether the statements bind name only by importing
// it from typing ("import typing", "from typing import TYPE_CHECKING"), so
// that "if name:" or "if name.TYPE_CHECKING:" is false at run time.
func typingOnly(stmts []Stmt, name string) bool {
	found := false
	for _, st := range stmts {
		if !slices.Contains(st.Binds, name) {
			continue
		}
		if st.Kind != StmtImport || found {
			return false
		}
		for _, imp := range st.Imports {
			if imp.Module != "typing" && imp.Module != "typing_extensions" || imp.Level != 0 {
				return false
			}
			if name == "typing" && (imp.Module != "typing" || len(imp.Names) != 0) {
				return false
			}
		}
		found = true
	}
	return found
}

// inExcept reports whether the token being entered lies in an except
// clause's exception types (not its body).
func (s *splitter) inExcept() bool {
	for k := len(s.stack) - 1; k >= 0; k-- {
		f := &s.stack[k]
		if f.role == roleBlock {
			return false
		}
		if int(f.sym) < len(s.g.excepts) && s.g.excepts[f.sym] {
			return true
		}
	}
	return false
}

// DynamicTargets returns the objects (plain names) of the getattr, hasattr
// and delattr calls in block i with a computed attribute name: the engine
// counts the block as reaching names dynamically unless each names a
// module from outside the project.
func (f *File) DynamicTargets(i int) []string {
	if i < 0 || i >= len(f.targets) {
		return nil
	}
	return f.targets[i]
}

// attrReaders read an object's attributes by names held in strings.
var attrReaders = map[string]bool{"attrgetter": true, "methodcaller": true}

// formatAttr finds a str.format replacement field that reads an attribute
// ("{0.fee}", "{account.fee}", "{rows[0].fee:>8}"): the string reads the
// attribute of whatever object it is formatted with, in C. Or a template's
// markers ("{{", "{%", "${": Jinja, Django, Mako), which read attributes
// through subscripts too.
var formatAttr = regexp.MustCompile(`\{[A-Za-z0-9_]*(?:\[[^\]{}]*\])*\.[A-Za-z_]|\{\{|\{%|\$\{`)

var dynamicNames = map[string]bool{
	"globals": true, "vars": true, "locals": true, "dir": true,
	"getattr": true, "hasattr": true, "delattr": true,
	"eval": true, "exec": true, "__import__": true, "import_module": true,
	"importlib": true, "modules": true, "__dict__": true, "getmembers": true,
	"AttributeError": true, "NameError": true, "reload": true, "__getattr__": true,
	"__dir__": true, "__globals__": true, "f_globals": true, "f_locals": true, "getmodule": true,
	"resolve_name": true, "Exception": true, "BaseException": true, "suppress": true,
}

var (
	intRe   = regexp.MustCompile(`^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?0)*|[1-9](?:_?[0-9])*)$`)
	floatRe = regexp.MustCompile(`^(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][+-]?[0-9](?:_?[0-9])*)?[jJ]?$`)
)

// validNumber reports whether Python accepts a number literal (tree-sitter
// accepts some it refuses, such as 0777).
func validNumber(s string) bool {
	if strings.ContainsAny(s, ".eEjJ") && !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return floatRe.MatchString(s)
	}
	return intRe.MatchString(s)
}

// validName reports whether an identifier is a plain ASCII one (others are
// left to the whole-module rule rather than checked against Unicode's
// identifier classes).
func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i, c := range b {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// validStringStart checks a string's prefix: an f-string or a t-string
// is left to the whole-module rule.
func validStringStart(text []byte, isBytes *bool) bool {
	t := strings.TrimRight(string(text), `'"`)
	switch strings.ToLower(t) {
	case "", "r", "u":
		*isBytes = false
	case "b", "br", "rb":
		*isBytes = true
	default:
		return false
	}
	return true
}

// validStringContent refuses what Python may refuse in a string literal:
// a named escape (which must name a real character) and non-ASCII bytes.
func validStringContent(text []byte, isBytes bool) bool {
	if !isBytes {
		return !strings.Contains(string(text), `\N`)
	}
	for _, c := range text {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// TopLevel is a module's top level as seen by SPEC 4.8.
type TopLevel struct {
	// Precise is false when the module must be taken as a whole: its
	// Effects and Exports are then the "<module>" checksum.
	Precise bool
	// Effects is the checksum of the statements with effects, of what they
	// read, and of the builtins the module shadows.
	Effects uint64
	// Exports is the checksum of what "from m import *" takes.
	Exports uint64
	// ExportNames are those names, sorted, when known: "__all__" a list of
	// string literals, or no "__all__" and no statement that may bind names
	// unseen. nil when unknown ("<exports>" then stands for them all).
	ExportNames []string
	// Names maps the names bound by statements other than definitions to
	// the checksum of the statements that bind them and what those read.
	// Never 0: 0 stands for "not bound".
	Names map[string]uint64
	// Bound lists the keys of Names, sorted.
	Bound []string
	// Feeds maps the names that statements without effects bind to the
	// names those statements read (T = (A, B)): a name's value is computed
	// from theirs, which the engine follows to the modules a from-import
	// takes a value from.
	Feeds map[string][]string
	// EffectReads are the names the statements with effects read, sorted:
	// every importer depends on their values, as on the statements.
	EffectReads []string
}

// Derive computes the module's statement view. importPrecise tells whether
// an import statement's target resolves to something whose import cannot
// fail and has no effects the engine would miss; nil counts every import
// as having effects.
func (f *File) Derive(importPrecise func(Import) bool) TopLevel {
	if len(f.Blocks) == 0 {
		return TopLevel{}
	}
	whole := f.Blocks[0].Checksum
	if !f.Parsed || f.Dynamic(0) {
		return TopLevel{Effects: whole, Exports: whole}
	}
	m := derive(f.Stmts, f.loose, whole, importPrecise, false)
	if m.ExportNames != nil && slices.Contains(m.Bound, "__all__") {
		// A function or class that mentions __all__ may change it.
		for i := range f.Blocks {
			if _, ok := slices.BinarySearch(f.Idents(i), "__all__"); ok {
				m.ExportNames = nil
				break
			}
		}
	}
	return m
}

// DeriveClass computes the statement view of a class body: Effects stands
// for the class header, the statements with effects and the set of names
// the class binds (a new one may shadow an inherited attribute), Names for
// its attributes bound by literal assignments. A class with bases is one
// whole unless plainBases: the caller found that creating a subclass of
// them runs no hook that could read the class's attributes (a metaclass,
// __init_subclass__).
func (f *File) DeriveClass(c ClassBody, plainBases bool) TopLevel {
	whole := f.Blocks[c.Block].Checksum
	plain := c.Plain || plainBases && !c.Decorated && !c.Opaque
	if !f.Parsed || !plain || f.Dynamic(c.Block) {
		return TopLevel{Effects: whole, Exports: whole}
	}
	return derive(c.Stmts, c.loose, whole, nil, true)
}

// literalAll returns the names of "__all__ = [...]" (or a tuple) when the
// statement is that and the list holds only plain string literals, else nil.
func literalAll(text []byte) []string {
	m := allRe.FindSubmatch(text)
	if m == nil {
		return nil
	}
	names := []string{}
	for _, n := range allItemRe.FindAllSubmatch(m[1], -1) {
		names = append(names, string(n[2]))
	}
	return names
}

var (
	allRe     = regexp.MustCompile(`^__all__\s*(?::[^=]*)?=\s*[\[(]((?:\s*[rRuU]?(?:'[A-Za-z_][A-Za-z0-9_]*'|"[A-Za-z_][A-Za-z0-9_]*")\s*,)*(?:\s*[rRuU]?(?:'[A-Za-z_][A-Za-z0-9_]*'|"[A-Za-z_][A-Za-z0-9_]*"))?\s*,?\s*)[\])]$`)
	allItemRe = regexp.MustCompile(`[rRuU]?(['"])([A-Za-z_][A-Za-z0-9_]*)['"]`)
)

func derive(stmts []Stmt, loose, whole uint64, importPrecise func(Import) bool, class bool) TopLevel {
	m := TopLevel{Effects: whole, Exports: whole}
	defs := map[string]bool{}
	for _, st := range stmts {
		for _, b := range st.Binds {
			if wholeHooks[b] && class {
				// A class's instances answer names without binding them.
				// A module's __getattr__ answers only the names it does
				// not bind, and those are looked up by name: code that
				// looks one up depends on it, bound or not, and on the
				// __getattr__ it ran.
				return m
			}
			if class {
				switch b {
				case "__slots__", "__getattribute__", "__dict__", "__set_name__":
					return m // attributes reached other than by name
				}
			}
		}
		if st.Kind == StmtDef || st.Kind == StmtEffect && !st.Open {
			for _, b := range st.Binds {
				if st.Kind == StmtDef || isDefBind(st) {
					defs[b] = true
				}
			}
		}
	}
	if class && (defs["__getattr__"] || defs["__dir__"]) {
		return m
	}
	kinds := make([]StmtKind, len(stmts))
	for i, st := range stmts {
		k := st.Kind
		if st.typing != "" && typingOnly(stmts, st.typing) {
			// Only a type checker runs it: nothing at run time.
			kinds[i] = stmtTyping
			continue
		}
		switch k {
		case StmtDef:
			if st.Fed {
				k = StmtEffect
			}
		case StmtImport, StmtCond:
			for _, imp := range st.Imports {
				if importPrecise == nil || !importPrecise(imp) {
					k = StmtEffect
				}
			}
		}
		if k == StmtAssign || k == StmtImport || k == StmtNoop || k == StmtCond {
			for _, b := range st.Binds {
				if defs[b] || readByName(b) {
					k = StmtEffect
				}
			}
		}
		kinds[i] = k
	}
	state := map[string]uint64{}
	bound := map[string]bool{}
	open := false
	eff := mixU(contenthash.Offset, loose)
	epoch := uint64(0)
	feeds := map[string][]string{}
	var effectReads []string
	for i, st := range stmts {
		k := kinds[i]
		if k == StmtAssign || k == StmtCond {
			for _, r := range st.Reads {
				if !bound[r] {
					k = StmtEffect // a builtin, or a NameError
				}
			}
		}
		switch k {
		case stmtTyping:
		case StmtDef:
			for _, b := range st.Binds {
				bound[b] = true
			}
		case StmtAssign, StmtImport, StmtNoop, StmtCond:
			if len(st.Reads) > 0 {
				for _, b := range st.Binds {
					feeds[b] = append(feeds[b], st.Reads...)
				}
			}
			h := mixU(mixU(st.Sum, epoch), uint64(k))
			for _, r := range st.Reads {
				h = mixS(h, r)
				h = mixU(h, state[r])
			}
			for _, b := range st.Binds {
				state[b] = mixU(mixU(state[b]^contenthash.Offset, h), 1)
				bound[b] = true
			}
		default:
			effectReads = append(effectReads, st.Reads...)
			h := mixU(eff, st.Sum)
			for _, r := range st.Reads {
				h = mixS(h, r)
				if bound[r] {
					h = mixU(h, state[r]|1)
				} else {
					h = mixU(h, 0)
				}
			}
			if st.Future {
				h = mixU(h, uint64(i)) // only a docstring may come before
			}
			eff = h
			epoch++
			open = open || st.Open
			for _, b := range st.Binds {
				bound[b] = true
				if !defs[b] {
					state[b] = mixU(mixU(state[b]^contenthash.Offset, h), epoch)
				}
			}
		}
	}
	var shadow []string
	for b := range bound {
		if builtinNames[b] {
			shadow = append(shadow, b)
		}
	}
	slices.Sort(shadow)
	for _, b := range shadow {
		eff = mixS(eff, b)
	}
	if class {
		var all []string
		for b := range bound {
			all = append(all, b)
		}
		slices.Sort(all)
		eff = mixS(eff, strings.Join(all, "\n"))
	}
	m.Precise = true
	m.Effects = eff
	m.Names = make(map[string]uint64, len(state))
	for n, h := range state {
		if h == 0 {
			h = 1
		}
		m.Names[n] = h
		m.Bound = append(m.Bound, n)
	}
	slices.Sort(m.Bound)
	if len(feeds) > 0 {
		m.Feeds = feeds
	}
	slices.Sort(effectReads)
	m.EffectReads = slices.Compact(effectReads)
	switch {
	case bound["__all__"]:
		m.Exports = mixU(mixS(contenthash.Offset, "__all__"), state["__all__"])
		m.ExportNames = allNames(stmts)
	case open:
		m.Exports = whole
	default:
		public := []string{}
		for b := range bound {
			if !strings.HasPrefix(b, "_") {
				public = append(public, b)
			}
		}
		slices.Sort(public)
		m.Exports = contenthash.Sum([]byte(strings.Join(public, "\n")))
		m.ExportNames = public
	}
	return m
}

// allNames returns the names of a module's "__all__" when one statement
// binds it, to a list of string literals, and no other statement reads it
// (__all__ += [...], __all__.extend(...)); else nil.
func allNames(stmts []Stmt) []string {
	var names []string
	for _, st := range stmts {
		if slices.Contains(st.Reads, "__all__") {
			return nil
		}
		if !slices.Contains(st.Binds, "__all__") {
			continue
		}
		if names != nil || st.exports == nil {
			return nil
		}
		names = slices.Clone(st.exports)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// readByName reports whether a module-level name is one that frameworks
// read by its name rather than through code the engine sees: pytest's
// (pytest_plugins, collect_ignore, pytestmark, hooks), and dunder names
// other than __all__, __version__ and __doc__ (__test__, __path__...). A
// name that shadows or is shadowed by a definition counts too. Statements
// binding them keep the whole-module rule.
func readByName(name string) bool {
	switch name {
	case "__all__", "__version__", "__doc__":
		return false
	case "pytestmark", "collect_ignore", "collect_ignore_glob":
		return true
	}
	return strings.HasPrefix(name, "pytest_") || strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__")
}

// isDefBind reports whether a statement with effects is a decorated
// definition: its one bind is the definition's name.
func isDefBind(st Stmt) bool { return st.def }

// Idents returns the identifiers block i's own code reads, sorted: for
// "<module>" (i == 0) those of the top level, definitions' headers
// included; nil when unknown.
func (f *File) Idents(i int) []string {
	if i < 0 || i >= len(f.idents) {
		return nil
	}
	return f.idents[i]
}

// Bare returns the identifiers block i's own code uses as plain values
// (not "x.attr" nor ".attr"), sorted: a module bound to one of them is
// handed to other code, which may read its attributes by name.
func (f *File) Bare(i int) []string {
	if i < 0 || i >= len(f.bare) {
		return nil
	}
	return f.bare[i]
}

// ModulePaths returns the strings in block i that read as a dotted path
// ("pkg.settings", "pkg.settings.FLAG", "pkg.mod:func"). Code that hands such
// a string to a library (pkgutil.resolve_name, mock.patch, Django's
// settings, entry points, plugin registries) reaches that module's names
// without naming them.
func (f *File) ModulePaths(i int) []string {
	if i < 0 || i >= len(f.paths) {
		return nil
	}
	return f.paths[i]
}

// StringNames returns the words of the strings in block i that list names
// ("fee", "fee balance", "x, y", "account.fee"), unsorted, repeated: code
// that hands such a string to a library (a serializer's
// Meta.fields = ("fee",), mock.patch.object(Account, "fee"),
// namedtuple("P", "x y")) has the library read attributes by those names
// in code the recorder does not watch.
func (f *File) StringNames(i int) []string {
	if i < 0 || i >= len(f.words) {
		return nil
	}
	return f.words[i]
}

// nameList matches a string that only lists names: words separated by
// spaces, commas or dots. maxNameList bounds it: a longer one is text.
var (
	nameList = regexp.MustCompile(`^\s*` + ident + `(?:(?:\s*,\s*|\s+|\.)` + ident + `)*\s*,?\s*$`)
	nameWord = regexp.MustCompile(ident)
)

// ident matches a Python identifier, which may be non-ASCII (PEP 3131:
// XID_Start then XID_Continue, approximated by Unicode categories).
const ident = `[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*`

const maxNameList = 256

// dottedPath matches a whole string literal that reads as a dotted path,
// with an optional ":attr" suffix (the resolve_name/entry-point form),
// alone or after what libraries put in front of one: a scheme (logging's
// "ext://pkg.mod.NAME") or an entry point's "name = ". Group 1 is the path.
// Prose ("see pkg.mod") is left out: a docstring is no reference.
var dottedPath = regexp.MustCompile(`^\s*(?:[A-Za-z][A-Za-z0-9+.-]*://|[\w.-]+\s*=\s*)?(` +
	ident + `(?:\.` + ident + `)+(?::` + ident + `(?:\.` + ident + `)*)?|` +
	ident + `:` + ident + `(?:\.` + ident + `)*)\s*$`)

// modulePath returns the dotted path a string literal reads as (dottedPath).
func modulePath(text []byte) (string, bool) {
	if bytes.IndexAny(text, ".:") < 0 {
		return "", false // most strings: no regexp
	}
	m := dottedPath.FindSubmatch(text)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// ImportBinds returns the names f.Imports[i] binds.
func (f *File) ImportBinds(i int) []string {
	if i < 0 || i >= len(f.binds) {
		return nil
	}
	return f.binds[i]
}

// ObjectDynamic reports whether block i's own code reads an object's
// attributes by computed names (getattr(self, name), vars(obj),
// x.y.__dict__) where the object is not a plain name or a dotted chain
// (those are in DynamicTargets): it may be any class or instance, and it is
// a module only if some code handed one over as a value.
func (f *File) ObjectDynamic(i int) bool {
	return i >= 0 && i < len(f.objdyn) && f.objdyn[i]
}

// Catches reports whether block i's own code catches AttributeError or
// NameError: a name missing now may be bound later.
func (f *File) Catches(i int) bool {
	return i >= 0 && i < len(f.catches) && f.catches[i]
}

// Chains returns the dotted chains block i uses as values ("pkg.sub" in
// f(pkg.sub), not "pkg.sub.x" nor "pkg.sub.f()"), sorted: one that names a
// module hands it to other code, like a bare module name (Bare).
func (f *File) Chains(i int) []string {
	if i < 0 || i >= len(f.chains) {
		return nil
	}
	return f.chains[i]
}

// Attrs returns the names block i reads as attributes (x.NAME, and
// getattr(x, "NAME")), sorted.
func (f *File) Attrs(i int) []string {
	if i < 0 || i >= len(f.attrs) {
		return nil
	}
	return f.attrs[i]
}

// Locals returns the names function block i binds by assignment or in a
// for loop or comprehension, sorted: there they are the function's own
// (a comprehension's), not the module's, whatever imports bind.
func (f *File) Locals(i int) []string {
	if i < 0 || i >= len(f.locals) {
		return nil
	}
	return f.locals[i]
}

// bindsLocal reports whether the identifier being entered (through field
// under the top of the stack) is a target an assignment or a for loop
// binds, and whether a comprehension's.
func (s *splitter) bindsLocal(field uint16) (local, comp bool) {
	for k := len(s.stack) - 1; k >= 1; k-- {
		fr := &s.stack[k]
		sym := int(fr.sym)
		if field == s.g.fieldLeft && sym < len(s.g.binders) && s.g.binders[sym] {
			_, inComp := s.comprehension()
			return true, s.g.vk(fr.sym) == vkOther && inComp
		}
		if sym >= len(s.g.patterns) || !s.g.patterns[sym] {
			return false, false
		}
		field = fr.field
	}
	return false, false
}

// paramOf returns the block of the function (not lambda) whose parameter
// is being entered, or -1.
func (s *splitter) paramOf() int32 {
	for k := len(s.stack) - 1; k >= 1; k-- {
		fr := &s.stack[k]
		switch {
		case fr.role == roleFunc:
			return fr.blk
		case fr.vk != vkParam && fr.vk != vkDefaultParam:
			return -1
		}
	}
	return -1
}

// comprehension returns where the innermost comprehension or generator
// expression of the current statement around the token being entered
// starts, if there is one: its names are its own.
func (s *splitter) comprehension() (uint32, bool) {
	for k := len(s.stack) - 1; k >= 1; k-- {
		fr := &s.stack[k]
		if fr.role == roleBlock || fr.role == roleFunc || fr.role == roleClass {
			return 0, false
		}
		if int(fr.sym) < len(s.g.comprehensions) && s.g.comprehensions[fr.sym] {
			return fr.start, true
		}
	}
	return 0, false
}

// compName names a name in the comprehension starting at at.
func compName(name string, at uint32) string {
	return name + "\x00" + strconv.FormatUint(uint64(at), 10)
}

// Probes returns block i's hasattr/getattr/delattr calls with a literal
// name on a plain name or a dotted chain, as "target\x00name": they see
// whether the name is bound.
func (f *File) Probes(i int) []string {
	if i < 0 || i >= len(f.probes) {
		return nil
	}
	return f.probes[i]
}

// Lookups returns the attributes block i's own code looks up on a plain
// name or a dotted chain (x.NAME, pkg.mod.NAME), as "x\x00NAME", sorted:
// on a module, each is a module-level name the code depends on whether it
// is bound or not (a missing one raises AttributeError, which code or a
// test may expect).
func (f *File) Lookups(i int) []string {
	if i < 0 || i >= len(f.lookups) {
		return nil
	}
	return f.lookups[i]
}

// Dynamic reports whether block i's own code reaches names without naming
// them (getattr, globals(), vars(), importlib...).
func (f *File) Dynamic(i int) bool {
	return i >= 0 && i < len(f.dynamic) && f.dynamic[i]
}

// AnyModule reports whether block i gets a module by a name it computes
// (import_module(name), __import__(name), sys.modules[key],
// pkgutil.resolve_name(name), or eval/exec of a computed string, which
// may import one): a module imported already comes back
// without an import the recorder would see, so the code may read the names
// of any module imported so far, reached by the test's imports or not.
func (f *File) AnyModule(i int) bool {
	return i >= 0 && i < len(f.anyModule) && f.anyModule[i]
}

// anyModuleUse tells whether a dynamic name, followed in the source by
// rest, gets a module by a computed name (see File.AnyModule). A literal
// name is an import of that module, which the string rule follows, and
// sys.modules[__name__] is the code's own module.
func anyModuleUse(name string, rest []byte) bool {
	rest = bytes.TrimLeft(rest, " \t")
	switch name {
	case "eval", "exec":
		// Code in a string may import any module by name too: a literal
		// one only when it says so.
		if r, ok := bytes.CutPrefix(rest, []byte("(")); ok {
			code, literal := literalText(r)
			return !literal || bytes.Contains(code, []byte("import"))
		}
		return true
	case "import_module", "__import__", "resolve_name":
		// The call form with a plain name is decided by attrCallArg; here
		// importlib.import_module(...), or the function as a value.
		if r, ok := bytes.CutPrefix(rest, []byte("(")); ok {
			return !literalArg(r) && !objectsModule(r)
		}
		return true
	case "modules":
		if r, ok := bytes.CutPrefix(rest, []byte("[")); ok {
			return !literalArg(r) && !objectsModule(r)
		}
		if r, ok := bytes.CutPrefix(rest, []byte(".get(")); ok {
			return !literalArg(r) && !objectsModule(r)
		}
		for _, m := range []string{".values", ".items", ".copy", ".__getitem__", ".setdefault"} {
			if bytes.HasPrefix(rest, []byte(m)) {
				return true
			}
		}
		// "name in sys.modules", sys.modules.pop(name), patch.dict(sys.modules):
		// no module comes back.
		return false
	}
	return false
}

// anyModuleOwner reports whether a name that anyModuleUse took is the
// one it means: sys.modules, builtins' eval and exec, or any object's
// import_module and resolve_name (importlib's, pkgutil's); a plain name
// is (from sys import modules). df.eval(...) or self.modules[k] are not.
func (s *splitter) anyModuleOwner(name string, parent *frame, field uint16, start uint32) bool {
	if parent.vk != vkAttribute || field != s.g.fieldAttribute {
		return true
	}
	obj := bytes.TrimRight(s.src[parent.start:start], " \t\r\n\\")
	obj = bytes.TrimRight(bytes.TrimSuffix(obj, []byte(".")), " \t\r\n\\")
	switch name {
	case "modules":
		return string(obj) == "sys"
	case "eval", "exec":
		return string(obj) == "builtins"
	}
	return true
}

// literalArg reports whether b starts with one argument that is a string
// literal (or __name__), ended by ")", "]" or ",".
func literalArg(b []byte) bool {
	if r, ok := bytes.CutPrefix(bytes.TrimLeft(b, " \t"), []byte("__name__")); ok {
		return argEnd(r)
	}
	_, ok := literalText(b)
	return ok
}

// literalText returns the text of the string literal that b starts with,
// when that literal is one whole argument (ended by ")", "]" or ",").
func literalText(b []byte) ([]byte, bool) {
	b = bytes.TrimLeft(b, " \t")
	for len(b) > 0 && bytes.IndexByte([]byte("rRbBuU"), b[0]) >= 0 {
		b = b[1:]
	}
	if len(b) == 0 || b[0] != '"' && b[0] != '\'' {
		return nil, false
	}
	q := b[0]
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '\n':
			return nil, false
		case q:
			return b[1:i], argEnd(b[i+1:])
		}
	}
	return nil, false
}

// objectsModule reports whether b starts with one argument that names the
// module of an object the code holds (sys.modules[cls.__module__]): that
// module defined the object, so the code reached it as it reached the
// object, and the engine follows that as for getattr on an object.
func objectsModule(b []byte) bool {
	end := bytes.IndexAny(b, ")],\n")
	if end < 0 {
		return false
	}
	return moduleAttr(bytes.TrimSpace(b[:end]))
}

// moduleAttr reports whether an expression is a name's or a dotted
// chain's __module__.
func moduleAttr(arg []byte) bool {
	if !bytes.HasSuffix(arg, []byte(".__module__")) {
		return false
	}
	_, ok := dottedChain(arg)
	return ok
}

func argEnd(b []byte) bool {
	b = bytes.TrimLeft(b, " \t")
	return len(b) > 0 && (b[0] == ')' || b[0] == ']' || b[0] == ',')
}

func mixU(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = contenthash.AddByte(h, byte(v))
		v >>= 8
	}
	return h
}

func mixS(h uint64, s string) uint64 {
	return contenthash.AddZero(contenthash.Add(h, []byte(s)))
}

// IsBuiltin reports whether name is one of Python's builtins: a plain name
// that code reads and its module does not bind.
func IsBuiltin(name string) bool { return builtinNames[name] }

// builtinNames are the names of Python's builtins module (3.9 to 3.13): a
// module-level binding of one changes what every function in the module
// that reads it sees, recorded or not.
var builtinNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`ArithmeticError AssertionError AttributeError BaseException
BaseExceptionGroup BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError
ConnectionAbortedError ConnectionError ConnectionRefusedError ConnectionResetError
DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception ExceptionGroup
False FileExistsError FileNotFoundError FloatingPointError FutureWarning GeneratorExit IOError
ImportError ImportWarning IndentationError IndexError InterruptedError IsADirectoryError
KeyError KeyboardInterrupt LookupError MemoryError ModuleNotFoundError NameError None
NotADirectoryError NotImplemented NotImplementedError OSError OverflowError
PendingDeprecationWarning PermissionError ProcessLookupError PythonFinalizationError
RecursionError ReferenceError ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration
StopIteration SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError True
TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError
UnicodeTranslateError UnicodeWarning UserWarning ValueError Warning ZeroDivisionError
__build_class__ __debug__ __doc__ __import__ __loader__ __name__ __package__ __spec__ abs
aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile
complex copyright credits delattr dict dir divmod enumerate eval exec exit filter float format
frozenset getattr globals hasattr hash help hex id input int isinstance issubclass iter len
license list locals map max memoryview min next object oct open ord pow print property quit
range repr reversed round set setattr slice sorted staticmethod str sum super tuple type vars
zip`) {
		m[n] = true
	}
	return m
}()
