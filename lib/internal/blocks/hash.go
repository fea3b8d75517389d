package blocks

const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// Hash is the checksum of Whole blocks and of file contents elsewhere:
// FNV-1a 64 of b.
func Hash(b []byte) uint64 {
	return fnvAdd(fnvOffset, b)
}

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}
