package gctune

import (
	"runtime/debug"
	"testing"
)

func TestUse(t *testing.T) {
	initial := Current()
	session := Use(Session)
	if got := Current(); got != Session {
		t.Fatalf("during a session: %+v, want %+v", got, Session)
	}
	merge := Use(Merge)
	want := Setting{Percent: 400, Limit: Merge.Limit}
	if Merge.Limit < 256<<20 {
		t.Fatalf("merge limit %d below a session's", Merge.Limit)
	}
	if got := Current(); got != want {
		t.Fatalf("session and merge: %+v, want %+v", got, want)
	}
	if p := debug.SetGCPercent(want.Percent); p != want.Percent {
		t.Fatalf("runtime GC percent %d, want %d", p, want.Percent)
	}
	if l := debug.SetMemoryLimit(-1); l != want.Limit {
		t.Fatalf("runtime memory limit %d, want %d", l, want.Limit)
	}
	merge()
	merge() // idempotent
	if got := Current(); got != Session {
		t.Fatalf("after the merge: %+v, want %+v", got, Session)
	}
	session()
	if got := Current(); got != initial {
		t.Fatalf("after everything: %+v, want the initial %+v", got, initial)
	}
}
