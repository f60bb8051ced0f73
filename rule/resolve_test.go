package rule

import (
	"errors"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

func TestResolve(t *testing.T) {
	reg := DefaultRegistry()
	q, err := Compile("r.eql", `sequence by process.entity_id with maxspan=10s
  [network where network.direction == "outbound" and network.dest_port in (4444, 5555)]
  [process where process.executable : "/bin/*sh" and process.pid > 1]
until [process where event.action == "exit"]`, reg)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Resolved() {
		t.Fatal("not resolved")
	}
	net, proc := q.Steps[0], q.Steps[1]
	wantTypes := func(st *Step, names ...string) {
		t.Helper()
		var ids []schema.EventTypeID
		for _, n := range names {
			id, ok := reg.EventTypeID(n)
			if !ok {
				t.Fatalf("no type %s", n)
			}
			ids = append(ids, id)
		}
		if len(ids) != len(st.Types) {
			t.Fatalf("%s: types %v, want %v", st.Event, st.Types, ids)
		}
		for i := range ids {
			if ids[i] != st.Types[i] {
				t.Fatalf("%s: types %v, want %v", st.Event, st.Types, ids)
			}
		}
	}
	wantTypes(net, "network_connect", "network_accept", "network_listen", "network_dns", "network")
	wantTypes(proc, "process_exec", "process_fork", "process_exit", "process")
	if q.By[0].Type != schema.TypeString || q.By[0].ID == 0 {
		t.Fatalf("by %+v", q.By[0])
	}
	// Literals are coerced to the field's type: dest_port is U64.
	in := net.Cond.(*BinaryExpr).Y.(*InExpr)
	if in.Values[0].Value.Kind() != value.KindU64 {
		t.Fatalf("in literal kind %v", in.Values[0].Value.Kind())
	}
	pid := proc.Cond.(*BinaryExpr).Y.(*CompareExpr)
	if pid.Value.Value.Kind() != value.KindI64 {
		t.Fatalf("pid literal kind %v", pid.Value.Value.Kind())
	}
	m := proc.Cond.(*BinaryExpr).X.(*MatchExpr)
	if len(m.Matchers) != 1 || !m.Matchers[0].Match("/BIN/BASH") {
		t.Fatal("wildcard not compiled case-insensitively")
	}

	// any, and an exact event type name.
	q, err = Compile("", `any where true`, reg)
	if err != nil || !q.Steps[0].AnyType || q.Steps[0].Types != nil {
		t.Fatalf("any: %v %+v", err, q.Steps[0])
	}
	q, err = Compile("", `file_open where file.path == "/etc/shadow"`, reg)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes(q.Steps[0], "file_open")
	q, err = Compile("", `authentication where true`, reg)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes(q.Steps[0], "authentication")
}

func TestResolveErrors(t *testing.T) {
	reg := DefaultRegistry()
	f := func(src string, line, col int, tok string, sentinel error, msgPart string) {
		t.Helper()
		_, err := Compile("rules/x/rule.eql", src, reg)
		if err == nil {
			t.Fatalf("Compile(%q): no error", src)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Compile(%q): %T %v", src, err, err)
		}
		if e.Line != line || e.Col != col || e.Token != tok || !errors.Is(err, sentinel) || !strings.Contains(e.Msg, msgPart) {
			t.Fatalf("Compile(%q) = %v; want %d:%d %q %v %q", src, err, line, col, tok, sentinel, msgPart)
		}
		if !strings.HasPrefix(err.Error(), "rules/x/rule.eql:") {
			t.Fatalf("error %q does not name the file", err)
		}
	}
	f(`process where process.exe == "x"`, 1, 15, "process.exe", ErrUnknownField, "unknown field")
	f(`process where process.parent == 1`, 1, 15, "process.parent", ErrUnknownField, "group of fields")
	f(`proces where true`, 1, 1, "proces", ErrUnknownEventType, "unknown event type")
	f("process where\n  process.pid == \"1\"", 2, 18, `"1"`, ErrTypeMismatch, "I64")
	f(`process where process.executable == 1`, 1, 37, "1", ErrTypeMismatch, "String")
	f(`process where process.pid > "1.5"`, 1, 29, `"1.5"`, ErrTypeMismatch, "a string")
	f(`process where process.name == process.pid`, 1, 15, "==", ErrTypeMismatch, "cannot be compared")
	f(`process where length(process.pid) > 1`, 1, 22, "process.pid", ErrTypeMismatch, "must be a string")
	f(`process where process.name + 1 > 1`, 1, 15, "process.name", ErrTypeMismatch, "needs numbers")
	f(`process where concat(process.name, "x")`, 1, 15, "concat", ErrTypeMismatch, "not a boolean")
	f(`process where cidrMatch(process.name, process.name)`, 1, 15, "cidrMatch", ErrUnsupported, "literal CIDR blocks")
	f(`process where cidrMatch(concat(process.name), "10.0.0.0/33")`, 1, 47, `"10.0.0.0/33"`, ErrSyntax, "invalid CIDR")
	f(`process where length(process.name) in ("a")`, 1, 40, `"a"`, ErrTypeMismatch, "a number")
	f(`process where length(process.name) in~ ("a")`, 1, 15, "length(process.name)", ErrTypeMismatch, "in~ needs a string")
	f(`process where length(process.name) : "a*"`, 1, 15, "length(process.name)", ErrTypeMismatch, ": needs a string")
	f(`process where concat(process.name) regex "("`, 1, 42, `"("`, ErrSyntax, "invalid regular expression")
	f(`process where wildcard(process.name, process.name)`, 1, 38, "process.name", ErrUnsupported, "literal strings")
	f(`process where process.nope == ?process.name`, 1, 15, "process.nope", ErrUnknownField, "unknown field")
	f(`process where file.size == -1`, 1, 28, "-1", ErrTypeMismatch, "U64")
	f(`process where process.pid < null`, 1, 29, "null", ErrTypeMismatch, "null can only")
	f(`process where process.pid : "1*"`, 1, 15, "process.pid", ErrTypeMismatch, "needs a string field")
	f(`process where process.name like 5`, 1, 33, "5", ErrTypeMismatch, "string patterns")
	f(`process where process.name regex "("`, 1, 34, `"("`, ErrSyntax, "invalid regular expression")
	f(`process where process.pid`, 1, 15, "process.pid", ErrTypeMismatch, "not a boolean")
	f(`process where process.pid in~ ("a")`, 1, 15, "process.pid", ErrTypeMismatch, "in~ needs a string field")
	f(`process where process.name in~ ("a", 1)`, 1, 38, "1", ErrTypeMismatch, "in~ compares strings")
	f(`process where process.name in ("a", 1)`, 1, 37, "1", ErrTypeMismatch, "String")
	f(`sequence by nope [process where true] [file where true]`, 1, 13, "nope", ErrUnknownField, "unknown field")
	f("sequence\n [process where true] by process.pid\n [file where true] by file.path", 3, 23, "file.path",
		ErrTypeMismatch, "can never equal")
	f(`sequence [process where true] [file where true] until [nope where true]`, 1, 56, "nope", ErrUnknownEventType, "")

	// Several problems are reported together.
	_, err := Compile("", `process where a == 1 and b == 2 and process.pid == "x"`, reg)
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 || !errors.Is(err, ErrUnknownField) || !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("joined errors (%d): %v", n, err)
	}
	if err := (&Query{}).Resolve("", nil); err == nil {
		t.Fatal("nil registry accepted")
	}
}

