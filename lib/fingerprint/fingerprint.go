// Package fingerprint finds out which files changed since they were last
// recorded, doing as little work as possible: a stat per file, a hash of the
// files whose stat differs, and a parse of the Python files whose hash
// differs. Work fans out over goroutines, one tree-sitter parser each.
package fingerprint

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/pytest-difftest/pytest-difftest/lib/blocks"
)

// State is what a file looks like now.
type State struct {
	Path    string // relative to the root, POSIX style
	Exists  bool
	Size    int64
	MtimeNs int64
	Hash    uint64 // of the content; 0 when missing or unreadable
	// Unreadable is set when the file exists but could not be read (a
	// permission, a symlink loop, a directory where a file was): such a file
	// counts as changed in every block.
	Unreadable bool
	Content    []byte // kept only until parsed
}

// Known is the fingerprint recorded for a file.
type Known struct {
	Size    int64
	MtimeNs int64
	Hash    uint64
}

// Missing is the Known.Size of a file that did not exist when recorded.
const Missing = -1

// Safe reports whether a stored path may be read: relative, POSIX, and
// inside the root (SPEC 3.2). A hostile or foreign baseline can hold
// anything; such paths are never touched.
func Safe(rel string) bool {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains(rel, "\\") || strings.ContainsRune(rel, 0) {
		return false
	}
	if filepath.VolumeName(rel) != "" {
		return false
	}
	clean := path.Clean(rel)
	return clean == rel && clean != "." && clean != ".." && !strings.HasPrefix(clean, "../")
}

// IsPython reports whether a path is parsed into blocks.
func IsPython(rel string) bool {
	return strings.HasSuffix(rel, ".py") || strings.HasSuffix(rel, ".pyw")
}

// Check returns, for each path, its current state and whether its content
// differs from known[i]. Unchanged files are not read when their size and
// mtime match.
func Check(root string, paths []string, known []Known) ([]State, []bool) {
	states := make([]State, len(paths))
	changed := make([]bool, len(paths))
	parallel(len(paths), func(i int) {
		st := Stat(root, paths[i])
		k := known[i]
		if st.Exists && !st.Unreadable && k.Size == st.Size && k.MtimeNs == st.MtimeNs {
			st.Hash = k.Hash
			states[i] = st
			return
		}
		if st.Exists && !st.Unreadable {
			st = read(root, st)
		}
		states[i] = st
		switch {
		case !st.Exists:
			changed[i] = k.Size != Missing
		case st.Unreadable:
			changed[i] = true
		default:
			changed[i] = k.Size == Missing || st.Hash != k.Hash
		}
		if !changed[i] {
			st.Content = nil
			states[i] = st
		}
	})
	return states, changed
}

// Stat returns the state of one file without reading it.
func Stat(root, rel string) State {
	st := State{Path: rel}
	info, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st
	case err != nil:
		st.Exists, st.Unreadable = true, true
		return st
	case !info.Mode().IsRegular():
		st.Exists, st.Unreadable = true, true
		return st
	}
	st.Exists = true
	st.Size = info.Size()
	st.MtimeNs = info.ModTime().UnixNano()
	return st
}

// Read returns the state of one file with its content and hash.
func Read(root, rel string) State {
	st := Stat(root, rel)
	if st.Exists && !st.Unreadable {
		st = read(root, st)
	}
	return st
}

func read(root string, st State) State {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(st.Path)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Vanished between stat and read.
			return State{Path: st.Path}
		}
		st.Unreadable = true
		return st
	}
	st.Content = b
	st.Size = int64(len(b))
	st.Hash = blocks.Hash(b)
	return st
}

// Parse splits the content of the given states into blocks in parallel,
// returning one File per state (nil for non-Python, missing or unreadable
// files). Contents are released once parsed.
func Parse(states []*State) []*blocks.File {
	out := make([]*blocks.File, len(states))
	workers := min(runtime.GOMAXPROCS(0), len(states))
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := blocks.NewParser()
			defer p.Close()
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= len(states) {
					return
				}
				st := states[j]
				if st.Exists && !st.Unreadable && IsPython(st.Path) {
					f := p.Parse(st.Content)
					out[j] = &f
				}
				st.Content = nil
			}
		}()
	}
	wg.Wait()
	return out
}

// parallel runs fn(0..n-1) on a few goroutines; stat and read are I/O bound
// so more workers than cores pay off.
func parallel(n int, fn func(i int)) {
	if n < 64 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	workers := min(4*runtime.GOMAXPROCS(0), 32)
	var wg sync.WaitGroup
	ch := make(chan int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
}
