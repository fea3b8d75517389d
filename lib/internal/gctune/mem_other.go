//go:build !linux

package gctune

import "math"

// physicalMemory is not read outside Linux: no limit.
func physicalMemory() int64 { return math.MaxInt64 }
