package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A first recording run of a synthetic project, as the plugin drives it:
//
//	go test -run '^$' -bench Record -benchtime 20x ./lib/engine/
//
// 50 modules of 20 functions, and 50 test files of 20 tests that each run
// one to three functions of their module and of the next one. Only the
// Record calls (batches of 20) are timed: parsing the files they name is
// part of them, as in a real run.
func BenchmarkRecord1000(b *testing.B) {
	const modules, funcs, perFile = 50, 20, 20
	root := b.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "pkg"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "tests"), 0o755); err != nil {
		b.Fatal(err)
	}
	write(b, root, "pkg/__init__.py", "")
	write(b, root, "tests/__init__.py", "")
	funcLine := func(j int) uint32 { return uint32(3 + 3*j) } // see the module below
	for m := range modules {
		var src strings.Builder
		fmt.Fprintf(&src, "SCALE = %d\n\n", m)
		for j := range funcs {
			fmt.Fprintf(&src, "def f_%d(x):\n    return x * SCALE + %d\n\n", j, j)
		}
		write(b, root, fmt.Sprintf("pkg/mod_%02d.py", m), src.String())
	}
	var batches [][]TestRecord
	var batch []TestRecord
	for m := range modules {
		next := (m + 1) % modules
		var src strings.Builder
		fmt.Fprintf(&src, "from pkg import mod_%02d, mod_%02d\n\n", m, next)
		testFile := fmt.Sprintf("tests/test_%02d.py", m)
		for k := range perFile {
			line := uint32(strings.Count(src.String(), "\n") + 1)
			fmt.Fprintf(&src, "def test_%d():\n    assert mod_%02d.f_%d(1) + mod_%02d.f_%d(2)\n\n", k, m, k, next, (k*7)%funcs)
			own := []uint32{funcLine(k)}
			if k%3 == 0 {
				own = append(own, funcLine((k+1)%funcs))
			}
			batch = append(batch, TestRecord{
				NodeID:   fmt.Sprintf("%s::test_%d", testFile, k),
				Duration: 0.001,
				Deps: []Dep{
					{Kind: DepLines, Path: testFile, Lines: []uint32{line}},
					{Kind: DepLines, Path: fmt.Sprintf("pkg/mod_%02d.py", m), Lines: own},
					{Kind: DepLines, Path: fmt.Sprintf("pkg/mod_%02d.py", next), Lines: []uint32{funcLine((k * 7) % funcs)}},
				},
			})
			if len(batch) == 20 {
				batches = append(batches, batch)
				batch = nil
			}
		}
		write(b, root, testFile, src.String())
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", fmt.Sprintf("%d.db", i)), Record: true, Env: map[string]string{"python": "3.11"}, StartedNs: afterEdits()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Select(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, batch := range batches {
			if err := s.Record(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
