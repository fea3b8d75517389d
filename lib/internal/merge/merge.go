// Package merge combines baselines recorded separately (CI shards, machines,
// partial runs) into one (SPEC 8.1).
//
// The result holds every test of every input; a test recorded in several
// inputs keeps its newest record, whatever the order of the inputs. Block
// versions are matched by (file, name, checksum) and the tests' dependency
// lists rewritten with the new ids. Each file keeps the fingerprint of the
// newest input that has it, and every block version's stale flag is made to
// agree with that fingerprint (see block.stale): when in doubt a version is
// stale, which only makes its tests run.
//
// The output is written to a temporary file and renamed over OUTPUT (or
// uploaded) only once complete: a failed merge leaves OUTPUT as it was.
package merge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/gctune"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/remote"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/workers"
)

// ProgressAbove is the number of inputs above which Run reports progress.
const ProgressAbove = 5

// Options configures Run.
type Options struct {
	// Remote configures s3:// and file:// inputs and output (its Env holds
	// the AWS_* variables as the caller sees them).
	Remote remote.Options
	// Log, if set, receives one "merging i/N: <input>" line per input when
	// there are more than ProgressAbove inputs.
	Log io.Writer
}

// Result says what Run did.
type Result struct {
	Output string   `json:"output"`
	Inputs []string `json:"inputs"` // the databases merged, directories and prefixes expanded
	Counts
	Bytes  int64   `json:"bytes"` // size of the output
	Millis float64 `json:"millis"`
}

// Run merges the databases named by inputs (files, directories, remote
// objects, remote prefixes ending in "/") into output (a file or a remote
// object). Errors name the input or output at fault, in one line.
func Run(ctx context.Context, output string, inputs []string, opts Options) (*Result, error) {
	start := time.Now()
	defer gctune.Use(gctune.Merge)()
	if output == "" {
		return nil, errors.New("no output given")
	}
	if len(inputs) == 0 {
		return nil, errors.New("no input given")
	}
	// A merge that cannot be delivered is not started.
	var dest remote.Client
	if isURL(output) {
		c, err := remote.Open(output, opts.Remote)
		if err != nil {
			return nil, err
		}
		dest = c
	} else if err := checkLocalOutput(output); err != nil {
		return nil, err
	}

	srcs, err := resolve(ctx, inputs, opts.Remote)
	if err != nil {
		return nil, err
	}
	var scratch string
	if dest != nil || hasRemote(srcs) {
		scratch, err = os.MkdirTemp("", "pytest-difftest-merge-")
		if err != nil {
			return nil, fmt.Errorf("create a scratch directory: %w", err)
		}
		defer os.RemoveAll(scratch)
	}

	u := newUnion()
	res := &Result{Output: output}
	err = readAll(ctx, srcs, scratch, func(i int, s *source) {
		if opts.Log != nil && len(srcs) > ProgressAbove {
			fmt.Fprintf(opts.Log, "merging %d/%d: %s\n", i+1, len(srcs), s.name)
		}
	}, func(i int, s *source, snap *snapshot) error {
		if err := u.add(snap); err != nil {
			return s.wrap(err)
		}
		res.Inputs = append(res.Inputs, s.name)
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Write next to the output, so that the final rename is atomic.
	var tmp string
	if dest != nil {
		tmp = filepath.Join(scratch, "merged.db")
	} else {
		tmp, err = tempBeside(output)
		if err != nil {
			return nil, err
		}
	}
	counts, err := writeDB(u, tmp)
	if err != nil {
		removeDB(tmp)
		return nil, fmt.Errorf("%s: %w", output, err)
	}
	res.Counts = counts
	if st, err := os.Stat(tmp); err == nil {
		res.Bytes = st.Size()
	}
	if dest != nil {
		if _, err := dest.Upload(ctx, tmp); err != nil {
			return nil, err
		}
	} else if err := replace(tmp, output); err != nil {
		removeDB(tmp)
		return nil, fmt.Errorf("%s: %w", output, err)
	}
	res.Millis = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

func hasRemote(srcs []source) bool {
	for _, s := range srcs {
		if s.client != nil {
			return true
		}
	}
	return false
}

// readAll fetches and reads the sources on a few goroutines, and hands them
// to add in argument order (before calls start first, for progress). Reading
// runs at most a few inputs ahead of add, which bounds the memory held.
// The first error in argument order is returned, after every goroutine has
// stopped.
func readAll(ctx context.Context, srcs []source, scratch string, before func(int, *source), add func(int, *source, *snapshot) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type loaded struct {
		snap  *snapshot
		err   error
		crash *workers.Panic
	}
	results := make([]chan loaded, len(srcs))
	for i := range results {
		results[i] = make(chan loaded, 1)
	}
	slots := make(chan struct{}, min(max(runtime.GOMAXPROCS(0), 2), 8))
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range srcs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var l loaded
				// A panic here would abort the whole process: it is
				// raised again in the caller's goroutine instead, where
				// the C ABI recovers it.
				defer func() {
					if r := recover(); r != nil {
						l = loaded{crash: workers.Caught(r)}
					}
					results[i] <- l
				}()
				l.snap, l.err = load(ctx, &srcs[i], scratch, i)
			}()
		}
	}()
	for i := range srcs {
		before(i, &srcs[i])
		r := <-results[i]
		<-slots
		if r.crash != nil {
			cancel()
			panic(r.crash)
		}
		if r.err == nil {
			r.err = add(i, &srcs[i], r.snap)
		}
		if r.err != nil {
			cancel()
			return r.err
		}
	}
	return nil
}

