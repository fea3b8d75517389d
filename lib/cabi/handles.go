package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/engine"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/gctune"
)

// Misuse of a session handle by the caller. Each is an error code of its
// own (codeMisuse, include/difftest.h), not an internal error: the library
// is fine, the call was wrong.
var (
	errBadHandle = misuse("invalid session handle (never opened, or already closed)")
	errBusy      = misuse("session handle in use: calls on one handle must not run concurrently")
)

// misuse is an error in how the library was called.
type misuse string

func (m misuse) Error() string { return string(m) }

func isMisuse(err error) bool {
	var m misuse
	return errors.As(err, &m)
}

// A session's calls are serialised here rather than trusted to the caller:
// two concurrent calls on one engine.Session would race on its maps, and Go
// ends the whole process on "concurrent map writes" (a fatal error that no
// recover catches). A second call fails at once instead of waiting, since
// concurrent calls are a bug in the caller, not contention to absorb.
type entry struct {
	mu      sync.Mutex
	s       *engine.Session
	closed  bool
	release func() // the session's GC setting (gctune.Session)
}

// handles maps the integers given to C to sessions. Ids are never reused,
// so a stale handle cannot reach a later session. (runtime/cgo.Handle
// panics on a stale handle, which would surface as an internal error.)
var handles = struct {
	sync.Mutex
	next uintptr
	m    map[uintptr]*entry
}{m: map[uintptr]*entry{}}

func register(s *engine.Session) uintptr {
	handles.Lock()
	defer handles.Unlock()
	handles.next++
	handles.m[handles.next] = &entry{s: s, release: gctune.Use(gctune.Session)}
	return handles.next
}

// acquire gives exclusive use of the session behind h until unlock is
// called.
func acquire(h uintptr) (*entry, error) {
	handles.Lock()
	e := handles.m[h]
	handles.Unlock()
	if e == nil {
		return nil, errBadHandle
	}
	if !e.mu.TryLock() {
		return nil, errBusy
	}
	// Closed between the lookup and the lock.
	if e.closed {
		e.mu.Unlock()
		return nil, errBadHandle
	}
	return e, nil
}

func (e *entry) unlock() { e.mu.Unlock() }

// close closes the session and forgets the handle, but only once the close
// succeeded: after a failed close the handle stays valid, so that the
// caller can try again instead of leaking the open database.
func closeHandle(h uintptr) error {
	e, err := acquire(h)
	if err != nil {
		return err
	}
	defer e.unlock()
	if err := e.s.Close(); err != nil {
		return err
	}
	e.closed = true
	e.release()
	handles.Lock()
	delete(handles.m, h)
	handles.Unlock()
	return nil
}

// The session calls, in Go terms (the exports only convert C values).

func selectOn(h uintptr) (*engine.Selection, error) {
	e, err := acquire(h)
	if err != nil {
		return nil, err
	}
	defer e.unlock()
	return e.s.Select()
}

func recordOn(h uintptr, buf []byte) error {
	e, err := acquire(h)
	if err != nil {
		return err
	}
	defer e.unlock()
	batch, err := engine.DecodeRecords(buf)
	if err != nil {
		return err
	}
	return e.s.Record(batch)
}

func finishOn(h uintptr, info []byte) (*engine.Summary, error) {
	e, err := acquire(h)
	if err != nil {
		return nil, err
	}
	defer e.unlock()
	var f engine.Finish
	if err := json.Unmarshal(info, &f); err != nil {
		return nil, fmt.Errorf("bad finish report: %w", err)
	}
	return e.s.Finish(f)
}
