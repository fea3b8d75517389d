// Command cabi is the C ABI of the engine, built with -buildmode=c-shared
// and loaded by the Python plugin through ctypes. It only translates: JSON
// or packed bytes in, a call into lib/internal/engine, JSON out. The contract of every
// function is in include/difftest.h.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
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
// The collector is tuned per operation (lib/internal/gctune), not here:
// an open session and a merge want different settings.
func init() {
	go func() {
		defer func() { recover() }()
		store.Prepare()
	}()
}

// Return codes; see include/difftest.h (DT_OK...). DT_FORKED is returned
// only by the C entry points (entry.c), without entering Go.
const (
	ok         = 0
	failed     = 1
	panicked   = 2
	codeMisuse = 3 // DT_MISUSE
)

// The Go functions behind include/difftest.h are exported as dtgo_*: the
// C functions dt_* in entry.c check for a forked child and a NULL out, then
// call them. They are not part of the ABI.

// guard turns a panic into an error return: a panic crossing into C would
// abort the whole Python process.
func guard(out **C.char, code *C.int) {
	if r := recover(); r != nil {
		*code = panicked
		if out == nil {
			return
		}
		stack := string(debug.Stack())
		// A panic raised again from a worker goroutine carries the
		// worker's stack too (workers.Panic).
		if w, ok := r.(interface{ WorkerStack() []byte }); ok {
			stack += "\nworker goroutine:\n" + string(w.WorkerStack())
		}
		*out = C.CString(fmt.Sprintf("internal error: %v (please report this)\n%s", r, stack))
	}
}

// reply stores v as JSON, or err as one line, in *out and returns the code.
func reply(out **C.char, v any, err error) C.int {
	if out == nil {
		return codeMisuse
	}
	if err != nil {
		code := C.int(failed)
		if isMisuse(err) {
			code = codeMisuse
		}
		*out = C.CString(oneLine(err.Error()))
		return code
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

//export dtgo_open
func dtgo_open(config *C.char, handle *C.uintptr_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	if handle == nil {
		return reply(out, nil, misuse("dt_open: handle is NULL"))
	}
	raw := []byte(C.GoString(config))
	var cfg engine.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return reply(out, nil, fmt.Errorf("bad configuration: %w", err))
	}
	s, err := openSession(raw, cfg)
	if err != nil {
		return reply(out, nil, err)
	}
	*handle = C.uintptr_t(register(s))
	return reply(out, nil, nil)
}

//export dtgo_select
func dtgo_select(h C.uintptr_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	sel, err := selectOn(uintptr(h))
	return reply(out, sel, err)
}

//export dtgo_record
func dtgo_record(h C.uintptr_t, buf unsafe.Pointer, n C.size_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	if uint64(n) > math.MaxInt || (buf == nil && n != 0) {
		return reply(out, nil, misuse(fmt.Sprintf("dt_record: bad buffer (%d bytes at %p)", uint64(n), buf)))
	}
	// A view of the caller's buffer, not a copy: DecodeRecords copies what
	// it keeps (strings, line numbers), and the buffer outlives this call.
	var b []byte
	if n > 0 {
		b = unsafe.Slice((*byte)(buf), int(n))
	}
	return reply(out, nil, recordOn(uintptr(h), b))
}

//export dtgo_finish
func dtgo_finish(h C.uintptr_t, info *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	sum, err := finishOn(uintptr(h), []byte(C.GoString(info)))
	return reply(out, sum, err)
}

//export dtgo_close
func dtgo_close(h C.uintptr_t, out **C.char) (code C.int) {
	defer guard(out, &code)
	return reply(out, nil, closeHandle(uintptr(h)))
}
