package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// A first recording run of a synthetic project, as the plugin drives it:
//
//	go test -run '^$' -bench Record -benchtime 20x ./lib/internal/engine/
//
// 50 modules of 20 functions, and 50 test files of 20 tests that each run
// one to three functions of their module and of the next one. Only the
// Record calls (batches of 20) are timed: parsing the files they name is
// part of them, as in a real run.
// benchProject writes the synthetic project of BenchmarkRecord1000 and
// returns its root and what a first recording run reports, in batches of 20.
func benchProject(b *testing.B) (string, [][]TestRecord) {
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

	return root, batches
}

func BenchmarkRecord1000(b *testing.B) {
	root, batches := benchProject(b)
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

// The no-change --diff path: open the baseline of BenchmarkRecord1000's
// project, recorded in two environments, and select in one of them.
//
//	go test -run '^$' -bench SelectNoChange ./lib/internal/engine/
func BenchmarkSelectNoChange1000(b *testing.B) {
	root, batches := benchProject(b)
	db := filepath.Join(root, "db", "d.db")
	var files []string
	for m := range 50 {
		files = append(files, fmt.Sprintf("tests/test_%02d.py", m))
	}
	for _, env := range []string{"3.11", "3.13"} {
		s, err := Open(Config{Root: root, DBPath: db, Record: true, EnvName: env, Env: map[string]string{"python": env}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Select(); err != nil {
			b.Fatal(err)
		}
		collected := map[string]CollectedFile{}
		for _, batch := range batches {
			if err := s.Record(batch); err != nil {
				b.Fatal(err)
			}
			for _, t := range batch {
				f := collected[store.TestFile(t.NodeID)]
				f.Complete = true
				f.NodeIDs = append(f.NodeIDs, t.NodeID)
				collected[store.TestFile(t.NodeID)] = f
			}
		}
		if _, err := s.Finish(Finish{Files: collected, WholeSuite: true}); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(Config{Root: root, DBPath: db, EnvName: "3.11", Env: map[string]string{"python": "3.11"}})
		if err != nil {
			b.Fatal(err)
		}
		sel, err := s.Select()
		if err != nil {
			b.Fatal(err)
		}
		if sel.Full || len(sel.SkipFiles) != len(files) {
			b.Fatalf("no change: want every test file skipped, got %+v", sel)
		}
		s.Close()
	}
}
