package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/kestrel-sec/kestrel/node"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// A node's schema evolves while it runs: a new field is accepted; a type
// narrowed under loaded rules is refused, naming the rules (the field
// added before is gone from that schema too, a breaking change no rule
// reads).
func ExampleNode_ReloadSchema() {
	n, err := node.New(node.Config{RulesDir: "../examples/rules", Stdout: io.Discard})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close(context.Background())

	next := rule.DefaultRegistry()
	if _, err := next.RegisterField(schema.FieldDef{Path: "vendor.acme.score", DataType: schema.TypeF64}); err != nil {
		fmt.Println(err)
		return
	}
	rep, err := n.ReloadSchema(next)
	fmt.Println(rep, err)

	// The default schema with file.path's type changed from String.
	sf := schema.ECSFile()
	for i := range sf.Fields {
		if sf.Fields[i].Path == "file.path" {
			sf.Fields[i].Type = "Bytes"
		}
	}
	b, _ := json.Marshal(sf)
	narrowed, err := rule.ReadSchema("narrowed.json", bytes.NewReader(b))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = n.ReloadSchema(narrowed)
	var se *node.SchemaError
	if errors.As(err, &se) {
		fmt.Println(se.Report.Breaking()[0])
		for _, im := range se.Affected {
			fmt.Println("refused:", im.Rule, im.Path)
		}
	}
	// Output:
	// ok: field added: vendor.acme.score (id 1384) (F64) is new <nil>
	// breaking: type narrowed: file.path (id 9): String to Bytes, which does not accept every String value
	// refused: credaccess-001 file.path
	// refused: privesc-001 file.path
	// refused: ransomware-001 file.path
}
