//go:build darwin

package fingerprint

import (
	"io/fs"
	"syscall"
)

// inode: see stat_linux.go.
func inode(info fs.FileInfo) (dev, ino uint64, ctimeNs int64, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0, false
	}
	return uint64(st.Dev), st.Ino, st.Ctimespec.Nano(), true
}
