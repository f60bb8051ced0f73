package rule

import (
	"errors"
	"testing"
)

// TestParseOperands covers Elastic's expression syntax: optional fields,
// field-to-field comparison, arithmetic with its precedence, and
// functions on nested expressions.
func TestParseOperands(t *testing.T) {
	f := func(src, want string) { t.Helper(); checkParse(t, src, want) }
	f(`process where ?process.x == "a"`, `process where ?process.x == "a"`)
	f(`process where process.name == process.parent.name`, `process where process.name == process.parent.name`)
	f(`process where a + b * c - d > 1`, `process where ((a + (b * c)) - d) > 1`)
	f(`process where a -5 == b`, `process where (a - 5) == b`)
	f(`process where -a == 1`, `process where (0 - a) == 1`)
	f(`process where (a + b) % 3 == 1`, `process where ((a + b) % 3) == 1`)
	f(`process where (a == 1) and (b)`, `process where (a == 1 and b)`)
	f(`process where length(a) > 3`, `process where length(a) > 3`)
	f(`process where startsWith~(concat(a, "-", b), "x")`, `process where startsWith~(concat(a, "-", b), "x")`)
	f(`process where startsWith(a, b)`, `process where startsWith(a, b)`)
	f(`process where startsWith(a, "b")`, `process where startsWith(a, "b")`)
	f(`process where "x" == substring(a, -4)`, `process where "x" == substring(a, -4)`)
	f(`process where between~(a, "x", "y", true) != ""`, `process where between~(a, "x", "y", true) != ""`)
	f(`process where wildcard(string(a), "1*")`, `process where wildcard~(string(a), "1*")`)
	f(`process where ?a : "x*"`, `process where ?a : "x*"`)
	f("sequence by ?a [x where true] by ?b [y where ?c] by d", "sequence by ?a\n  [x where true] by ?b\n  [y where ?c] by d")
}

func TestResolveOptional(t *testing.T) {
	reg := DefaultRegistry()
	q, err := Compile("", `process where ?no.such.field == "a" or ?process.name == ?no.other`, reg)
	if err != nil {
		t.Fatal(err)
	}
	c := q.Steps[0].Cond.(*BinaryExpr).X.(*CompareExpr)
	if c.Field.ID != 0 {
		t.Fatalf("missing optional field resolved to %d", c.Field.ID)
	}
	if _, err := Compile("", `process where no.such.field == "a"`, reg); !errors.Is(err, ErrUnknownField) {
		t.Fatalf("non-optional unknown field: %v", err)
	}
	if _, err := Compile("", `process where process.pid > 1.5 and process.pid in (1.0, 2) and add(process.pid, 0.5) > 1`, reg); err != nil {
		t.Fatalf("float against an integer field: %v", err)
	}
}

// TestResolveHandBuiltCall checks that a call Parse would refuse, built by
// hand, is an error and not a panic.
func TestResolveHandBuiltCall(t *testing.T) {
	reg := DefaultRegistry()
	for _, c := range []*CallExpr{{Name: "nosuch"}, {Name: "substring"}, {Name: "length", Args: []Operand{&Literal{}, &Literal{}}}} {
		q := &Query{Steps: []*Step{{Event: "any", AnyType: true, Cond: c, Runs: 1}}}
		if err := q.Resolve("", reg); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
}
