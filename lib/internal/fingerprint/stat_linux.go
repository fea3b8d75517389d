//go:build linux

package fingerprint

import (
	"io/fs"
	"syscall"
)

// inode returns what identifies a file's inode on this machine, and when
// it last changed (ctime): no tool can set the ctime, which moves on every
// write, chmod or rename, and a checkout elsewhere has other inodes.
func inode(info fs.FileInfo) (dev, ino uint64, ctimeNs int64, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0, false
	}
	return uint64(st.Dev), st.Ino, st.Ctim.Nano(), true
}
