// Package fingerprint finds out which files changed since they were last
// recorded, doing as little work as possible: a stat per file, a hash of the
// files whose stat differs, and a parse of the Python files whose hash
// differs. Work fans out over goroutines, one tree-sitter parser each.
package fingerprint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/workers"
)

// State is what a file looks like now.
type State struct {
	Path    string // relative to the root, POSIX style
	Exists  bool
	Size    int64
	MtimeNs int64
	// ChangedNs is when the file last changed, as far as the file system
	// says (the later of mtime and ctime); 0 when unknown.
	ChangedNs int64
	// Key stands for the stat (device, inode, size, mtime, ctime) when it
	// can vouch for the content: taken on this machine once the file had
	// settled (see Settled). 0 when it cannot: the file is then hashed.
	Key  int64
	Hash uint64 // of the content; 0 when missing or unreadable
	// Unreadable is set when the file exists but could not be read (a
	// permission, a symlink loop, a directory where a file was): such a file
	// counts as changed in every block.
	Unreadable bool
	Content    []byte // kept only until parsed
}

// Known is the fingerprint recorded for a file.
type Known struct {
	Size int64
	Key  int64 // State.Key when recorded
	Hash uint64
}

// Missing is the Known.Size of a file that did not exist when recorded.
const Missing = -1

// Safe reports whether a stored path may be read: relative, POSIX, and
// inside the root (SPEC 3.2). A hostile or foreign baseline can hold
// anything; such paths are never touched. A directory listing's path ends
// with "/" ("./" for the root itself: see IsListing).
func Safe(rel string) bool {
	if IsListing(rel) {
		dir := strings.TrimSuffix(rel, "/")
		return dir == "." || !strings.HasSuffix(dir, "/") && safeFile(dir)
	}
	return safeFile(rel)
}

func safeFile(rel string) bool {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains(rel, "\\") || strings.ContainsRune(rel, 0) {
		return false
	}
	if filepath.VolumeName(rel) != "" {
		return false
	}
	clean := path.Clean(rel)
	return clean == rel && clean != "." && clean != ".." && !strings.HasPrefix(clean, "../")
}

// DistPrefix starts a stored path that lies in the source directory of an
// editable distribution outside the project: "<dist:NAME>/pkg/mod.py".
// Keyed by name, the path means the same file on every machine where the
// distribution is installed editable, wherever its checkout sits.
const DistPrefix = "<dist:"

// Root resolves stored paths to files. A path is relative to Dir (rootdir);
// it may climb Up levels with ".." (rootdir's depth under the project root,
// SPEC 3.2), or name an editable distribution's source directory. Anything
// else is unsafe: never read.
type Root struct {
	Dir      string
	Up       int
	Editable map[string]string // normalized distribution name -> source directory
}

// Safe reports whether a stored path may be read.
func (r Root) Safe(rel string) bool {
	_, ok := r.resolve(rel)
	return ok
}

// Abs is the file a safe stored path names; "" when unsafe.
func (r Root) Abs(rel string) string {
	p, _ := r.resolve(rel)
	return p
}

func (r Root) resolve(rel string) (string, bool) {
	if strings.HasPrefix(rel, DistPrefix) {
		name, inner, ok := strings.Cut(rel[len(DistPrefix):], ">/")
		dir := r.Editable[name]
		if !ok || dir == "" || !Safe(inner) {
			// Not installed editable here: the path is refused, like any
			// path that cannot be read, and its tests are selected.
			return "", false
		}
		return filepath.Join(dir, filepath.FromSlash(inner)), true
	}
	if Safe(rel) {
		return filepath.Join(r.Dir, filepath.FromSlash(rel)), true
	}
	up := 0
	inner := rel
	for strings.HasPrefix(inner, "../") {
		inner = inner[3:]
		up++
	}
	if up == 0 || up > r.Up || !Safe(inner) {
		return "", false
	}
	return filepath.Join(r.Dir, filepath.FromSlash(rel)), true
}

// IsListing reports whether a path stands for a directory's listing: its
// content is the sorted names of its entries, so that a test that listed
// it is selected when an entry comes or goes.
func IsListing(rel string) bool {
	return strings.HasSuffix(rel, "/")
}

// notListed are entries left out of a listing: the caches that running
// tests creates, which no test means to depend on.
var notListed = map[string]bool{"__pycache__": true, ".pytest_cache": true}

// IsPython reports whether a path is parsed into blocks.
func IsPython(rel string) bool {
	return strings.HasSuffix(rel, ".py") || strings.HasSuffix(rel, ".pyw")
}

