// Package selection decides which recorded block versions are stale, and so
// which tests are affected (SPEC 4.5).
package selection

import (
	"fmt"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/contenthash"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Pseudo-block names, as the store names them (store.ContentBlock...).
const (
	Content = store.ContentBlock
	WholePy = store.WholeBlock
	Defs    = store.DefsBlock
	Module  = store.ModuleBlock
	EnvFile = store.EnvFile
)

// Current is what a file's blocks are now.
type Current struct {
	Exists     bool
	Unreadable bool
	Parsed     bool // a Python file that parsed
	Checksums  map[string]uint64
	Names      map[string]bool   // names defined, for "<defs>"
	File       *blocks.File      // nil for data files
	Values     map[string]string // the environment's raw values
}

// CurrentOf describes a file from its state and, for Python files, its
// blocks (f may be nil for data files).
func CurrentOf(st fingerprint.State, f *blocks.File) Current {
	c := Current{Exists: st.Exists, Unreadable: st.Unreadable}
	if !st.Exists || st.Unreadable {
		return c
	}
	c.Checksums = map[string]uint64{Content: st.Hash}
	if f == nil {
		return c
	}
	c.File = f
	c.Parsed = f.Parsed
	for _, b := range f.Blocks {
		c.Checksums[b.Name] = b.Checksum
	}
	if f.Parsed {
		c.Names = make(map[string]bool, len(f.Names))
		for _, n := range f.Names {
			c.Names[n] = true
		}
	}
	return c
}

// EnvCurrent describes the environment pseudo-file from name=value pairs
// (for example "python" = "3.11").
func EnvCurrent(env map[string]string) Current {
	c := Current{Exists: true, Checksums: make(map[string]uint64, len(env)), Values: env}
	for k, v := range env {
		c.Checksums[k] = contenthash.Sum([]byte(v))
	}
	return c
}

// Stale reports whether a recorded block version differs from the file now.
func Stale(b store.Block, cur Current) bool {
	if !cur.Exists || cur.Unreadable {
		return true
	}
	if b.Name == Defs {
		// Stale only when a name went away: a new function is no reason to
		// re-run anything, a deleted one is (a test may patch or import it).
		if !cur.Parsed {
			return true
		}
		for _, n := range b.Names {
			if !cur.Names[n] {
				return true
			}
		}
		return false
	}
	sum, ok := cur.Checksums[b.Name]
	return !ok || sum != b.Checksum
}

// Reason says in a few words why a stale block version selects its tests.
func Reason(path string, b store.Block, cur Current) string {
	switch {
	case path == EnvFile:
		old := ""
		if len(b.Names) > 0 {
			old = b.Names[0]
		}
		return fmt.Sprintf("%s %s -> %s", strings.TrimPrefix(b.Name, "dist:"), old, envValue(b.Name, cur))
	case !cur.Exists:
		return path + " deleted"
	case cur.Unreadable:
		return path + " unreadable"
	case b.Name == Content:
		return path + " changed"
	case !cur.Parsed && cur.File != nil:
		return path + " cannot be parsed"
	case b.Name == Defs:
		return path + ": a function or class was removed or renamed"
	case b.Name == WholePy:
		return path + " changed"
	}
	if _, ok := cur.Checksums[b.Name]; !ok {
		return fmt.Sprintf("%s::%s removed", path, b.Name)
	}
	return fmt.Sprintf("%s::%s changed", path, b.Name)
}

func envValue(name string, cur Current) string {
	if v, ok := cur.Values[name]; ok {
		return v
	}
	return "(absent)"
}
