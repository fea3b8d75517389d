package engine

import (
	"slices"
	"strings"
	"testing"
)

func TestDataPaths(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"logging ext://", `{"level": "ext://app.settings.LEVEL"}`, []string{"app.settings.LEVEL"}},
		{"entry point", "[console_scripts]\ntool = app.cli:main\n", []string{"app.cli:main"}},
		{"top-level module with attr", "handler: app:make\n", []string{"app:make"}},
		{"yaml key and value", "key: value\nurl: http://example.com:8080/x\n", []string{"example.com"}},
		{"sentence end", "See app.settings.\n", []string{"app.settings"}},
		{"each once", "a.b a.b c.d", []string{"a.b", "c.d"}},
		{"inside a longer run", "x.a.b 1.a.b 3a.b _a.b", []string{"x.a.b", "_a.b"}},
		{"plain words", "plain words, numbers 1.5 and times 12:30", nil},
		{"pickle protocol 0", "(capp.models\nThing\np0\n", []string{"capp.models", "app.models"}},
		{"pickle protocol 2", "\x80\x02capp.models\nThing\n", []string{"capp.models", "app.models"}},
		{"too long", strings.Repeat("a.", 200) + "b c.d", []string{"c.d"}},
		{"non-ASCII around", "é a.b ü", []string{"a.b"}},
		{"after a non-ASCII word", "é.a.b", []string{"é.a.b"}},
		{"non-ASCII module", `{"level": "ext://ñandú.config.LEVEL"}`, []string{"ñandú.config.LEVEL"}},
		{"non-ASCII inner name", "x = app.ñandú:main", []string{"app.ñandú:main"}},
		{"continuation byte starts nothing", "\xa9.c a.b", []string{"a.b"}},
		{"empty", "", nil},
		{"from-import in an example", "```python\nfrom calc import rates as r, fmt\nr.RATE\n```\n", []string{"calc", "calc.rates", "calc.fmt", "r.RATE"}},
		{"from-import after a prompt", ">>> from calc import (rates,\n", []string{"calc", "calc.rates"}},
		{"import statement", "    import calc.rates as r, tools\n", []string{"calc.rates", "alc.rates", "tools"}},
		{"star import", "from calc.rates import *", []string{"calc.rates", "alc.rates"}},
		{"prose", "Important: we import and export.\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := dataPaths(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("dataPaths(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDataPathsTemplate(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Fee: {{ account.fee }}", true},
		{"{% for a in accounts %}", true},
		{"Fee: ${account.fee}", true},
		{"Fee: {a.fee}", false},
		{`{"level": "ext://app.settings.LEVEL"}`, false},
		{"$ {", false},
	}
	for _, tt := range tests {
		_, got, err := dataPaths(strings.NewReader(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("dataPaths(%q) template = %v, want %v", tt.in, got, tt.want)
		}
	}
}