// Check returns, for each path, its current state and whether its content
// differs from known[i]. Unchanged files are not read when their stat key
// matches the recorded one.
func Check(root Root, paths []string, known []Known) ([]State, []bool) {
	states := make([]State, len(paths))
	changed := make([]bool, len(paths))
	parallel(len(paths), func(i int) {
		st := Stat(root, paths[i])
		k := known[i]
		if st.Exists && !st.Unreadable && k.Key != 0 && k.Key == st.Key && k.Size == st.Size {
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
func Stat(root Root, rel string) State {
	st := State{Path: rel}
	name, ok := root.resolve(rel)
	if !ok {
		// Never touched; reads as missing.
		return st
	}
	info, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st
	case err != nil:
		st.Exists, st.Unreadable = true, true
		return st
	case info.IsDir() != IsListing(rel) || !info.IsDir() && !info.Mode().IsRegular():
		st.Exists, st.Unreadable = true, true
		return st
	}
	st.Exists = true
	st.describe(info)
	return st
}

// describe fills in what a stat says about the file.
func (st *State) describe(info fs.FileInfo) {
	st.Size = info.Size()
	st.MtimeNs = info.ModTime().UnixNano()
	st.ChangedNs, st.Key = st.MtimeNs, 0
	dev, ino, ctime, ok := inode(info)
	if !ok {
		return
	}
	st.ChangedNs = max(st.MtimeNs, ctime)
	if !Settled(st.ChangedNs, time.Now()) {
		return
	}
	h := contenthash.Offset
	var b [8]byte
	for _, v := range []uint64{dev, ino, uint64(st.Size), uint64(st.MtimeNs), uint64(ctime)} {
		binary.LittleEndian.PutUint64(b[:], v)
		h = contenthash.Add(h, b[:])
	}
	st.Key = int64(h>>1) | 1
}

// Settled reports whether a file that last changed at changedNs (State.
// ChangedNs) has not changed since `since`, and cannot change again within
// the same tick of the file system's clock: git's racy-timestamp rule. A
// write lands on a coarse clock (a few milliseconds behind, and whole
// seconds on some file systems, which a time on a whole second suggests),
// so a change less than a margin before `since` may be followed by another
// that leaves mtime and ctime as they were.
func Settled(changedNs int64, since time.Time) bool {
	margin := 100 * time.Millisecond
	if changedNs%int64(time.Second) == 0 {
		margin = 2 * time.Second
	}
	return changedNs < since.Add(-margin).UnixNano()
}

// Read returns the state of one file with its content and hash.
func Read(root Root, rel string) State {
	st := Stat(root, rel)
	if st.Exists && !st.Unreadable {
		st = read(root, st)
	}
	return st
}

// OpenData opens the data file a stored path names for reading its bytes
// again; a listing, a file that is not a regular one, or an unsafe path is
// an error, never a blocked read.
func OpenData(root Root, rel string) (*os.File, error) {
	abs := root.Abs(rel)
	if abs == "" || IsListing(rel) {
		return nil, fs.ErrInvalid
	}
	f, err := openNoBlock(abs)
	if err != nil {
		return nil, err
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fs.ErrInvalid
	}
	return f, nil
}

func read(root Root, st State) State {
	if IsListing(st.Path) {
		return readListing(root, st)
	}
	f, err := openNoBlock(root.Abs(st.Path))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Vanished between stat and read.
			return State{Path: st.Path}
		}
		st.Unreadable = true
		return st
	}
	defer f.Close()
	// What was opened may not be what was stat'ed: a FIFO, a device or a
	// directory put there meanwhile is unreadable (and a FIFO opened
	// without O_NONBLOCK would have blocked until a writer came).
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		st.Unreadable = true
		return st
	}
	// What was read is what this stat describes (a change during the read
	// moves mtime and ctime on, and the next stat differs).
	st.describe(info)
	if !IsPython(st.Path) {
		// Only the hash of a data file is needed: stream it rather than
		// hold a file of any size in memory.
		h := contenthash.New()
		n, err := io.Copy(h, f)
		if err != nil {
			st.Unreadable = true
			return st
		}
		st.Size, st.Hash = n, h.Sum64()
		return st
	}
	var buf bytes.Buffer
	if size := info.Size(); size > 0 && size < 1<<40 {
		buf.Grow(int(size) + 1)
	}
	if _, err := buf.ReadFrom(f); err != nil {
		st.Unreadable = true
		return st
	}
	b := buf.Bytes()
	st.Content = b
	st.Size = int64(len(b))
	st.Hash = contenthash.Sum(b)
	return st
}

// readListing hashes the sorted names of a directory's entries.
func readListing(root Root, st State) State {
	dir := root.Abs(st.Path)
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return State{Path: st.Path}
		}
		st.Unreadable = true
		return st
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.IsDir() {
		st.Unreadable = true
		return st
	}
	st.describe(info)
	names, err := f.Readdirnames(-1)
	if err != nil {
		st.Unreadable = true
		return st
	}
	slices.Sort(names)
	h := contenthash.Offset
	for _, n := range names {
		if !notListed[n] {
			h = contenthash.AddZero(contenthash.Add(h, []byte(n)))
		}
	}
	st.Hash = h
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
	var crash workerCrash
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer crash.recover(nil)
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
	crash.repanic()
	return out
}

// parallel runs fn(0..n-1) on a few goroutines; stat and read are I/O bound
// so more workers than cores pay off. A panic in fn is raised again in the
// caller's goroutine, where the C ABI recovers it: a panic left in a worker
// goroutine would abort the whole Python process.
func parallel(n int, fn func(i int)) {
	if n < 64 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	workers := min(4*runtime.GOMAXPROCS(0), 32)
	var wg sync.WaitGroup
	var crash workerCrash
	ch := make(chan int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer crash.recover(ch)
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
	crash.repanic()
}

// workerCrash keeps the first panic of a group of worker goroutines.
type workerCrash struct {
	mu    sync.Mutex
	first *workers.Panic
}

// recover, deferred in a worker, notes a panic and drains work (so that
// the producer never blocks on a queue nobody reads any more).
func (c *workerCrash) recover(work <-chan int) {
	r := recover()
	if r == nil {
		return
	}
	c.mu.Lock()
	if c.first == nil {
		c.first = workers.Caught(r)
	}
	c.mu.Unlock()
	if work != nil {
		for range work {
		}
	}
}

// repanic raises the first worker panic in the calling goroutine.
func (c *workerCrash) repanic() {
	if c.first != nil {
		panic(c.first)
	}
}
