package engine

import (
	"github.com/pytest-difftest/pytest-difftest/lib/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/imports"
	"github.com/pytest-difftest/pytest-difftest/lib/store"
)

// project lets the import resolver see the files under the root through the
// session's caches.
type project struct{ s *Session }

func (p project) Exists(rel string) bool {
	if !fingerprint.Safe(rel) {
		return false
	}
	if fi, ok := p.s.files[rel]; ok {
		return fi.state.Exists && !fi.state.Unreadable
	}
	exists, ok := p.s.exists[rel]
	if !ok {
		st := fingerprint.Stat(p.s.cfg.Root, rel)
		exists = st.Exists && !st.Unreadable
		p.s.exists[rel] = exists
	}
	return exists
}

func (p project) Imports(rel string) []blocks.Import {
	fi := p.s.current(rel)
	if fi.cur == nil || fi.cur.File == nil {
		return nil
	}
	return fi.cur.File.Imports
}

// importSet returns the id of the shared dependency list of a test file:
// the module-level, class and "<defs>" blocks of every project module that
// the file and its conftest.py files import, directly or transitively (SPEC
// 4.4c), and the installed distributions they import (4.4g).
func (s *Session) importSet(q store.Querier, testFile string) (int64, error) {
	if id, ok := s.depsets[testFile]; ok {
		return id, nil
	}
	if !fingerprint.Safe(testFile) || !fingerprint.IsPython(testFile) {
		s.depsets[testFile] = 0
		return 0, nil
	}
	p := project{s}
	start := append([]string{testFile}, imports.Conftests(testFile, p.Exists)...)
	files, external := s.resolver.Closure(start)
	var ids []int64
	for _, f := range files {
		got, err := s.depIDs(q, Dep{Kind: DepLines, Path: f})
		if err != nil {
			return 0, err
		}
		ids = append(ids, got...)
	}
	for _, name := range external {
		got, err := s.distIDs(q, name)
		if err != nil {
			return 0, err
		}
		ids = append(ids, got...)
	}
	deps := store.EncodeIDs(ids)
	id, err := store.UpsertDepset(q, deps, blocks.Hash(deps))
	if err != nil {
		return 0, err
	}
	s.depsets[testFile] = id
	return id, nil
}

// distIDs returns the environment blocks of the distributions providing a
// top-level module; none for the standard library and unknown names.
func (s *Session) distIDs(q store.Querier, module string) ([]int64, error) {
	var ids []int64
	for _, dist := range s.dists.Lookup(module) {
		if dist == "pytest-difftest" {
			continue // runs inside every test, but no test depends on it
		}
		id, ok, err := s.envBlockID(q, "dist:"+dist)
		if err != nil {
			return nil, err
		}
		if ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
