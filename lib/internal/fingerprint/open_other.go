//go:build !unix

package fingerprint

import "os"

// openNoBlock opens a file for reading; the caller checks it is a regular
// file before reading.
func openNoBlock(path string) (*os.File, error) {
	return os.Open(path)
}
