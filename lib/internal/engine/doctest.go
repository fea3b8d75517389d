package engine

import (
	"bytes"
	"io"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/blocks"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/selection"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// maxDoctestBytes bounds how much of a file is read for its examples (a
// data dump matched by --doctest-glob); its content still counts whole.
const maxDoctestBytes = 8 << 20

// doctestIDs returns what a doctest item depends on besides its file's
// content (which the caller adds: every edit of an example runs it again).
// Its examples are code in strings, run with a copy of the module's
// globals: the recorder sees the project functions they call, but not the
// names they read, nor the modules they import when those were imported
// already. So the test depends on the whole top level of every module the
// examples may read names of: its own module's imports, the project
// modules the examples import or name as dotted paths ("from pkg import
// b", "pkg.b.M"), and what those import in turn. Examples that reach names
// dynamically (importlib, getattr with a computed name) may reach any
// module imported so far (fallAny).
func (s *Session) doctestIDs(q store.Querier, path string, r *reads) ([]int64, error) {
	dt, ok := s.doctests[path]
	if !ok {
		dt = s.readDoctest(path)
		s.doctests[path] = dt
	}
	if dt.dynamic {
		r.raise(fallAny)
	}
	return s.topIDs(q, dt.reach, selection.Module, selection.Defs, selection.ClassNames, selection.AllNames, selection.Exports)
}

// doctestInfo is what the doctest examples of a file reach.
type doctestInfo struct {
	reach   []string // project modules whose names they may read
	dynamic bool     // they reach names without naming them
}

// readDoctest reads the doctest examples of the file at path.
func (s *Session) readDoctest(path string) doctestInfo {
	var start []string
	if strings.HasSuffix(path, ".py") {
		start = append(start, path)
	}
	f, err := fingerprint.OpenData(s.root, path)
	if err != nil {
		return doctestInfo{} // gone or unreadable: its "<content>" says so
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxDoctestBytes+1))
	if err != nil {
		return doctestInfo{}
	}
	var dt doctestInfo
	if len(src) > maxDoctestBytes {
		// Examples past the limit are not read: they may reach anything.
		src, dt.dynamic = src[:maxDoctestBytes], true
	}
	if code, examples := doctestSource(src); len(code) > 0 {
		p := s.parser()
		parsed := p.Parse(code)
		imports := parsed.Imports
		dynamic := reachesDynamically(parsed)
		if !parsed.Parsed {
			// One example that does not parse (an example of a
			// SyntaxError) must not hide what the others do.
			for _, ex := range examples {
				one := p.Parse(ex)
				imports = append(imports, one.Imports...)
				dynamic = dynamic || reachesDynamically(one)
			}
		}
		dt.dynamic = dt.dynamic || dynamic
		for _, imp := range imports {
			files, _ := s.resolver.Resolve(path, imp)
			start = append(start, files...)
		}
		if paths, _, err := dataPaths(bytes.NewReader(code)); err == nil {
			start = append(start, s.modulesNamed(path, paths)...)
		}
	}
	if len(start) > 0 {
		dt.reach, _ = s.resolver.Closure(start)
	}
	return dt
}

// reachesDynamically reports whether parsed examples read names without
// naming them (see blocks.File.Dynamic): a getattr with a computed name on
// anything counts, since the examples hold modules as plain values.
func reachesDynamically(f blocks.File) bool {
	if !f.Parsed {
		return false // each example is looked at on its own
	}
	for i := range f.Blocks {
		if f.Dynamic(i) || f.ObjectDynamic(i) || len(f.DynamicTargets(i)) > 0 {
			return true
		}
	}
	return false
}

// doctestSource returns the source of the doctest examples in src, as one
// module, and each example on its own: the text after each ">>>" prompt
// and after the "..." prompts of the lines that follow it. A line of
// expected output that starts with "..." is taken as code too, which can
// only add modules.
func doctestSource(src []byte) (code []byte, examples [][]byte) {
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			examples = append(examples, cur)
			code = append(code, cur...)
			cur = nil
		}
	}
	in := false
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		t := bytes.TrimLeft(bytes.TrimRight(line, "\r"), " \t")
		switch {
		case bytes.HasPrefix(t, []byte(">>>")):
			flush()
			in = true
			cur = append(append(cur, prompted(t)...), '\n')
		case in && bytes.HasPrefix(t, []byte("...")):
			cur = append(append(cur, prompted(t)...), '\n')
		default:
			in = false
		}
	}
	flush()
	return code, examples
}

// prompted strips a ">>>" or "..." prompt and the one space after it.
func prompted(t []byte) []byte {
	t = t[3:]
	if len(t) > 0 && t[0] == ' ' {
		t = t[1:]
	}
	return t
}
