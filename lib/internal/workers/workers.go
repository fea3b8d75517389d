// Package workers carries a panic out of a worker goroutine. A panic that
// ends a goroutine of its own aborts the whole process, Python included,
// and no recover elsewhere can stop it; so workers recover it, and the
// goroutine that waits for them raises it again, where the C ABI recovers
// it and reports both stacks.
package workers

import (
	"fmt"
	"runtime/debug"
)

// Panic is a panic caught in a worker goroutine, with the worker's stack.
type Panic struct {
	Value any
	Stack []byte
}

// Caught wraps a recovered value with the current (worker's) stack; call it
// in the deferred function that recovered r.
func Caught(r any) *Panic {
	return &Panic{Value: r, Stack: debug.Stack()}
}

func (p *Panic) Error() string { return fmt.Sprint(p.Value) }

// WorkerStack is the stack of the goroutine that panicked.
func (p *Panic) WorkerStack() []byte { return p.Stack }
