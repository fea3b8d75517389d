package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Finish is what the plugin reports at the end of a recording session.
type Finish struct {
	// Files maps each collected test file to what happened to it.
	Files map[string]CollectedFile `json:"files"`
	// WholeSuite: the run collected the whole suite without errors, so a
	// recorded test file that was neither collected nor skipped is gone.
	WholeSuite bool   `json:"whole_suite"`
	Commit     string `json:"commit"`
	// Untracked are Python files that ran outside the project, neither the
	// standard library's nor a distribution's: nothing tracks them (SPEC
	// 3.2). Kept in the meta table for inspect.
	Untracked []string `json:"untracked"`
}

// CollectedFile describes one collected test file.
type CollectedFile struct {
	// Complete: collected without error, and every test in it was either
	// recorded now or deselected as unaffected.
	Complete bool     `json:"complete"`
	NodeIDs  []string `json:"nodeids"`
}

// Summary is the result of Finish.
type Summary struct {
	Dropped int     `json:"dropped"`
	Millis  float64 `json:"millis"`
}

// Finish drops the records of tests that no longer exist, remembers which
// test files are completely recorded, and removes block versions no test
// refers to any more.
func (s *Session) Finish(f Finish) (*Summary, error) {
	if !s.cfg.Record {
		return nil, errors.New("finish called in a selection-only session")
	}
	start := time.Now()
	sum := &Summary{}
	tx, err := s.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	for path, cf := range f.Files {
		if !cf.Complete {
			if err := store.DeleteTestFile(tx, s.envID, path); err != nil {
				return nil, err
			}
			continue
		}
		present := make(map[string]bool, len(cf.NodeIDs))
		for _, id := range cf.NodeIDs {
			present[id] = true
		}
		recorded, err := store.TestsInFiles(tx, s.envID, []string{path})
		if err != nil {
			return nil, err
		}
		for _, t := range recorded {
			if !present[t.NodeID] {
				if err := store.DeleteTest(tx, s.envID, t.NodeID); err != nil {
					return nil, err
				}
				sum.Dropped++
			}
		}
		fi := s.files[path]
		if fi == nil && s.root.Safe(path) {
			st := fingerprint.Read(s.root, path)
			fi = &fileInfo{state: st, untrusted: s.changedSinceStart(st)}
		}
		if fi == nil || !fi.state.Exists || fi.state.Unreadable {
			continue
		}
		if fi.untrusted {
			// Edited while the run collected it: it may hold tests that
			// were never collected.
			if err := store.DeleteTestFile(tx, s.envID, path); err != nil {
				return nil, err
			}
			continue
		}
		if err := store.SetTestFile(tx, s.envID, path, fi.state.Hash); err != nil {
			return nil, err
		}
	}

	if f.WholeSuite {
		keep := map[string]bool{}
		for p := range f.Files {
			keep[p] = true
		}
		if s.selected != nil {
			for _, p := range s.selected.SkipFiles {
				keep[p] = true
			}
		}
		// Only this environment's: another may still run tests that this
		// one's collection did not see (SPEC 5.1, 4.7).
		files, err := store.RecordedTestFiles(tx, s.envID)
		if err != nil {
			return nil, err
		}
		for _, p := range files {
			if keep[p] {
				continue
			}
			n, err := store.DeleteTestsInFile(tx, s.envID, p)
			if err != nil {
				return nil, err
			}
			sum.Dropped += n
			if err := store.DeleteTestFile(tx, s.envID, p); err != nil {
				return nil, err
			}
		}
	}

	s.debugPanic("finish")
	if deleted, err := collectGarbage(tx); err != nil {
		return nil, err
	} else if deleted {
		// Sessions running now may hold the ids of what was deleted.
		if s.gen, err = store.NextGeneration(tx); err != nil {
			return nil, err
		}
	}
	// The rows of unsafe paths go once no block version refers to them.
	for _, id := range s.unsafe {
		if err := store.DeleteFileIfUnused(tx, id); err != nil {
			return nil, err
		}
	}
	now := time.Now().Unix()
	if err := store.SetEnvRecorded(tx, s.envID, now, s.cfg.Env); err != nil {
		return nil, err
	}
	meta := map[string]string{
		"recorded_at": strconv.FormatInt(now, 10),
		"commit":      f.Commit,
	}
	untracked, err := json.Marshal(append([]string{}, f.Untracked...))
	if err != nil {
		return nil, fmt.Errorf("untracked files: %w", err)
	}
	meta["untracked"] = string(untracked)
	for k, v := range meta {
		if err := store.SetMeta(tx, k, v); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	sum.Millis = float64(time.Since(start).Microseconds()) / 1000
	return sum, nil
}

// collectGarbage deletes stale block versions that no test refers to, so
// that they no longer cost a scan of every test on the next selection, and
// says whether it deleted any row.
func collectGarbage(q store.Querier) (deleted bool, err error) {
	stale, err := store.StaleBlocks(q)
	if err != nil || len(stale) == 0 {
		return false, err
	}
	unused := make(map[int64]bool, len(stale))
	for _, b := range stale {
		unused[b.ID] = true
	}
	usedSets := map[int64]bool{}
	// A dependency list that cannot be decoded may refer to any block:
	// then nothing is deleted (its test is selected, and re-recorded, by
	// the next run).
	damaged := false
	err = store.EachTest(q, func(t *store.Test) error {
		usedSets[t.Depset] = true
		if store.DecodeIDs(t.Deps, func(id int64) bool {
			delete(unused, id)
			return len(unused) > 0
		}) != nil {
			damaged = true
		}
		return nil
	})
	if err != nil || damaged {
		return false, err
	}
	sets, err := store.Depsets(q)
	if err != nil {
		return false, err
	}
	for id, deps := range sets {
		if usedSets[id] && store.DecodeIDs(deps, func(b int64) bool {
			delete(unused, b)
			return len(unused) > 0
		}) != nil {
			return false, nil
		}
	}
	for id := range sets {
		if !usedSets[id] {
			if err := store.DeleteDepset(q, id); err != nil {
				return deleted, err
			}
			deleted = true
		}
	}
	for id := range unused {
		if err := store.DeleteBlock(q, id); err != nil {
			return deleted, err
		}
		deleted = true
	}
	return deleted, nil
}
