//go:build !difftest_debug

package main

import "github.com/pytest-difftest/pytest-difftest/lib/internal/engine"

// openSession opens the session dt_open asks for. The shipped library
// reads nothing else from the configuration; the test build (debug_on.go)
// also reads "debug_panic".
func openSession(_ []byte, cfg engine.Config) (*engine.Session, error) {
	return engine.Open(cfg)
}
