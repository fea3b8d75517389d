//go:build difftest_debug

package main

import (
	"encoding/json"
	"fmt"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/engine"
)

// openSession, in the test build of the library (go build -tags
// difftest_debug), also reads the configuration key "debug_panic": the
// session panics at that point ("open", "select", "record", "finish" or
// "close"), so that end-to-end tests see that no Go panic crosses the C
// ABI (SPEC 9.3). The shipped library is built without the tag.
func openSession(raw []byte, cfg engine.Config) (*engine.Session, error) {
	var debug struct {
		Panic string `json:"debug_panic"`
	}
	if err := json.Unmarshal(raw, &debug); err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	return engine.OpenPanicking(cfg, debug.Panic)
}
