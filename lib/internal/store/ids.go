package store

import (
	"encoding/binary"
	"errors"
	"slices"
)

// EncodeIDs packs block ids as sorted, delta-encoded uvarints: a test's
// dependencies typically cost one or two bytes each.
func EncodeIDs(ids []int64) []byte {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	out := make([]byte, 0, len(sorted)*2)
	var prev int64
	for _, id := range sorted {
		out = binary.AppendUvarint(out, uint64(id-prev))
		prev = id
	}
	return out
}

var errBadIDs = errors.New("malformed dependency list")

// DecodeIDs calls fn for each id in b, in increasing order, until fn returns
// false.
func DecodeIDs(b []byte, fn func(id int64) bool) error {
	var prev int64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return errBadIDs
		}
		b = b[n:]
		prev += int64(d)
		if !fn(prev) {
			return nil
		}
	}
	return nil
}
