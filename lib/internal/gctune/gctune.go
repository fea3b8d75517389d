// Package gctune sets the Go garbage collector for the operations that are
// running, rather than once for the whole process: the library lives in a
// Python process for its whole life, and what suits one operation (a small,
// hot heap while recording) makes another thrash (a merge whose heap grows
// with its inputs).
package gctune

import (
	"math"
	"runtime/debug"
	"sync"
)

// Setting is what an operation asks of the collector.
type Setting struct {
	// Percent is the heap growth between collections (GOGC).
	Percent int
	// Limit is the soft memory limit in bytes (GOMEMLIMIT); math.MaxInt64
	// for none.
	Limit int64
}

var (
	// Session: a recording or selecting session. Its live heap is small
	// (parsed files, one batch) and the default target (100%) collected it
	// every few record calls, a quarter of recording's engine time; a
	// higher target, bounded by a soft limit, trades a few MB for that.
	Session = Setting{Percent: 400, Limit: 256 << 20}
	// Merge: its heap holds the union of every input, which can pass any
	// fixed limit, and at the limit the collector runs back to back
	// (lib/internal/merge/bench_test.go: 63 collections and 16 s of GC CPU
	// instead of 5 and 0.8 s). The same target as a session, which the
	// default (100%) would triple the GC CPU of, bounded only by half the
	// machine's memory, where running out is the greater danger.
	Merge = Setting{Percent: 400, Limit: max(256<<20, physicalMemory()/2)}
)

var state = struct {
	sync.Mutex
	active  map[*int]Setting
	initial Setting // as the process started (GOGC, GOMEMLIMIT)
}{active: map[*int]Setting{}}

func init() {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	state.initial = Setting{Percent: p, Limit: debug.SetMemoryLimit(-1)}
}

// Use applies s until release is called. With several operations at once,
// the collector gets the smallest target and the largest limit asked for:
// no operation is made to thrash, and none to grow the heap more than it
// asked.
func Use(s Setting) (release func()) {
	key := new(int)
	state.Lock()
	state.active[key] = s
	apply()
	state.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			state.Lock()
			delete(state.active, key)
			apply()
			state.Unlock()
		})
	}
}

// Current returns the setting in force.
func Current() Setting {
	state.Lock()
	defer state.Unlock()
	return effective()
}

func effective() Setting {
	if len(state.active) == 0 {
		return state.initial
	}
	e := Setting{Percent: math.MaxInt, Limit: 0}
	for _, s := range state.active {
		e.Percent = min(e.Percent, s.Percent)
		e.Limit = max(e.Limit, s.Limit)
	}
	return e
}

func apply() {
	e := effective()
	debug.SetGCPercent(e.Percent)
	debug.SetMemoryLimit(e.Limit)
}
