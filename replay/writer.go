package replay

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/kestrel-sec/kestrel/schema"
)

// Writer records events into a log: what a sensor published, in order.
type Writer interface {
	// Write appends ev to the log; ev may be reused as soon as it returns.
	Write(ev *schema.Event) error
	// Flush writes what is buffered through to the underlying writer.
	Flush() error
	// Close flushes, finishes the log (a zstd stream's end, the binary
	// log's end marker) and closes the file Create opened; it does not close
	// an io.Writer given to a constructor.
	Close() error
}

var (
	_ Writer = (*JSONWriter)(nil)
	_ Writer = (*BinaryWriter)(nil)
	_ Writer = (*ProtoWriter)(nil)
)

// Defaults of WriterOptions.
const (
	// DefaultBlockSize is the uncompressed size at which the binary writer
	// closes a block.
	DefaultBlockSize = 256 << 10
	// DefaultBlockEvents is the most events the binary writer puts in one
	// block.
	DefaultBlockEvents = 8192
)

// WriterOptions configures a Writer. The zero value writes headerless,
// uncompressed JSON lines, or binary blocks of the default size.
type WriterOptions struct {
	// Header makes the JSON writer start with the Rust original's header
	// line. The binary log always has a header.
	Header bool
	// SchemaVersion is recorded in the header.
	SchemaVersion uint32
	// SchemaID, when set, is recorded in the header (the JSON header's
	// schema_id member; the binary header's meta member of that name), so
	// a node on another schema can map the events (see Config.Resolve).
	// Empty writes exactly what was written before it existed. It must be
	// a valid schema id (schema.Registry.SetSchema).
	SchemaID string
	// Meta is recorded in the header: raw JSON values by name. The names
	// magic, version, schema_version and schema_id are reserved.
	Meta map[string]json.RawMessage
	// FieldsAsPairs makes the JSON writer write fields as the Rust
	// original's array of [id, value] pairs instead of an object.
	FieldsAsPairs bool
	// Compress makes the JSON writer write a zstd stream (.zst).
	Compress bool
	// Level is the zstd compression level (1 fastest .. 22 smallest, as the
	// zstd command line numbers them); 0 means 3.
	Level int
	// BlockSize is the binary writer's target uncompressed block size;
	// 0 means DefaultBlockSize. At most MaxBlockSize/2.
	BlockSize int
	// BlockEvents bounds the events of one binary block; 0 means
	// DefaultBlockEvents. At most MaxBlockEvents.
	BlockEvents int
}

// Validate reports options out of range.
func (o *WriterOptions) Validate() error {
	switch {
	case o.Level < 0 || o.Level > 22:
		return fmt.Errorf("%w: zstd level %d out of 1..22", ErrConfig, o.Level)
	case o.BlockSize < 0 || o.BlockSize > MaxBlockSize/2:
		return fmt.Errorf("%w: BlockSize %d out of 1..%d", ErrConfig, o.BlockSize, MaxBlockSize/2)
	case o.BlockEvents < 0 || o.BlockEvents > MaxBlockEvents:
		return fmt.Errorf("%w: BlockEvents %d out of 1..%d", ErrConfig, o.BlockEvents, MaxBlockEvents)
	}
	if o.SchemaID != "" {
		if err := schema.ValidSchemaID(o.SchemaID); err != nil {
			return fmt.Errorf("%w: SchemaID: %v", ErrConfig, err)
		}
	}
	for k, v := range o.Meta {
		if reservedKey(k) {
			return fmt.Errorf("%w: meta key %q is reserved", ErrConfig, k)
		}
		if !json.Valid(v) {
			return fmt.Errorf("%w: meta %q is not valid JSON", ErrConfig, k)
		}
	}
	return nil
}

// reservedKey reports whether k is a header member the format itself uses.
func reservedKey(k string) bool {
	return k == "magic" || k == "version" || k == "schema_version" || k == "schema_id"
}

func (o *WriterOptions) level() zstd.EncoderLevel {
	if o.Level == 0 {
		return zstd.SpeedDefault
	}
	return zstd.EncoderLevelFromZstd(o.Level)
}

// Create creates (or truncates) the file at path, mode 0600, and returns a
// Writer chosen by its extension: .kbin the binary log, .kpb the protobuf
// log, .zst or .zstd zstd-compressed JSON lines, anything else JSON lines.
func Create(path string, opts WriterOptions) (Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(extOf(path)) {
	case ".kbin":
		w, err := NewBinaryWriter(f, opts)
		return owning(f, w, err)
	case ".kpb":
		w, err := NewProtoWriter(f, opts)
		return owning(f, w, err)
	case ".zst", ".zstd":
		opts.Compress = true
	}
	w, err := NewJSONWriter(f, opts)
	return owning(f, w, err)
}
