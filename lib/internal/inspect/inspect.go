// Package inspect describes a baseline for people and scripts (SPEC 8.2):
// a summary, the dependencies of one test, or the tests that depend on one
// file. It only reads.
package inspect

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Request names the database and what to report: Test or File, or neither
// for the summary. Env narrows Test and File to one environment.
type Request struct {
	DB   string `json:"db"`
	Test string `json:"test"`
	File string `json:"file"`
	Env  string `json:"env"`
}

// Report holds the one part that was asked for.
type Report struct {
	Summary    *Summary      `json:"summary,omitempty"`
	Test       *Dependencies `json:"test,omitempty"`
	Dependents *Dependents   `json:"file,omitempty"`
}

// Summary describes a whole baseline.
type Summary struct {
	Path        string         `json:"path"`
	Size        int64          `json:"size"` // bytes, of the database file
	Tests       int            `json:"tests"`
	Outcomes    map[string]int `json:"outcomes"` // "passed" -> count, ...
	Files       int            `json:"files"`    // real files, environments not counted
	Blocks      int            `json:"blocks"`
	StaleBlocks int            `json:"stale_blocks"`
	Commit      string         `json:"commit"`
	RecordedAt  string         `json:"recorded_at"` // ISO 8601, UTC; "" if never
	// Environments, by name (SPEC 4.7).
	Environments []Environment `json:"environments"`
	// Untracked are the Python files outside the project that the last
	// recording run executed and nothing tracks.
	Untracked []string `json:"untracked"`
}

// Environment is one environment's share of a baseline.
type Environment struct {
	Name       string            `json:"name"`
	Tests      int               `json:"tests"`
	RecordedAt string            `json:"recorded_at"` // its last completed recording run; "" if none
	Values     map[string]string `json:"values"`      // python version, distributions...
}

// Dependencies is what one test depends on.
type Dependencies struct {
	NodeID     string     `json:"nodeid"`
	Env        string     `json:"env"`
	File       string     `json:"file"`
	Outcome    string     `json:"outcome"`
	Duration   float64    `json:"duration"`
	RecordedAt string     `json:"recorded_at"`
	Files      []FileDeps `json:"files"`
}

// FileDeps lists the block versions of one file that a test depends on.
type FileDeps struct {
	Path   string     `json:"path"`
	Blocks []BlockRef `json:"blocks"`
}

// BlockRef is one block version. Stale: it no longer matches the file as
// last fingerprinted, so its tests are selected.
type BlockRef struct {
	Name  string `json:"name"`
	Stale bool   `json:"stale"`
	Value string `json:"value,omitempty"` // environment blocks: the recorded value
}

// Dependents lists the tests that depend on a block of one file.
type Dependents struct {
	Path  string      `json:"path"`
	Tests []Dependent `json:"tests"`
}

// Dependent is one test and the blocks of the file it depends on.
type Dependent struct {
	NodeID  string     `json:"nodeid"`
	Env     string     `json:"env"`
	Outcome string     `json:"outcome"`
	Blocks  []BlockRef `json:"blocks"`
}

// Run answers a request. Errors are one line and name the database.
func Run(req Request) (*Report, error) {
	if req.DB == "" {
		return nil, errors.New("no database given")
	}
	if req.Test != "" && req.File != "" {
		return nil, errors.New("ask for a test or a file, not both")
	}
	db, err := store.OpenReadOnly(req.DB)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", req.DB)
		}
		return nil, fmt.Errorf("%s: %w", req.DB, store.WithoutPath(err, req.DB))
	}
	defer db.Close()
	var rep Report
	switch {
	case req.Test != "":
		rep.Test, err = testDeps(db, req.Test, req.Env)
	case req.File != "":
		rep.Dependents, err = dependents(db, req.File, req.Env)
	default:
		rep.Summary, err = summarize(db)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.DB, err)
	}
	return &rep, nil
}

