package engine

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// envStep is one session in one environment: a selection (and, when
// recording, the run of what it selected) or an edit of calc.py.
type envStep struct {
	env    string // the environment's name
	config string // its pytest-config value ("" for "cfg")
	edit   func(t *testing.T, root string)
	record bool
	force  bool
	// collected, when set, is what the run collected (a test removed from
	// the suite); otherwise the three tests.
	collected []string
	full      bool     // want a full run
	want      []string // want these known tests selected
}

var allThree = []string{"test_calc.py::test_add", "test_calc.py::test_mul", "test_calc.py::test_withdraw"}

func editMul(t *testing.T, root string) {
	write(t, root, "calc.py", strings.Replace(calc, "a * b", "b * a", 1))
}

// Environments keep their own results in one database (SPEC 4.7).
func TestEnvironments(t *testing.T) {
	tests := []struct {
		name  string
		steps []envStep
	}{
		{"alternating with no change runs nothing in either", []envStep{
			{env: "3.11", record: true, full: true},
			{env: "3.13", record: true, full: true},
			{env: "3.11"}, {env: "3.13"},
			{env: "3.11", record: true}, {env: "3.13", record: true},
			{env: "3.11"}, {env: "3.13"},
		}},
		{"an edit selects the same tests under each", []envStep{
			{env: "3.11", record: true, full: true},
			{env: "3.13", record: true, full: true},
			{edit: editMul},
			{env: "3.11", want: []string{"test_calc.py::test_mul"}},
			{env: "3.13", want: []string{"test_calc.py::test_mul"}},
			// An incremental baseline in one leaves the other's results.
			{env: "3.11", record: true, want: []string{"test_calc.py::test_mul"}},
			{env: "3.11"},
			{env: "3.13", want: []string{"test_calc.py::test_mul"}},
			{env: "3.13", record: true, want: []string{"test_calc.py::test_mul"}},
			{env: "3.13"}, {env: "3.11"},
		}},
		{"a forced baseline in one leaves the other's results", []envStep{
			{env: "3.11", record: true, full: true},
			{env: "3.13", record: true, full: true},
			{edit: editMul},
			{env: "3.11", record: true, force: true, full: true},
			{env: "3.11"},
			{env: "3.13", want: []string{"test_calc.py::test_mul"}},
		}},
		{"a test gone from one environment's suite stays in the other's", []envStep{
			{env: "a", record: true, full: true},
			{env: "b", record: true, full: true},
			{env: "a", record: true, collected: allThree[:2]},
			{env: "a"},
			{env: "b"},
		}},
		{"the environment's fingerprint is per environment", []envStep{
			{env: "3.11", config: "x", record: true, full: true},
			{env: "3.13", config: "y", record: true, full: true},
			{env: "3.11", config: "x"}, {env: "3.13", config: "y"},
			{env: "3.11", config: "z", want: allThree},
			{env: "3.13", config: "y"},
		}},
		{"an environment never recorded runs everything", []envStep{
			{env: "3.11", record: true, full: true},
			{env: "3.12", full: true},
			{env: "3.12", full: true}, // --diff recorded nothing
			{env: "3.11"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "calc.py", calc)
			write(t, root, "test_calc.py", testCalc)
			for i, st := range tt.steps {
				if st.edit != nil {
					st.edit(t, root)
					continue
				}
				runEnvStep(t, root, i, st)
			}
			// The database holds each environment's own records.
			s := session(t, root, false)
			envs, err := store.Envs(s.db)
			if err != nil {
				t.Fatal(err)
			}
			counts, _ := store.CountTestsByEnv(s.db)
			for _, e := range envs {
				want := 3
				for _, st := range tt.steps {
					if st.env == e.Name && st.collected != nil {
						want = len(st.collected)
					}
				}
				if counts[e.ID] != want {
					t.Errorf("environment %s holds %d tests, want %d", e.Name, counts[e.ID], want)
				}
			}
		})
	}
}

func runEnvStep(t *testing.T, root string, i int, st envStep) {
	t.Helper()
	config := st.config
	if config == "" {
		config = "cfg"
	}
	env := map[string]string{"python": st.env, "pytest-config": config}
	s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "db", "d.db"), Record: st.record, Force: st.force, EnvName: st.env, Env: env, StartedNs: afterEdits()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sel, err := s.Select()
	if err != nil {
		t.Fatal(err)
	}
	if sel.Full != st.full {
		t.Fatalf("step %d (%s): full = %v, want %v", i, st.env, sel.Full, st.full)
	}
	var got []string
	if !sel.Full {
		got = affected(t, sel)
		if !slices.Equal(got, st.want) {
			t.Fatalf("step %d (%s): selected %v, want %v", i, st.env, got, st.want)
		}
	}
	if !st.record {
		return
	}
	collected := allThree
	if st.collected != nil {
		collected = st.collected
	}
	var ran []TestRecord
	for _, r := range records(nil) {
		if slices.Contains(collected, r.NodeID) && (sel.Full || slices.Contains(got, r.NodeID)) {
			ran = append(ran, r)
		}
	}
	if err := s.Record(ran); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(Finish{Files: map[string]CollectedFile{"test_calc.py": {Complete: true, NodeIDs: collected}}, WholeSuite: true}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesBadEnvironmentNames(t *testing.T) {
	for _, name := range []string{" ", "a b", "tab\there", "new\nline", "\x00", strings.Repeat("x", store.MaxEnvName+1), "\xff"} {
		root := t.TempDir()
		if s, err := Open(Config{Root: root, DBPath: filepath.Join(root, "d.db"), EnvName: name}); err == nil {
			s.Close()
			t.Errorf("Open accepted environment name %q", name)
		}
	}
}
