package engine

// OpenPanicking is Open for tests of the recovery at the C ABI (SPEC 9.3):
// the session panics at point, one of "open", "select", "record", "finish"
// and "close". Only Go tests and the test build of the C ABI (build tag
// difftest_debug, lib/cabi/debug_on.go) call it: the configuration the
// shipped library reads has no way to ask for a panic.
func OpenPanicking(cfg Config, point string) (*Session, error) {
	return open(cfg, point)
}

func (s *Session) debugPanic(point string) { debugPanic(s.panicAt, point) }

func debugPanic(panicAt, point string) {
	if panicAt != "" && panicAt == point {
		panic("debug_panic at " + point)
	}
}
