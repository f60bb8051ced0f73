package rule_test

import (
	"errors"
	"testing"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestResolveArrayField: a field declared Array<String> takes every string
// test, as its elements, and is marked Array; non-string literals are
// refused as for a String field.
func TestResolveArrayField(t *testing.T) {
	reg := schema.NewRegistry()
	if _, err := reg.RegisterFields(schema.FieldDef{Path: "process.args", DataType: schema.TypeStringArray}); err != nil {
		t.Fatal(err)
	}
	_, _ = reg.RegisterEventType("process")
	for _, cond := range []string{
		`process.args == "-c"`, `process.args != "-c"`, `process.args == null`, `process.args < "b"`,
		`process.args in ("-c", "-e")`, `process.args in~ ("-C")`, `process.args not in ("-c", null)`,
		`process.args : "-c"`, `process.args : ("-e", "--exec")`, `process.args like "x*"`, `process.args like~ "X*"`,
		`process.args regex "-[ce]"`, `process.args regex~ "-[CE]"`, `startsWith(process.args, "/tmp")`,
		`startsWith~(process.args, "/TMP")`, `endsWith(process.args, ".sh")`, `stringContains~(process.args, "curl")`,
		`wildcard(process.args, "*.sh")`, `cidrMatch(process.args, "10.0.0.0/8")`, `not process.args : "-c"`,
	} {
		q, err := rule.Compile("a.eql", "process where "+cond, reg)
		if err != nil {
			t.Errorf("%s: %v", cond, err)
			continue
		}
		if f := testedField(q.Steps[0].Cond); f == nil || !f.Array || f.Type != schema.TypeString {
			t.Errorf("%s: field %+v, want an Array of String", cond, f)
		}
	}
	for _, cond := range []string{`process.args == 1`, `process.args in (1, 2)`, `process.args : 1`} {
		if _, err := rule.Compile("a.eql", "process where "+cond, reg); !errors.Is(err, rule.ErrTypeMismatch) {
			t.Errorf("%s: %v, want ErrTypeMismatch", cond, err)
		}
	}
}

func testedField(e rule.Expr) *rule.Field {
	switch e := e.(type) {
	case *rule.NotExpr:
		return testedField(e.X)
	case *rule.CompareExpr:
		return e.Field
	case *rule.InExpr:
		return e.Field
	case *rule.MatchExpr:
		return e.Field
	}
	return nil
}
