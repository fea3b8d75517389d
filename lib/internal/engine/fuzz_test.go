package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// encodeRecords is the plugin's side of DecodeRecords (records.pack).
func encodeRecords(ts []TestRecord) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, uint32(len(ts)))
	str := func(s string) {
		b = le.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	for _, t := range ts {
		str(t.NodeID)
		b = append(b, byte(t.Outcome))
		b = le.AppendUint64(b, math.Float64bits(t.Duration))
		b = le.AppendUint32(b, uint32(len(t.Deps)))
		for _, d := range t.Deps {
			b = append(b, d.Kind)
			str(d.Path)
			b = le.AppendUint32(b, uint32(len(d.Lines)))
			for _, l := range d.Lines {
				b = le.AppendUint32(b, l)
			}
		}
	}
	return b
}

// FuzzDecodeRecords: any batch either decodes into records that encode
// back to the same bytes, or is refused; and whatever decodes can be
// recorded without a panic (paths outside the root are ignored).
func FuzzDecodeRecords(f *testing.F) {
	f.Add(encodeRecords(nil))
	f.Add(encodeRecords(records(nil)))
	f.Add(encodeRecords([]TestRecord{{NodeID: "../x.py::t", Outcome: store.XFailed, Duration: math.NaN(), Deps: []Dep{
		{Kind: DepData, Path: "/etc/passwd"}, {Kind: DepDist, Path: "requests"}, {Kind: DepLines, Path: "a/../calc.py", Lines: []uint32{0, 1, math.MaxUint32}},
	}}}))
	f.Add([]byte{1, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0})
	root := f.TempDir()
	os.WriteFile(filepath.Join(root, "calc.py"), []byte(calc), 0o644)
	os.WriteFile(filepath.Join(root, "test_calc.py"), []byte(testCalc), 0o644)
	s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Record: true, Env: map[string]string{"python": "3.11"}, StartedNs: afterEdits()})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Select(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeRecords(data)
		if err != nil {
			return
		}
		if again := encodeRecords(recs); !bytes.Equal(again, data) {
			t.Fatalf("decoded %+v encodes to %x, not %x", recs, again, data)
		}
		if err := s.Record(recs); err != nil {
			t.Fatalf("Record: %v", err)
		}
	})
}

func TestDecodeRecordsRejectsBadFields(t *testing.T) {
	good := records(nil)
	for _, tt := range []struct {
		name string
		edit func([]TestRecord)
	}{
		{"outcome out of range", func(r []TestRecord) { r[0].Outcome = 9 }},
		{"dependency kind out of range", func(r []TestRecord) { r[1].Deps[0].Kind = 7 }},
	} {
		recs := slices.Clone(good)
		for i := range recs {
			recs[i].Deps = slices.Clone(recs[i].Deps)
		}
		tt.edit(recs)
		if _, err := DecodeRecords(encodeRecords(recs)); err == nil {
			t.Errorf("%s: want an error", tt.name)
		}
	}
	// A count that cannot fit in the batch is refused before allocating.
	huge := binary.LittleEndian.AppendUint32(nil, 1<<30)
	huge = append(huge, make([]byte, 1<<20)...)
	if _, err := DecodeRecords(huge); err == nil || !strings.Contains(err.Error(), "count") {
		t.Errorf("huge count: %v", err)
	}
}