func summarize(db *store.DB) (*Summary, error) {
	s := &Summary{Path: db.Path, Outcomes: map[string]int{}, Environments: []Environment{}}
	if st, err := os.Stat(db.Path); err == nil {
		s.Size = st.Size()
	}
	counts, err := store.CountByOutcome(db)
	if err != nil {
		return nil, err
	}
	for o, n := range counts {
		s.Outcomes[o.String()] = n
		s.Tests += n
	}
	files, err := store.Files(db)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !store.IsEnvPath(f.Path) {
			s.Files++
		}
	}
	if s.Blocks, s.StaleBlocks, err = store.CountBlocks(db); err != nil {
		return nil, err
	}
	meta, err := store.AllMeta(db)
	if err != nil {
		return nil, err
	}
	s.Commit = meta["commit"]
	s.Untracked = []string{}
	if v := meta["untracked"]; v != "" {
		// Written by Finish; anything else in a foreign baseline reads as none.
		if json.Unmarshal([]byte(v), &s.Untracked) != nil {
			s.Untracked = []string{}
		}
	}
	if at, err := strconv.ParseInt(meta["recorded_at"], 10, 64); err == nil && at > 0 {
		s.RecordedAt = isoTime(at)
	}
	envs, err := store.Envs(db)
	if err != nil {
		return nil, err
	}
	perEnv, err := store.CountTestsByEnv(db)
	if err != nil {
		return nil, err
	}
	for _, e := range envs {
		env := Environment{Name: e.Name, Tests: perEnv[e.ID], Values: e.Vars}
		if env.Values == nil {
			env.Values = map[string]string{}
		}
		if e.RecordedAt > 0 {
			env.RecordedAt = isoTime(e.RecordedAt)
		}
		s.Environments = append(s.Environments, env)
	}
	slices.SortFunc(s.Environments, func(a, b Environment) int { return cmp.Compare(a.Name, b.Name) })
	return s, nil
}

func isoTime(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}

// envNames maps environment ids to names.
func envNames(db *store.DB) (map[int64]string, error) {
	envs, err := store.Envs(db)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(envs))
	for _, e := range envs {
		out[e.ID] = e.Name
	}
	return out, nil
}

// envID finds the environment a request names; "" is every environment (0).
func envID(db *store.DB, name string) (int64, error) {
	if name == "" {
		return 0, nil
	}
	id, ok, err := store.EnvByName(db, name)
	if err != nil {
		return 0, err
	}
	if !ok {
		names, err := envNames(db)
		if err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("no environment %q is recorded (known: %s)", name, strings.Join(sortedNames(names), ", "))
	}
	return id, nil
}

func sortedNames(names map[int64]string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	if len(out) == 0 {
		out = append(out, "none")
	}
	return out
}

// envAndNames resolves --env (0: not given) and reads every environment's
// name, which --test and --file both report.
func envAndNames(db *store.DB, envName string) (int64, map[int64]string, error) {
	env, err := envID(db, envName)
	if err != nil {
		return 0, nil, err
	}
	names, err := envNames(db)
	return env, names, err
}

