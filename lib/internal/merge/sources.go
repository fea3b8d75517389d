package merge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/remote"
)

// source is one input database: a local file, or a remote object fetched
// into the scratch directory before it is read.
type source struct {
	name   string        // as shown to the user: a path or a URL
	path   string        // local file; for a remote object, set by fetch
	client remote.Client // nil for a local file
}

// resolve expands the arguments into databases, in argument order: a
// directory gives its *.db files (not recursive), a remote prefix its *.db
// objects. It fails on the first argument that names nothing.
func resolve(ctx context.Context, args []string, opts remote.Options) ([]source, error) {
	var out []source
	for _, arg := range args {
		switch {
		case remote.IsPrefix(arg):
			urls, err := remote.List(ctx, arg, opts)
			if err != nil {
				return nil, err
			}
			if len(urls) == 0 {
				return nil, fmt.Errorf("%s: no .db objects under this prefix", arg)
			}
			for _, u := range urls {
				c, err := remote.Open(u, opts)
				if err != nil {
					return nil, err
				}
				out = append(out, source{name: u, client: c})
			}
		case isURL(arg):
			c, err := remote.Open(arg, opts)
			if err != nil {
				return nil, err
			}
			out = append(out, source{name: c.String(), client: c})
		default:
			srcs, err := local(arg)
			if err != nil {
				return nil, err
			}
			out = append(out, srcs...)
		}
	}
	return out, nil
}

// isURL tells remote objects from local paths. Any "scheme://" counts, so
// that an unsupported scheme is refused by remote.Open by name rather than
// looked up as a file.
func isURL(s string) bool {
	return remote.IsRemote(s) || strings.Contains(s, "://")
}

// local resolves a path: a file is itself, a directory its *.db files.
func local(arg string) ([]source, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", arg, fsCause(err))
	}
	if !st.IsDir() {
		return []source{{name: arg, path: arg}}, nil
	}
	entries, err := os.ReadDir(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", arg, fsCause(err))
	}
	var out []source
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".db") {
			continue
		}
		p := filepath.Join(arg, e.Name())
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue // a dangling link or a directory named *.db
		}
		out = append(out, source{name: p, path: p})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no .db files in this directory", arg)
	}
	slices.SortFunc(out, func(a, b source) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// fetch downloads a remote source into dir; local sources need nothing.
func (s *source) fetch(ctx context.Context, dir string, i int) error {
	if s.client == nil {
		return nil
	}
	s.path = filepath.Join(dir, fmt.Sprintf("input-%d.db", i))
	_, err := s.client.Fetch(ctx, s.path, "")
	return err
}

// release deletes the local copy of a remote source.
func (s *source) release() {
	if s.client != nil && s.path != "" {
		removeDB(s.path)
	}
}

// removeDB deletes a database file and its SQLite companions.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// fsCause renders a file system error without repeating the path.
func fsCause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, fs.ErrNotExist) {
			return "no such file or directory"
		}
		return pe.Err.Error()
	}
	return err.Error()
}
