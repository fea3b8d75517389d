// Package blocks splits Python source into blocks: units of code with a
// stable identity (their qualified name) and a checksum of their syntax.
//
// The rules are those of SPEC 4.1-4.3:
//   - one block per function or method (nested functions are their own
//     blocks, named like Python's __qualname__: "outer.<locals>.inner");
//   - one block per class body ("Account", "Outer.Inner");
//   - one "<module>" block for the top level;
//   - a file that cannot be parsed or decoded is one "<file>" block whose
//     checksum is the hash of its bytes.
package blocks

// Kind says what a block stands for.
type Kind uint8

const (
	Module   Kind = iota // "<module>": top-level statements
	Class                // a class body
	Function             // a function or method
	Whole                // "<file>": an unparsable file, by content
	Defs                 // "<defs>": the set of names defined in the file
)

// Dynamic is the Readers key of code that reads module names without
// naming them.
const Dynamic = "*"

// Block is one unit of code.
type Block struct {
	Name     string
	Kind     Kind
	Start    int    // first line, 1-based, including decorators
	End      int    // last line, inclusive
	Checksum uint64 // layout-insensitive hash of the block's syntax
}

// File is the result of splitting one source file.
type File struct {
	Blocks []Block
	// Parsed is false when the source could not be decoded or parsed; Blocks
	// then holds the single Whole block.
	Parsed bool
	// Panic is set when parsing panicked (a parser bug): the file is then
	// one Whole block, which is safe, and the engine says so with --diff-v.
	Panic string
	// Names lists the names of all Class and Function blocks, sorted; the
	// "<defs>" block's checksum is the hash of this list.
	Names []string
	// Readers maps each top-level definition's name, and Dynamic, to the
	// blocks whose code mentions it (not as a definition's own name or an
	// attribute after "."): where a new definition of that name may change
	// what the code reads. Dynamic stands for code that reaches names
	// without naming them ("from m import *", globals(), eval...).
	Readers map[string][]string
	// Imports lists the file's import statements (see Import) in source
	// order, "from __future__" aside; nil for an unparsed file.
	Imports []Import

	// Stmts are the module's top-level statements (SPEC 4.8); nil for an
	// unparsed file.
	Stmts []Stmt
	// Classes are the class bodies' statements, in the order the bodies
	// end (inner before outer).
	Classes []ClassBody

	spans     []span     // line table of BlockAt
	idents    [][]string // per block: see Idents
	bare      [][]string // per block: see Bare
	paths     [][]string // per block: see ModulePaths
	words     [][]string // per block: see StringNames
	binds     [][]string // per import: see ImportBinds
	dynamic   []bool     // per block: see Dynamic
	anyModule []bool     // per block: see AnyModule
	targets   [][]string // per block: see DynamicTargets
	objdyn    []bool     // per block: see ObjectDynamic
	catches   []bool     // per block: see Catches
	chains    [][]string // per block: see Chains
	probes    [][]string // per block: see Probes
	locals    [][]string // per block: see Locals
	attrs     [][]string // per block: see Attrs
	lookups   [][]string // per block: see Lookups
	loose     uint64     // module-level tokens outside any statement
}