func testDeps(db *store.DB, nodeid, envName string) (*Dependencies, error) {
	env, names, err := envAndNames(db, envName)
	if err != nil {
		return nil, err
	}
	if env == 0 {
		// Unambiguous without --env when one environment holds the test.
		in, err := store.EnvsOfTest(db, nodeid)
		if err != nil {
			return nil, err
		}
		switch len(in) {
		case 0:
			return nil, fmt.Errorf("no test %q is recorded", nodeid)
		case 1:
			env = in[0]
		default:
			which := map[int64]string{}
			for _, id := range in {
				which[id] = names[id]
			}
			return nil, fmt.Errorf("test %q is recorded in several environments (%s): name one with --env", nodeid, strings.Join(sortedNames(which), ", "))
		}
	}
	t, ok, err := store.TestByNodeID(db, env, nodeid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no test %q is recorded in environment %q", nodeid, envName)
	}
	// Its own dependencies and those it shares with its file (imports).
	lists := [][]byte{t.Deps}
	if t.Depset != 0 {
		set, ok, err := store.DepsetByID(db, t.Depset)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("test %s: damaged: its dependency set %d does not exist", nodeid, t.Depset)
		}
		lists = append(lists, set)
	}
	var ids []int64
	for _, l := range lists {
		if err := store.DecodeIDs(l, func(id int64) bool { ids = append(ids, id); return true }); err != nil {
			return nil, fmt.Errorf("test %s: %w", nodeid, err)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	blocks, err := store.BlocksByID(db, ids)
	if err != nil {
		return nil, err
	}
	paths, err := store.FilePaths(db)
	if err != nil {
		return nil, err
	}
	byFile := map[string][]BlockRef{}
	for _, b := range blocks {
		p := paths[b.FileID]
		byFile[p] = append(byFile[p], ref(p, b))
	}
	d := &Dependencies{
		NodeID: t.NodeID, Env: names[t.Env], File: store.TestFile(t.NodeID), Outcome: t.Outcome.String(),
		Duration: t.Duration, RecordedAt: isoTime(t.RecordedAt), Files: []FileDeps{},
	}
	for p, refs := range byFile {
		slices.SortFunc(refs, func(a, b BlockRef) int { return cmp.Compare(a.Name, b.Name) })
		d.Files = append(d.Files, FileDeps{Path: p, Blocks: refs})
	}
	slices.SortFunc(d.Files, func(a, b FileDeps) int { return comparePaths(a.Path, b.Path) })
	return d, nil
}

// comparePaths orders paths alphabetically with the environment last.
func comparePaths(a, b string) int {
	return cmp.Or(cmp.Compare(isEnv(a), isEnv(b)), cmp.Compare(a, b))
}

func isEnv(p string) int {
	if store.IsEnvPath(p) {
		return 1
	}
	return 0
}

func ref(path string, b store.Block) BlockRef {
	r := BlockRef{Name: b.Name, Stale: b.Stale}
	if store.IsEnvPath(path) && len(b.Names) > 0 {
		r.Value = b.Names[0]
	}
	return r
}

func dependents(db *store.DB, arg, envName string) (*Dependents, error) {
	env, names, err := envAndNames(db, envName)
	if err != nil {
		return nil, err
	}
	p := normalize(db.Path, arg)
	f, ok, err := store.FileByPath(db, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		msg := fmt.Sprintf("no file %q is recorded (paths are relative to the rootdir)", p)
		if similar, _ := store.SimilarPaths(db, "/"+p, 3); len(similar) > 0 {
			msg += "; did you mean " + strings.Join(quoteAll(similar), " or ") + "?"
		}
		return nil, errors.New(msg)
	}
	blocks, err := store.BlocksOfFile(db, f.ID)
	if err != nil {
		return nil, err
	}
	own := make(map[int64]store.Block, len(blocks))
	for _, b := range blocks {
		own[b.ID] = b
	}
	// The blocks of the file in each shared (import) dependency set.
	sets, err := store.Depsets(db)
	if err != nil {
		return nil, err
	}
	inSet := map[int64][]int64{}
	for id, deps := range sets {
		err := store.DecodeIDs(deps, func(b int64) bool {
			if _, ok := own[b]; ok {
				inSet[id] = append(inSet[id], b)
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("dependency set %d: %w", id, err)
		}
	}
	d := &Dependents{Path: f.Path, Tests: []Dependent{}}
	err = store.EachTest(db, func(t *store.Test) error {
		if env != 0 && t.Env != env {
			return nil
		}
		var refs []BlockRef
		seen := map[int64]bool{}
		add := func(id int64) bool {
			if b, ok := own[id]; ok && !seen[id] {
				seen[id] = true
				refs = append(refs, ref(f.Path, b))
			}
			return true
		}
		if err := store.DecodeIDs(t.Deps, add); err != nil {
			return fmt.Errorf("test %s: %w", t.NodeID, err)
		}
		for _, id := range inSet[t.Depset] {
			add(id)
		}
		if len(refs) > 0 {
			slices.SortFunc(refs, func(a, b BlockRef) int { return cmp.Compare(a.Name, b.Name) })
			d.Tests = append(d.Tests, Dependent{NodeID: t.NodeID, Env: names[t.Env], Outcome: t.Outcome.String(), Blocks: refs})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(d.Tests, func(a, b Dependent) int { return cmp.Or(cmp.Compare(a.NodeID, b.NodeID), cmp.Compare(a.Env, b.Env)) })
	return d, nil
}

// normalize turns a path as typed into the stored form: relative to the
// rootdir, POSIX style, clean. An absolute path is made relative to the
// rootdir when the database sits at its usual place inside it
// (<rootdir>/.pytest_cache/pytest-difftest/).
func normalize(dbPath, p string) string {
	if store.IsEnvPath(p) {
		return p
	}
	if filepath.IsAbs(p) {
		if abs, err := filepath.Abs(dbPath); err == nil {
			cache := filepath.Dir(abs)
			if filepath.Base(cache) == "pytest-difftest" && filepath.Base(filepath.Dir(cache)) == ".pytest_cache" {
				root := filepath.Dir(filepath.Dir(cache))
				if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
					p = rel
				}
			}
		}
	}
	return path.Clean(filepath.ToSlash(p))
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
