package main

/*
#include <stdint.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/remote"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// The remote baseline's functions (SPEC 7): one JSON request in, one JSON
// document out. See include/difftest.h.

// remoteRequest is the request of dt_remote_fetch, dt_remote_upload,
// dt_remote_check and dt_remote_cancel (each reads the fields it needs).
type remoteRequest struct {
	URL       string            `json:"url"`
	LocalPath string            `json:"local_path"`
	ETagPath  string            `json:"etag_path"` // "" means local_path + ".etag"
	Env       map[string]string `json:"env"`       // AWS_* as Python sees them now
	Op        string            `json:"op"`        // id for dt_remote_cancel
	Progress  bool              `json:"progress"`  // progress of large transfers on stderr
}

func parseRemoteRequest(request *C.char, what string) (remoteRequest, error) {
	var req remoteRequest
	if err := json.Unmarshal([]byte(C.GoString(request)), &req); err != nil {
		return req, fmt.Errorf("bad %s request: %w", what, err)
	}
	return req, nil
}

func (r remoteRequest) options(verb string) remote.SyncOptions {
	opts := remote.SyncOptions{
		Options:   remote.Options{Env: r.Env},
		StatePath: r.ETagPath,
		Validate:  checkBaseline,
	}
	if r.Progress {
		label := "difftest: " + verb + " " + r.URL
		if u, err := remote.Check(r.URL); err == nil {
			label = "difftest: " + verb + " " + u
		}
		opts.Progress = remote.Progress(os.Stderr, label, isTerminal(os.Stderr), remote.ProgressMinBytes)
	}
	return opts
}

//export dtgo_remote_check
func dtgo_remote_check(request *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	req, err := parseRemoteRequest(request, "remote check")
	if err != nil {
		return reply(out, nil, err)
	}
	u, err := remote.Check(req.URL)
	if err != nil {
		return reply(out, nil, err)
	}
	return reply(out, map[string]string{"url": u}, nil)
}

//export dtgo_remote_fetch
func dtgo_remote_fetch(request *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	req, err := parseRemoteRequest(request, "remote fetch")
	if err != nil {
		return reply(out, nil, err)
	}
	if req.LocalPath == "" {
		return reply(out, nil, errors.New("bad remote fetch request: no local_path"))
	}
	ctx, done := beginOp(req.Op)
	defer done()
	res, err := remote.Pull(ctx, req.URL, req.LocalPath, req.options("downloading"))
	return reply(out, res, err)
}

//export dtgo_remote_upload
func dtgo_remote_upload(request *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	req, err := parseRemoteRequest(request, "remote upload")
	if err != nil {
		return reply(out, nil, err)
	}
	if req.LocalPath == "" {
		return reply(out, nil, errors.New("bad remote upload request: no local_path"))
	}
	ctx, done := beginOp(req.Op)
	defer done()
	res, err := remote.Push(ctx, req.URL, req.LocalPath, req.options("uploading"))
	return reply(out, res, err)
}

// dt_remote_cancel cancels the transfer started with the same "op" (from
// another thread: the plugin runs transfers in a thread so that Ctrl-C is
// not held up by a long download).
//
//export dtgo_remote_cancel
func dtgo_remote_cancel(request *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	req, err := parseRemoteRequest(request, "remote cancel")
	if err != nil {
		return reply(out, nil, err)
	}
	cancelOp(req.Op)
	return reply(out, nil, nil)
}

// Transfers in flight, by the caller's op id, for dt_remote_cancel. An id
// cancelled before its transfer starts is remembered, so that the transfer
// starts cancelled.
var ops = struct {
	sync.Mutex
	running  map[string]context.CancelFunc
	canceled map[string]bool
}{running: map[string]context.CancelFunc{}, canceled: map[string]bool{}}

func beginOp(op string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	if op == "" {
		return ctx, cancel
	}
	ops.Lock()
	defer ops.Unlock()
	if ops.canceled[op] {
		delete(ops.canceled, op)
		cancel()
	}
	ops.running[op] = cancel
	return ctx, func() {
		ops.Lock()
		delete(ops.running, op)
		ops.Unlock()
		cancel()
	}
}

func cancelOp(op string) {
	if op == "" {
		return
	}
	ops.Lock()
	defer ops.Unlock()
	if cancel, ok := ops.running[op]; ok {
		cancel()
		return
	}
	if len(ops.canceled) < 1000 {
		ops.canceled[op] = true
	}
}

// checkBaseline accepts only a pytest-difftest database, and folds its
// write-ahead log into the main file so that the file alone is complete (it
// is what gets uploaded, or what replaces the local baseline).
func checkBaseline(path string) error {
	db, err := store.OpenExisting(path)
	if err != nil {
		err = store.WithoutPath(err, path)
		if errors.Is(err, store.ErrNotDatabase) {
			return err
		}
		return fmt.Errorf("%w (%v)", store.ErrNotDatabase, err)
	}
	defer db.Close()
	if err := db.Checkpoint(); errors.Is(err, store.ErrInUse) {
		return store.ErrInUse
	} else if err != nil {
		return fmt.Errorf("cannot checkpoint the database: %v", errors.Unwrap(err))
	}
	return db.Close()
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
