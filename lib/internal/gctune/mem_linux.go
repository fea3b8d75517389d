package gctune

import (
	"math"
	"syscall"
)

// physicalMemory returns the machine's RAM in bytes (math.MaxInt64 when it
// cannot be read).
func physicalMemory() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return math.MaxInt64
	}
	total := uint64(si.Totalram) * uint64(si.Unit)
	if total > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(total)
}
