// Package contenthash is the one content hash of the baseline: FNV-1a 64.
// File contents, block checksums and dependency sets all use it; a second
// implementation that drifted from this one would mark every file changed.
package contenthash

import (
	"hash"
	"hash/fnv"
)

// Offset is the hash of no bytes, the start of an incremental hash.
const Offset uint64 = 14695981039346656037

const prime uint64 = 1099511628211

// Sum hashes b.
func Sum(b []byte) uint64 {
	return Add(Offset, b)
}

// Add continues the hash h with b: Add(Add(Offset, x), y) == Sum(x + y).
func Add(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= prime
	}
	return h
}

// AddByte continues the hash h with the byte c.
func AddByte(h uint64, c byte) uint64 {
	return (h ^ uint64(c)) * prime
}

// AddZero continues the hash h with one NUL byte.
func AddZero(h uint64) uint64 {
	return h * prime
}

// New returns a streaming hash equal to Sum, for contents read in pieces.
func New() hash.Hash64 {
	return fnv.New64a()
}
