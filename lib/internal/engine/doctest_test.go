package engine

import (
	"slices"
	"testing"
)

func TestDoctestSource(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		code     string
		examples []string
	}{
		{"none", "def f():\n    return 1\n", "", nil},
		{
			"docstring",
			"def f():\n    \"\"\"\n    >>> from pkg import b\n    >>> b.M\n    2\n    \"\"\"\n",
			"from pkg import b\nb.M\n",
			[]string{"from pkg import b\n", "b.M\n"},
		},
		{
			"continuation",
			">>> for i in range(2):\n...     print(i)\n0\n1\n",
			"for i in range(2):\n    print(i)\n",
			[]string{"for i in range(2):\n    print(i)\n"},
		},
		{
			// "..." after output is output (ELLIPSIS), not code.
			"ellipsis output",
			">>> f()\n[1,\n...\n>>> g()\n",
			"f()\ng()\n",
			[]string{"f()\n", "g()\n"},
		},
		{"bare prompt", ">>>\n>>>x\r\n", "\nx\n", []string{"\n", "x\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, examples := doctestSource([]byte(tt.src))
			if string(code) != tt.code {
				t.Errorf("code = %q, want %q", code, tt.code)
			}
			var got []string
			for _, ex := range examples {
				got = append(got, string(ex))
			}
			if !slices.Equal(got, tt.examples) {
				t.Errorf("examples = %q, want %q", got, tt.examples)
			}
		})
	}
}

func TestReachesDynamically(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{"from pkg import b\nb.M\n", false},
		{"import importlib\nimportlib.import_module(name).M\n", true},
		{"getattr(b, name)\n", true},
		{"globals()['M']\n", true},
		{"1 +\n", false}, // does not parse: looked at example by example
	}
	s := &Session{}
	for _, tt := range tests {
		if got := reachesDynamically(s.parser().Parse([]byte(tt.src))); got != tt.want {
			t.Errorf("reachesDynamically(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}
