//go:build unix

package fingerprint

import (
	"os"
	"syscall"
)

// openNoBlock opens a file for reading without blocking on a FIFO that
// has no writer; the caller checks it is a regular file before reading.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
