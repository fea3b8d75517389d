package selection

import (
	"fmt"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// The selection algorithm (SPEC 4.5, 4.6). The engine reads the baseline
// and the files and hands the rows over; the functions here decide, in
// this order:
//
//  1. Changes: which block versions are stale, and why (CheckFile for each
//     changed file and the environment, Unsafe, Marked; then Orphans and
//     Missing for rows that records refer to and the baseline lacks).
//  2. Affected: which recorded tests depend on a stale version, besides
//     the Failing ones.
//  3. Collect and Deselect: which recorded test files need not be
//     collected, and which collected tests are deselected.
//
// When in doubt a test is selected: a version of a file that cannot be
// read, a row that is missing, a list that cannot be decoded.

// DamagedRecord is the reason given for a test whose stored dependency
// list cannot be decoded.
const DamagedRecord = "its record in the baseline is damaged"

// MissingRows is the reason given for a test whose record refers to block
// versions or a shared list that the baseline no longer holds.
const MissingRows = "its record refers to rows missing from the baseline"

// NameChange is a stale name block ("<module>:RATE", "Account:fee") of a
// file, and, once it selected a test, that test's own dependency list:
// with --diff-why the engine names the code that read the name.
type NameChange struct {
	Path, Block string
	Deps        []byte
}

// Changes are the block versions found stale, each with the reason it
// selects the tests that depend on it.
type Changes struct {
	Reasons map[int64]string // block version id -> why it is stale
	// Names are the stale versions of name blocks, noted when asked (why).
	Names map[int64]NameChange
	// Flips are the versions whose stored stale flag is no longer right: a
	// recording session writes them back.
	Flips   []store.Block
	checked map[int64]bool // files rows whose versions were compared now
}

// NewChanges returns an empty set of changes.
func NewChanges() *Changes {
	return &Changes{Reasons: map[int64]string{}, Names: map[int64]NameChange{}, checked: map[int64]bool{}}
}

// Any reports whether some version is stale.
func (c *Changes) Any() bool { return len(c.Reasons) > 0 }

// CheckFile compares the recorded versions bs of the file at path (files
// row fileID) with what the file is now. Every version is recomputed, not
// only those not yet marked: a file can change back. why: note the stale
// name blocks of project files.
func (c *Changes) CheckFile(fileID int64, path string, bs []store.Block, cur Current, why bool) {
	c.checked[fileID] = true
	versions := VersionsOf(bs)
	for _, b := range bs {
		stale := Stale(b, cur, versions)
		if stale {
			c.Reasons[b.ID] = Reason(path, b, cur, versions)
			if why && !store.IsEnvPath(path) && cur.File != nil && IsName(b.Name) {
				c.Names[b.ID] = NameChange{Path: path, Block: b.Name}
			}
		}
		if stale != b.Stale {
			b.Stale = stale
			c.Flips = append(c.Flips, b)
		}
	}
}

// Unsafe marks stale every version of a file whose stored path is absolute
// or outside the root (SPEC 3.2): it is never read, so what depends on it
// cannot be vouched for. The flag stays, so that the versions go once no
// test refers to them.
func (c *Changes) Unsafe(f store.File, bs []store.Block) {
	for _, b := range bs {
		c.Reasons[b.ID] = fmt.Sprintf("%q: unsafe path in the baseline", f.Path)
		c.checked[f.ID] = true
		if !b.Stale {
			b.Stale = true
			c.Flips = append(c.Flips, b)
		}
	}
}

// Marked adds the versions the baseline holds as stale, of the files not
// compared in this run (unchanged since a recording run marked them, or of
// another environment's pseudo-file). pathOf maps files rows to paths.
func (c *Changes) Marked(marked []store.Block, pathOf map[int64]string) {
	for _, b := range marked {
		if c.checked[b.FileID] {
			continue
		}
		p, ok := pathOf[b.FileID]
		switch {
		case ok && b.Name == Edited:
			c.Reasons[b.ID] = p + " changed while the tests ran"
		case ok:
			c.Reasons[b.ID] = fmt.Sprintf("%s::%s changed", p, b.Name)
		default:
			c.Reasons[b.ID] = fmt.Sprintf("%s changed (its file is no longer in the baseline)", b.Name)
		}
	}
}

// Orphans adds the versions whose file row is missing (a damaged or
// hand-edited baseline): nothing says what the file is now.
func (c *Changes) Orphans(orphans []store.Block) {
	for _, b := range orphans {
		if _, ok := c.Reasons[b.ID]; !ok {
			c.Reasons[b.ID] = fmt.Sprintf("%s changed (its file is missing from the baseline)", b.Name)
		}
	}
}

// Refs returns the versions that the shared lists sets and the tests'
// own lists refer to and that are not known stale: the store says which
// of them exist (see Missing).
func (c *Changes) Refs(sets map[int64][]byte, tests []store.Test) []int64 {
	seen := map[int64]bool{}
	var refs []int64
	note := func(deps []byte) {
		_ = store.DecodeIDs(deps, func(id int64) bool {
			if _, ok := c.Reasons[id]; !ok && !seen[id] {
				seen[id] = true
				refs = append(refs, id)
			}
			return true
		})
	}
	for _, deps := range sets {
		note(deps)
	}
	for _, t := range tests {
		note(t.Deps)
	}
	return refs
}

// Missing marks stale the versions that records refer to and the baseline
// does not hold: what the test depended on is unknown, so missing means
// stale (merge refuses such a baseline).
func (c *Changes) Missing(ids []int64) {
	for _, id := range ids {
		c.Reasons[id] = MissingRows
	}
}

// Failing returns the tests that must run again whatever their
// dependencies (SPEC 4.6), with their reason.
func Failing(failing []store.Test) map[string]string {
	reasons := make(map[string]string, len(failing))
	for _, t := range failing {
		if t.Outcome.Failing() {
			reasons[t.NodeID] = t.Outcome.String() + " last time"
		}
	}
	return reasons
}

// Affected adds to reasons the tests, of those not in it yet, that depend
// on a stale version, through their file's shared list (sets, by id) or
// their own. It returns, for the tests a stale name block selected (when
// c.Names holds it), that change with the test's own list.
func (c *Changes) Affected(sets map[int64][]byte, tests []store.Test, reasons map[string]string) map[string]NameChange {
	byName := map[string]NameChange{}
	// Shared lists first: one check serves every test of a file.
	setReason := map[int64]string{}
	for id, deps := range sets {
		if r, _ := c.depsReason(deps); r != "" {
			setReason[id] = "imports: " + r
		}
	}
	for _, t := range tests {
		if _, done := reasons[t.NodeID]; done {
			continue
		}
		r, ok := setReason[t.Depset]
		if _, stored := sets[t.Depset]; !stored && t.Depset != 0 {
			r, ok = MissingRows, true
		}
		if !ok {
			var id int64
			r, id = c.depsReason(t.Deps)
			if nc, named := c.Names[id]; named && r != "" {
				nc.Deps = t.Deps
				byName[t.NodeID] = nc
			}
		}
		if r != "" {
			reasons[t.NodeID] = r
		}
	}
	return byName
}

// depsReason says why a stored dependency list selects its tests: a stale
// block version (and its id), or damage; "" when it does not.
func (c *Changes) depsReason(deps []byte) (string, int64) {
	reason, which := "", int64(0)
	err := store.DecodeIDs(deps, func(id int64) bool {
		reason, which = c.Reasons[id], id
		return reason == ""
	})
	if err != nil {
		// What it depended on is unknown: when in doubt, select.
		return DamagedRecord, 0
	}
	return reason, which
}

// Collect splits the recorded test files into those that need not be
// collected and those that must be. A file is skipped only when none of
// its tests is affected, it is complete (every test it held was recorded,
// at content hash complete[path]) and it still has that content: now
// returns a file's hash in this run, and false when it is missing,
// unreadable or changed since the baseline. Any other file may hold tests
// never recorded (new tests), so it is collected.
func Collect(testFiles []string, affected map[string]string, complete map[string]uint64, now func(path string) (uint64, bool)) (skip, collect []string) {
	hasAffected := map[string]bool{}
	for nodeid := range affected {
		hasAffected[store.TestFile(nodeid)] = true
	}
	for _, f := range testFiles {
		if !hasAffected[f] && unchangedComplete(f, complete, now) {
			skip = append(skip, f)
			continue
		}
		collect = append(collect, f)
	}
	return skip, collect
}

func unchangedComplete(path string, complete map[string]uint64, now func(string) (uint64, bool)) bool {
	h, ok := complete[path]
	if !ok {
		return false
	}
	cur, ok := now(path)
	return ok && cur == h
}

// Deselect returns the recorded tests of the collected files that are not
// affected: pytest collects them, and they do not run.
func Deselect(collected []store.Test, affected map[string]string) []string {
	var out []string
	for _, t := range collected {
		if _, ok := affected[t.NodeID]; !ok {
			out = append(out, t.NodeID)
		}
	}
	return out
}
