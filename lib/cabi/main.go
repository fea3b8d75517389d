// Command cabi is the C ABI of the engine, built with -buildmode=c-shared
// and loaded by the Python plugin through ctypes. It only translates: JSON
// or packed bytes in, a call into lib/engine, JSON out. The contract of every
// function is in include/difftest.h.
package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime/cgo"
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/engine"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

func main() {}

// The library is loaded while pytest still imports conftest files, well
// before the first dt_open: SQLite's initialisation and the schema that every
// open checks against are prepared meanwhile, on a goroutine of their own.
// A panic there must not end the process; dt_open would report the error.
func init() {
	// The engine's live heap is small (parsed files, one batch), and the
	// default GC target (100%) collects it every few record calls: a quarter
	// of recording's engine time. A higher target, bounded by a soft limit,
	// trades a few MB for that.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(256 << 20)
	go func() {
		defer func() { recover() }()
		store.Prepare()
	}()
}

// Return codes; see include/difftest.h.
const (
	ok       = 0
	failed   = 1
	panicked = 2
)

// guard turns a panic into an error return: a panic crossing into C would
// abort the whole Python process.
func guard(out **C.char, code *C.int) {
	if r := recover(); r != nil {
		stack := string(debug.Stack())
		// A panic raised again from a worker goroutine carries the
		// worker's stack too (fingerprint.WorkerPanic).
		if w, ok := r.(interface{ WorkerStack() []byte }); ok {
			stack += "\nworker goroutine:\n" + string(w.WorkerStack())
		}
		*out = C.CString(fmt.Sprintf("internal error: %v (please report this)\n%s", r, stack))
		*code = panicked
	}
}

func reply(out **C.char, v any, err error) C.int {
	if err != nil {
		*out = C.CString(oneLine(err.Error()))
		return failed
	}
	if v == nil {
		*out = nil
		return ok
	}
	b, err := json.Marshal(v)
	if err != nil {
		*out = C.CString(err.Error())
		return failed
	}
	*out = (*C.char)(C.CBytes(append(b, 0)))
	return ok
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func session(h C.uintptr_t) (*engine.Session, error) {
	if h == 0 {
		return nil, fmt.Errorf("invalid session handle")
	}
	s, good := cgo.Handle(h).Value().(*engine.Session)
	if !good {
		return nil, fmt.Errorf("invalid session handle")
	}
	return s, nil
}

//export dt_open
func dt_open(config *C.char, handle *C.uintptr_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	var cfg engine.Config
	if err := json.Unmarshal([]byte(C.GoString(config)), &cfg); err != nil {
		return reply(out, nil, fmt.Errorf("bad configuration: %w", err))
	}
	s, err := engine.Open(cfg)
	if err != nil {
		return reply(out, nil, err)
	}
	*handle = C.uintptr_t(cgo.NewHandle(s))
	return reply(out, nil, nil)
}

//export dt_select
func dt_select(h C.uintptr_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	s, err := session(h)
	if err != nil {
		return reply(out, nil, err)
	}
	sel, err := s.Select()
	return reply(out, sel, err)
}

//export dt_record
func dt_record(h C.uintptr_t, buf unsafe.Pointer, n C.size_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	s, err := session(h)
	if err != nil {
		return reply(out, nil, err)
	}
	batch, err := engine.DecodeRecords(C.GoBytes(buf, C.int(n)))
	if err != nil {
		return reply(out, nil, err)
	}
	return reply(out, nil, s.Record(batch))
}

//export dt_finish
func dt_finish(h C.uintptr_t, info *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	s, err := session(h)
	if err != nil {
		return reply(out, nil, err)
	}
	var f engine.Finish
	if err := json.Unmarshal([]byte(C.GoString(info)), &f); err != nil {
		return reply(out, nil, fmt.Errorf("bad finish report: %w", err))
	}
	sum, err := s.Finish(f)
	return reply(out, sum, err)
}

//export dt_close
func dt_close(h C.uintptr_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	s, err := session(h)
	if err != nil {
		return reply(out, nil, err)
	}
	cgo.Handle(h).Delete()
	return reply(out, nil, s.Close())
}

//export dt_free
func dt_free(p unsafe.Pointer) {
	C.free(p)
}