// load fetches (if remote), opens and reads one input.
func load(ctx context.Context, s *source, scratch string, i int) (*snapshot, error) {
	if err := s.fetch(ctx, scratch, i); err != nil {
		return nil, err // remote errors name the URL already
	}
	defer s.release()
	db, err := store.OpenReadOnly(s.path)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer db.Close()
	snap, err := readSnapshot(db)
	if err != nil {
		return nil, s.wrap(err)
	}
	return snap, nil
}

// wrap names the source in an error: its name (a remote source's URL, not
// its scratch copy) in place of the path the store's errors carry.
func (s *source) wrap(err error) error {
	return fmt.Errorf("%s: %w", s.name, store.WithoutPath(err, s.path))
}

// checkLocalOutput refuses an output that is a directory, or an existing
// file that is not a SQLite database (two arguments swapped by mistake
// should not destroy a file).
func checkLocalOutput(output string) error {
	st, err := os.Stat(output)
	if err != nil {
		return nil // created later, with its directory
	}
	if st.IsDir() {
		return fmt.Errorf("%s: is a directory", output)
	}
	f, err := os.Open(output)
	if err != nil {
		return fmt.Errorf("%s: %s", output, fsCause(err))
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if n > 0 && string(head[:n]) != "SQLite format 3\x00" {
		return fmt.Errorf("%s: exists and is not a database; not overwriting it", output)
	}
	return nil
}

// tempBeside creates an empty temporary file in output's directory.
func tempBeside(output string) (string, error) {
	dir := filepath.Dir(output)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s: %s", output, fsCause(err))
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(output)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("%s: %s", output, fsCause(err))
	}
	name := f.Name()
	f.Close()
	return name, nil
}

// writeDB writes the union into a new database at path, as one
// self-contained file (no WAL left beside it).
func writeDB(u *union, path string) (Counts, error) {
	db, aside, err := store.Open(path)
	if err != nil {
		return Counts{}, err
	}
	if aside != nil { // path was not an empty new file
		db.Close()
		return Counts{}, aside.Cause
	}
	// A temporary file needs no journal: on failure it is deleted.
	if err := db.Unjournaled(); err != nil {
		db.Close()
		return Counts{}, err
	}
	counts, err := u.write(db)
	if err == nil {
		err = db.SelfContained()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Counts{}, err
	}
	return counts, nil
}

// rename is os.Rename; tests make it fail.
var rename = os.Rename

// replace renames tmp over output. A WAL left beside an earlier output
// belongs to that database and would corrupt the new one, so it must go
// before the rename; but it may hold committed transactions, which a failed
// rename would then lose. So it is first folded into the old output's file
// (checkpointed): whatever happens next, the old file alone is complete.
func replace(tmp, output string) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(output); err == nil {
		mode = st.Mode().Perm()
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err != nil {
		return err
	}
	if st, err := os.Stat(output + "-wal"); err == nil && st.Size() > 0 {
		if err := store.CheckpointFile(output); err != nil {
			return fmt.Errorf("cannot fold the write-ahead log of the existing output into it: %w", err)
		}
	}
	os.Remove(output + "-wal")
	os.Remove(output + "-shm")
	if err := rename(tmp, output); err != nil {
		return errors.New(fsCause(err))
	}
	return nil
}