func TestResolveAnyTypedField(t *testing.T) {
	reg := schema.NewRegistry()
	if _, err := reg.RegisterFields(schema.FieldDef{Path: "x"}, schema.FieldDef{Path: "flag", DataType: schema.TypeBool}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.RegisterEventType("ev"); err != nil {
		t.Fatal(err)
	}
	// A field of type Any takes any literal and any operator.
	for _, src := range []string{`ev where x == 1`, `ev where x == "s"`, `ev where x : "a*"`, `ev where x`,
		`ev where x in ("a", 1, true)`, `ev where flag`, `ev where flag == true`, `ev where not flag`} {
		if _, err := Compile("", src, reg); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	if _, err := Compile("", `ev where flag > true`, reg); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("ordering on bool: %v", err)
	}
}

// A resolution that fails leaves the query unresolved, even when an
// earlier one succeeded, and never rewrites matchers a compiled rule holds.
func TestResolveAgainFails(t *testing.T) {
	q, err := Compile("r.eql", `process where process.executable : "/bin/*sh"`, DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m := q.Steps[0].Cond.(*MatchExpr)
	held := m.Matchers
	empty := schema.NewRegistry()
	if _, err := empty.RegisterEventType("process_exec"); err != nil {
		t.Fatal(err)
	}
	if err := q.Resolve("r.eql", empty); err == nil {
		t.Fatal("resolved against a registry without the field")
	}
	if q.Resolved() {
		t.Error("a failed resolution left the query resolved")
	}
	if err := q.Resolve("r.eql", DefaultRegistry()); err != nil || !q.Resolved() {
		t.Fatalf("resolving again: %v", err)
	}
	if len(held) == 0 || held[0] == nil || !held[0].Match("/bin/bash") {
		t.Error("the matchers held before resolving again were rewritten")
	}
	if len(m.Matchers) > 0 && len(held) > 0 && &m.Matchers[0] == &held[0] {
		t.Error("resolving again reused the matchers' array")
	}
}
