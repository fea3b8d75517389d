package merge

import (
	"context"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/remote"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/workers"
)

// panicky is a remote whose transfer panics (a bug anywhere below load).
type panicky struct{}

func (panicky) Fetch(context.Context, string, string) (remote.FetchResult, error) {
	panic("boom in a transfer")
}
func (panicky) Upload(context.Context, string) (string, error) { return "", nil }
func (panicky) String() string                                 { return "s3://b/k.db" }

// A panic in an input's goroutine comes back to the caller's goroutine,
// where the C ABI recovers it, instead of aborting the process.
func TestPanicWhileReadingAnInput(t *testing.T) {
	srcs := []source{{name: "s3://b/a.db", client: panicky{}}, {name: "s3://b/b.db", client: panicky{}}}
	var got any
	func() {
		defer func() { got = recover() }()
		readAll(context.Background(), srcs, t.TempDir(), func(int, *source) {}, func(int, *source, *snapshot) error { return nil })
	}()
	wp, ok := got.(*workers.Panic)
	if !ok || wp.Error() != "boom in a transfer" || len(wp.WorkerStack()) == 0 {
		t.Fatalf("recovered %#v", got)
	}
}
