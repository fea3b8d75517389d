package engine

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
)

// A parser failure is safe (the whole file is one block) and, with
// --diff-v, said: parser bugs surface instead of hiding behind full runs.
func TestParserFailureIsReportedWithVerbose(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		t.Run(map[bool]string{false: "quiet", true: "verbose"}[verbose], func(t *testing.T) {
			root := baseline(t, nil)
			write(t, root, "calc.py", strings.Replace(calc, "a * b", "b * a", 1))
			blocks.ParseHook = func(src []byte) {
				if strings.Contains(string(src), "b * a") {
					panic("boom")
				}
			}
			defer func() { blocks.ParseHook = nil }()
			s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Verbose: verbose, Env: map[string]string{"python": "3.11"}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sel, err := s.Select()
			if err != nil {
				t.Fatal(err)
			}
			if got := affected(t, sel); len(got) != 3 {
				t.Errorf("after a parser failure: %v, want every test of the file", got)
			}
			want := []string(nil)
			if verbose {
				want = []string{"calc.py: the parser failed (boom); the whole file counts as one block"}
			}
			if !slices.Equal(sel.Warnings, want) {
				t.Errorf("warnings %q, want %q", sel.Warnings, want)
			}
		})
	}
}
