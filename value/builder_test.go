package value_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/bytedance/sonic/ast"
	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/value"
)

// preorder runs b over s as Decoder does, without the up-front validation.
func preorder(s string, b valuejson.Builder[value.Value]) error {
	return ast.Preorder(s, b, &ast.VisitorOptions{OnlyNumber: true})
}

func TestBuilderZeroValue(t *testing.T) {
	b := valuejson.NewBuilder[value.Value]() // never Reset
	if b.Done() {
		t.Fatal("zero Builder is Done")
	}
	if err := preorder(`{"Array":[{"I64":1},{"String":"s"}]}`, b); err != nil {
		t.Fatalf("zero Builder: %v", err)
	}
	want := value.ArrayValue(value.I64Value(1), value.StringValue("s"))
	if !b.Done() || !b.Value().Equal(want) {
		t.Errorf("zero Builder: Done %v, Value %v; want %v", b.Done(), b.Value(), want)
	}
}

func TestBuilderDoneAndReuse(t *testing.T) {
	b := valuejson.NewBuilder[value.Value]()
	for _, c := range wireCases {
		b.Reset(nil, 0)
		if b.Done() || !b.Value().IsNull() {
			t.Fatalf("after Reset: Done %v, Value %v", b.Done(), b.Value())
		}
		if err := preorder(c.wire, b); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !b.Done() {
			t.Fatalf("%s: not Done", c.name)
		}
		if !identical(b.Value(), c.want()) {
			t.Errorf("%s: got %s", c.name, b.Value().AppendJSON(nil))
		}
		// Once Done, a Builder takes no more input.
		err := b.OnNull()
		if !errors.Is(err, value.ErrInvalidJSON) {
			t.Errorf("%s: OnNull after Done = %v", c.name, err)
		}
	}
}

// TestBuilderAfterError: an error half way leaves debris that Reset clears.
func TestBuilderAfterError(t *testing.T) {
	b := valuejson.NewBuilder[value.Value]()
	for _, bad := range []string{
		`{"Array":[{"Array":[{"I64":1},{"Bytes":[1,2,3,"x"]}]}]}`,
		`{"Array":[{"String":"a"},{"Array":[{"U64":-1}]}]}`,
		`{"Bytes":[1,2,300]}`,
	} {
		b.Reset(nil, 0)
		if err := preorder(bad, b); !errors.Is(err, value.ErrInvalidJSON) {
			t.Fatalf("%s: %v", bad, err)
		}
		if b.Done() {
			t.Fatalf("%s: Done after an error", bad)
		}
		b.Reset(nil, 0)
		const good = `{"Array":[{"Bytes":[7]},{"Array":[]}]}`
		if err := preorder(good, b); err != nil {
			t.Fatal(err)
		}
		if got := string(b.Value().AppendJSON(nil)); got != good {
			t.Errorf("after %s: got %s, want %s", bad, got, good)
		}
	}
}

// valueField decodes a document {"name":..., "value":<Value>} by forwarding
// the callbacks for "value" to a Builder, as schema's event codec does.
type valueField struct {
	b       valuejson.Builder[value.Value]
	depth   int
	inValue bool
	name    string
}

func (d *valueField) forward() bool { return d.inValue && !d.b.Done() }

func (d *valueField) OnNull() error {
	if d.forward() {
		return d.b.OnNull()
	}
	return errors.New("unexpected null")
}

func (d *valueField) OnBool(v bool) error {
	if d.forward() {
		return d.b.OnBool(v)
	}
	return errors.New("unexpected bool")
}

func (d *valueField) OnString(v string) error {
	if d.forward() {
		return d.b.OnString(v)
	}
	d.name = v
	return nil
}

func (d *valueField) OnInt64(v int64, n json.Number) error {
	if d.forward() {
		return d.b.OnInt64(v, n)
	}
	return errors.New("unexpected number")
}

func (d *valueField) OnFloat64(v float64, n json.Number) error {
	if d.forward() {
		return d.b.OnFloat64(v, n)
	}
	return errors.New("unexpected number")
}

func (d *valueField) OnObjectBegin(c int) error {
	if d.forward() {
		return d.b.OnObjectBegin(c)
	}
	d.depth++
	return nil
}

func (d *valueField) OnObjectKey(k string) error {
	if d.forward() {
		return d.b.OnObjectKey(k)
	}
	d.inValue = k == "value"
	if d.inValue {
		d.b.Reset(nil, 0)
	}
	return nil
}

func (d *valueField) OnObjectEnd() error {
	if d.forward() {
		return d.b.OnObjectEnd()
	}
	d.depth--
	return nil
}

func (d *valueField) OnArrayBegin(c int) error {
	if d.forward() {
		return d.b.OnArrayBegin(c)
	}
	return errors.New("unexpected array")
}

func (d *valueField) OnArrayEnd() error {
	if d.forward() {
		return d.b.OnArrayEnd()
	}
	return errors.New("unexpected array end")
}

func TestBuilderEmbedded(t *testing.T) {
	for _, c := range wireCases {
		doc := `{"value":` + c.wire + `,"name":"after"}`
		d := valueField{b: valuejson.NewBuilder[value.Value]()}
		if err := ast.Preorder(doc, &d, &ast.VisitorOptions{OnlyNumber: true}); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !d.b.Done() || d.name != "after" || d.depth != 0 {
			t.Fatalf("%s: Done %v, name %q, depth %d", doc, d.b.Done(), d.name, d.depth)
		}
		if !identical(d.b.Value(), c.want()) {
			t.Errorf("%s: got %s", c.name, d.b.Value().AppendJSON(nil))
		}
	}
}
