package blocks

// Import is one import statement's target, as written.
//
//	import a.b.c          -> {Module: "a.b.c"}
//	from a.b import c, d  -> {Module: "a.b", Names: ["c", "d"]}
//	from . import x       -> {Level: 1, Names: ["x"]}
//	from ..p import *     -> {Level: 2, Module: "p", Names: ["*"]}
//
// Every import in the file counts, including those inside functions, `if
// TYPE_CHECKING:` and try blocks: over-approximating only selects more.
type Import struct {
	Module string
	Level  int // leading dots of a relative import
	Names  []string
}
