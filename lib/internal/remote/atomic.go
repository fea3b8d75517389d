package remote

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// copyBufSize is the chunk size for copies (and thus progress granularity).
const copyBufSize = 1 << 20

// Cancellation causes of the watchdog.
var (
	errStalled  = errors.New("transfer stalled")
	errNoAnswer = errors.New("no answer")
)

// errIncomplete reports a copy shorter than announced.
var errIncomplete = errors.New("incomplete transfer")

// writeAtomic writes the data from src to dst via a temporary file in dst's
// directory, renamed over dst only after a complete, synced write. The
// temporary file is removed on any failure, including cancellation, so dst is
// either untouched or complete. The parent directory is created when missing.
// If want >= 0, a short copy is an error. h, if non-nil, is fed the data.
// It returns the number of bytes written.
func writeAtomic(ctx context.Context, dst string, src io.Reader, want int64, h hash.Hash, progress func(done, total int64)) (n int64, err error) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return 0, fmt.Errorf("%s is a directory", dst)
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(dst); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return 0, err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()

	var w io.Writer = tmp
	if h != nil {
		w = io.MultiWriter(tmp, h)
	}
	n, err = copyCtx(ctx, w, src, want, progress)
	if err != nil {
		return n, err
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf("%w: got %d of %d bytes", errIncomplete, n, want)
	}
	if err = tmp.Chmod(mode); err != nil {
		return n, err
	}
	if err = tmp.Sync(); err != nil {
		return n, err
	}
	if err = tmp.Close(); err != nil {
		return n, err
	}
	if err = ctx.Err(); err != nil { // a cancelled transfer never replaces dst
		return n, err
	}
	if err = os.Rename(tmpName, dst); err != nil {
		return n, err
	}
	syncDir(dir)
	return n, nil
}

// syncDir makes a rename durable; failures are ignored (not all file systems
// support syncing a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// copyCtx copies src to dst in chunks, checking ctx between chunks and
// reporting progress.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader, total int64, progress func(done, total int64)) (int64, error) {
	buf := make([]byte, copyBufSize)
	var done int64
	if progress != nil {
		progress(0, total)
	}
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		nr, rerr := src.Read(buf)
		if rerr != nil && rerr != io.EOF {
			rerr = &readError{rerr}
		}
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			done += int64(nw)
			if werr != nil {
				return done, werr
			}
			if nw != nr {
				return done, io.ErrShortWrite
			}
			if progress != nil {
				progress(done, total)
			}
		}
		if rerr == io.EOF {
			return done, nil
		}
		if rerr != nil {
			return done, rerr
		}
	}
}

// readError marks an error that came from the source of a copy (the remote
// side of a download), as opposed to the local destination.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// hashFile returns h's digest of the file at p.
func hashFile(ctx context.Context, p string, h hash.Hash) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := copyCtx(ctx, h, f, -1, nil); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// progressReadSeeker reports progress as it is read; a Seek (the SDK rewinds
// the body to sign it or to retry) moves the reported position accordingly.
// Reads feed a watchdog: while the body is being read it allows idleTimeout
// between reads, and once the body has been read it allows responseTimeout
// for the answer.
type progressReadSeeker struct {
	r        io.ReadSeeker
	done     int64
	total    int64
	progress func(done, total int64)
	watchdog *watchdog
}

func (p *progressReadSeeker) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.watchdog != nil {
		if err == io.EOF || (p.total >= 0 && p.done >= p.total) {
			p.watchdog.arm(responseTimeout, errNoAnswer)
		} else {
			p.watchdog.arm(idleTimeout, errStalled)
		}
	}
	if n > 0 && p.progress != nil {
		p.progress(p.done, p.total)
	}
	return n, err
}

func (p *progressReadSeeker) Seek(offset int64, whence int) (int64, error) {
	pos, err := p.r.Seek(offset, whence)
	if err == nil {
		p.done = pos
		if p.watchdog != nil {
			p.watchdog.arm(responseTimeout, errNoAnswer)
		}
	}
	return pos, err
}

// idleReader re-arms a watchdog with idleTimeout on every Read.
type idleReader struct {
	r io.Reader
	w *watchdog
}

func (k *idleReader) Read(b []byte) (int, error) {
	n, err := k.r.Read(b)
	k.w.arm(idleTimeout, errStalled)
	return n, err
}

// watchdog cancels an operation, with a cause, when it is not re-armed in
// time. It bounds each phase of an operation across all its retries: waiting
// for an answer (responseTimeout, cause errNoAnswer) and moving data
// (idleTimeout, cause errStalled).
type watchdog struct {
	mu      sync.Mutex
	t       *time.Timer
	cause   error
	stopped bool
}

func newWatchdog(d time.Duration, cause error, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{cause: cause}
	w.t = time.AfterFunc(d, func() {
		w.mu.Lock()
		c := w.cause
		w.mu.Unlock()
		cancel(c)
	})
	return w
}

// arm restarts the countdown with d; cause is what a timeout reports.
func (w *watchdog) arm(d time.Duration, cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.cause = cause
		w.t.Reset(d)
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.t.Stop()
}
