package store

import (
	"database/sql"
	"errors"
	"strings"
)

// Read-only queries for reports (pytest-difftest inspect).

// CountByOutcome returns how many tests have each outcome.
func CountByOutcome(q Querier) (map[Outcome]int, error) {
	rows, err := q.query("SELECT outcome, count(*) FROM tests GROUP BY outcome")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[Outcome]int{}
	for rows.Next() {
		var o Outcome
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			return nil, err
		}
		out[o] = n
	}
	return out, rows.Err()
}

// EnvsOfTest returns the ids of the environments that hold a record of the
// test.
func EnvsOfTest(q Querier, nodeid string) ([]int64, error) {
	return queryColumn[int64](q, "SELECT env FROM tests WHERE nodeid = ? ORDER BY env", nodeid)
}

// CountBlocks returns how many block versions are recorded, and how many of
// them are stale.
func CountBlocks(q Querier) (total, stale int, err error) {
	err = q.queryRow("SELECT count(*), coalesce(sum(stale), 0) FROM blocks").Scan(&total, &stale)
	return total, stale, err
}

// TestByNodeID returns a test's record in an environment with its
// dependencies; ok is false when no such test is recorded there.
func TestByNodeID(q Querier, env int64, nodeid string) (t Test, ok bool, err error) {
	var us int64
	err = q.queryRow("SELECT env, nodeid, outcome, duration_us, recorded_at, deps, depset FROM tests WHERE env = ? AND nodeid = ?", env, nodeid).
		Scan(&t.Env, &t.NodeID, &t.Outcome, &us, &t.RecordedAt, &t.Deps, &t.Depset)
	if errors.Is(err, sql.ErrNoRows) {
		return Test{}, false, nil
	}
	t.Duration = seconds(us)
	return t, err == nil, err
}

// DepsetByID returns a shared dependency list; ok is false when there is
// no such list.
func DepsetByID(q Querier, id int64) (deps []byte, ok bool, err error) {
	err = q.queryRow("SELECT deps FROM depsets WHERE id = ?", id).Scan(&deps)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return deps, err == nil, err
}

// FileByPath returns a file's row; ok is false when the path is not known.
func FileByPath(q Querier, path string) (f File, ok bool, err error) {
	var h int64
	err = q.queryRow("SELECT id, path, size, mtime_ns, hash FROM files WHERE path = ?", path).
		Scan(&f.ID, &f.Path, &f.Size, &f.MtimeNs, &h)
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, false, nil
	}
	f.Hash = uint64(h)
	return f, err == nil, err
}

// FilePaths maps file ids to paths.
func FilePaths(q Querier) (map[int64]string, error) {
	files, err := Files(q)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(files))
	for _, f := range files {
		out[f.ID] = f.Path
	}
	return out, nil
}

// SimilarPaths returns up to n known paths ending with suffix, for hints.
func SimilarPaths(q Querier, suffix string, n int) ([]string, error) {
	return queryColumn[string](q, "SELECT path FROM files WHERE path LIKE ? ESCAPE '\\' ORDER BY path LIMIT ?",
		"%"+escapeLike(suffix), n)
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
