package sensor

import (
	"net/netip"
	"strconv"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// fieldIDs are the default schema's fields the sensor fills; 0 where the
// registry lacks one (the field is left out).
type fieldIDs struct {
	pid, ppid, exe, name, cmdline, argsCount, args, entityID, cwd schema.FieldID
	exitCode, parentExe, parentName, parentEntityID               schema.FieldID
	userID, userEffID, groupID                                    schema.FieldID
	// userIDStr, ...: the registry declares the id a String (ECS keyword).
	userIDStr, userEffIDStr, groupIDStr                                   bool
	filePath, fileFlags, fileName, fileDir, fileTarget                    schema.FieldID
	srcIP, srcPort, dstIP, dstPort, transport, direction, action, outcome schema.FieldID
	// category and kind are ECS event.category and event.type, set as
	// Elastic Defend sets them, so Elastic rules that test them match.
	category, kind                             schema.FieldID
	netSrcIP, netSrcPort, netDstIP, netDstPort schema.FieldID

	// argsArray: the registry declares process.args an array of strings
	// (ECS): it gets the arguments, else the command line as one string.
	argsArray bool
}

// typeIDs are the event types, 0 where the registry lacks one.
type typeIDs struct {
	byKind [kindAccept + 1]schema.EventTypeID // by record kind; file_open for kindOpen
	create schema.EventTypeID                 // an open that created its file
}

func resolve(reg *schema.Registry) (fieldIDs, typeIDs) {
	f := func(p string) schema.FieldID { id, _ := reg.FieldID(p); return id }
	str := func(p string) bool {
		d, ok := reg.Field(f(p))
		return ok && d.DataType.Base() == schema.TypeString
	}
	t := func(n string) schema.EventTypeID { id, _ := reg.EventTypeID(n); return id }
	return fieldIDs{
			pid: f("process.pid"), ppid: f("process.parent.pid"), exe: f("process.executable"),
			name: f("process.name"), cmdline: f("process.command_line"), argsCount: f("process.args_count"),
			args: f("process.args"), entityID: f("process.entity_id"), exitCode: f("process.exit_code"),
			cwd:       f("process.working_directory"),
			parentExe: f("process.parent.executable"), parentName: f("process.parent.name"),
			parentEntityID: f("process.parent.entity_id"),
			userID:         f("user.id"), userEffID: f("user.effective.id"), groupID: f("group.id"),
			userIDStr: str("user.id"), userEffIDStr: str("user.effective.id"), groupIDStr: str("group.id"),
			argsArray: stringArray(reg, f("process.args")),
			filePath:  f("file.path"), fileFlags: f("file.flags"), fileName: f("file.name"),
			fileDir: f("file.directory"), fileTarget: f("file.target_path"),
			srcIP: f("source.ip"), srcPort: f("source.port"), dstIP: f("destination.ip"),
			dstPort: f("destination.port"), transport: f("network.transport"),
			netSrcIP: f("network.src_ip"), netSrcPort: f("network.src_port"),
			netDstIP: f("network.dest_ip"), netDstPort: f("network.dest_port"),
			direction: f("network.direction"), action: f("event.action"), outcome: f("event.outcome"),
			category: f("event.category"), kind: f("event.type"),
		}, typeIDs{
			byKind: [...]schema.EventTypeID{
				kindExec: t("process_exec"), kindFork: t("process_fork"), kindExit: t("process_exit"),
				kindOpen: t("file_open"), kindUnlink: t("file_delete"), kindRename: t("file_rename"),
				kindConnect: t("network_connect"), kindAccept: t("network_accept"),
			},
			create: t("file_create"),
		}
}

// builder turns records into events. It is used by one goroutine.
type builder struct {
	f      fieldIDs
	t      typeIDs
	procs  *procTable
	arena  arena
	vals   valueArena // process.args' elements (args.go)
	nextID uint64
	// monoOff is subtracted from the kernel's monotonic time to get the
	// bus clock's; wallOff added to get wall time.
	monoOff uint64
	wallOff int64
}

// entityKey is a process's entity key: start ticks and pid.
func entityKey(pid uint32, startNs uint64) schema.EntityKey {
	return schema.EntityKey{Hi: startNs / nsPerTick, Lo: uint64(pid)}
}

// eventType returns the type of a record, 0 when the registry lacks it.
func (b *builder) eventType(h hdr, rec []byte) schema.EventTypeID {
	if h.kind == kindOpen && le.Uint32(rec[offFlags:])&oCreat != 0 {
		return b.t.create
	}
	if int(h.kind) < len(b.t.byKind) {
		return b.t.byKind[h.kind]
	}
	return 0
}

func add(ev *schema.Event, id schema.FieldID, v value.Value) {
	if id != 0 {
		_ = ev.Add(id, v) // each field is added once: no duplicate
	}
}

// numID adds a uid or gid: a U64, or its decimal string where the registry
// declares the field String, as ECS does (user.id is a keyword there).
func (b *builder) numID(ev *schema.Event, id schema.FieldID, n uint32, asString bool) {
	if id == 0 {
		return
	}
	if asString {
		add(ev, id, value.StringValue(b.arena.done(strconv.AppendUint(b.arena.reserve(10), uint64(n), 10))))
		return
	}
	add(ev, id, value.U64Value(uint64(n)))
}

func (b *builder) str(ev *schema.Event, id schema.FieldID, s []byte) {
	if id != 0 && len(s) > 0 {
		_ = ev.Add(id, value.StringValue(b.arena.string(s)))
	}
}

// entityID formats "pid-startTicks" into the arena.
func (b *builder) entityID(pid uint32, startNs uint64) value.Value {
	buf := b.arena.reserve(32)
	buf = strconv.AppendUint(buf, uint64(pid), 10)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, startNs/nsPerTick, 10)
	return value.StringValue(b.arena.done(buf))
}

// update applies a record to the process table, before the event is built
// (exec and fork) so the event sees the new entry.
func (b *builder) update(h hdr, rec []byte) {
	switch h.kind {
	case kindExec:
		exe := cstr(rec[offFilename : offFilename+filenameSize])
		p := proc{ppid: h.ppid, start: h.start / nsPerTick, exe: b.procs.intern.get(exe)}
		p.name = b.procs.intern.get(baseName(exe))
		b.procs.put(h.pid, p)
	case kindFork:
		p := proc{ppid: h.ppid, start: h.start / nsPerTick}
		if pp, ok := b.procs.get(h.ppid); ok {
			p.exe, p.name = pp.exe, pp.name
		}
		b.procs.put(h.pid, p)
	}
}

// fill builds the event of record rec (header h, type typ) into ev, which
// holds only its Entity.
func (b *builder) fill(ev *schema.Event, h hdr, typ schema.EventTypeID, rec []byte) {
	b.nextID++
	ev.ID = b.nextID
	ev.Type = typ
	if h.ts > b.monoOff {
		ev.TsMono = schema.TimestampMono(h.ts - b.monoOff)
	}
	ev.TsWall = schema.TimestampWall(uint64(int64(h.ts) + b.wallOff))
	f := &b.f
	add(ev, f.pid, value.I64Value(int64(h.pid)))
	add(ev, f.ppid, value.I64Value(int64(h.ppid)))
	self, haveSelf := b.procs.get(h.pid)
	if haveSelf && self.start != h.start/nsPerTick {
		haveSelf = false
	}
	switch h.kind {
	case kindExec:
		exe := cstr(rec[offFilename : offFilename+filenameSize])
		if haveSelf { // update put it there: interned, no copy
			add(ev, f.exe, value.StringValue(self.exe))
			add(ev, f.name, value.StringValue(self.name))
		} else {
			b.str(ev, f.exe, exe)
			b.str(ev, f.name, baseName(exe))
		}
		n := int(le.Uint32(rec[offArgsLen:]))
		n = min(n, argsSize)
		raw := rec[offArgs : offArgs+n]
		for len(raw) > 0 && raw[len(raw)-1] == 0 {
			raw = raw[:len(raw)-1]
		}
		if len(raw) > 0 && (f.cmdline != 0 || f.args != 0) {
			buf := b.arena.reserve(len(raw))
			for _, c := range raw {
				if c == 0 {
					c = ' '
				}
				buf = append(buf, c)
			}
			cl := value.StringValue(b.arena.done(buf))
			add(ev, f.cmdline, cl)
			if f.argsArray {
				add(ev, f.args, b.args(cl, raw)) // args.go
			} else {
				add(ev, f.args, cl)
			}
		}
		add(ev, f.argsCount, value.U64Value(uint64(le.Uint32(rec[offArgc:])))) // field IDs: 5, 18, then 6
		b.workingDir(ev, rec)
	case kindExit:
		code := le.Uint32(rec[offExitCode:])
		// A shell's convention: the status, or 128 + the killing signal.
		ec := int64(code>>8) & 0xff
		if sig := code & 0x7f; sig != 0 {
			ec = 128 + int64(sig)
		}
		add(ev, f.exitCode, value.I64Value(ec))
		b.procExe(ev, self, haveSelf)
	default:
		b.procExe(ev, self, haveSelf)
	}
	add(ev, f.entityID, b.entityID(h.pid, h.start))
	if pp, ok := b.procs.get(h.ppid); ok && pp.start == h.pstart/nsPerTick && pp.exe != "" {
		add(ev, f.parentExe, value.StringValue(pp.exe))
		add(ev, f.parentName, value.StringValue(pp.name))
	}
	if h.ppid != 0 {
		add(ev, f.parentEntityID, b.entityID(h.ppid, h.pstart))
	}
	b.numID(ev, f.userID, h.uid, f.userIDStr)
	b.numID(ev, f.userEffID, h.euid, f.userEffIDStr)
	b.numID(ev, f.groupID, h.gid, f.groupIDStr)
	b.classify(ev, h, rec)
	switch h.kind {
	case kindExec:
		add(ev, f.action, value.StringValue("exec"))
	case kindFork:
		add(ev, f.action, value.StringValue("fork"))
	case kindExit:
		add(ev, f.action, value.StringValue("exit"))
	case kindOpen, kindUnlink, kindRename:
		b.file(ev, h, rec)
	case kindConnect, kindAccept:
		b.network(ev, h, rec)
	}
}

// cwdTruncMark starts a working directory whose leading components the
// kernel program could not fit: what follows is the end of the path.
const cwdTruncMark = "..."

// workingDir adds the exec's working directory, cwd[cwd_off:] in the
// record. Directories repeat, like executables: they are interned.
func (b *builder) workingDir(ev *schema.Event, rec []byte) {
	if b.f.cwd == 0 {
		return
	}
	off := min(int(le.Uint32(rec[offCwdOff:])), cwdSize)
	dir := rec[offCwd+off : offCwd+cwdSize]
	if le.Uint32(rec[offExecFlags:])&execCwdTruncated == 0 {
		if len(dir) > 0 {
			add(ev, b.f.cwd, value.StringValue(b.procs.intern.get(dir)))
		}
		return
	}
	buf := b.arena.reserve(len(cwdTruncMark) + len(dir))
	buf = append(buf, cwdTruncMark...)
	buf = append(buf, dir...)
	add(ev, b.f.cwd, value.StringValue(b.arena.done(buf)))
}

func (b *builder) procExe(ev *schema.Event, p proc, ok bool) {
	if ok && p.exe != "" {
		add(ev, b.f.exe, value.StringValue(p.exe))
		add(ev, b.f.name, value.StringValue(p.name))
	}
}

func (b *builder) file(ev *schema.Event, h hdr, rec []byte) {
	f := &b.f
	path := cstr(rec[offPath : offPath+pathSize])
	ps := b.arena.string(path)
	if ps != "" {
		add(ev, f.filePath, value.StringValue(ps))
		name, dir := ps, ""
		if i := lastSlash(ps); i >= 0 {
			name, dir = ps[i+1:], ps[:i]
			if dir == "" {
				dir = "/"
			}
		}
		if name != "" {
			add(ev, f.fileName, value.StringValue(name))
		}
		if dir != "" {
			add(ev, f.fileDir, value.StringValue(dir))
		}
	}
	switch h.kind {
	case kindOpen:
		fl := le.Uint32(rec[offFlags:])
		add(ev, f.fileFlags, value.U64Value(uint64(fl)))
		if fl&oCreat != 0 {
			// Asked to create: the file may have existed already (the
			// program sees the call, not its result).
			add(ev, f.action, value.StringValue("creation"))
		} else {
			add(ev, f.action, value.StringValue("open"))
		}
	case kindUnlink:
		add(ev, f.action, value.StringValue("unlink"))
	case kindRename:
		b.str(ev, f.fileTarget, cstr(rec[offPath2:offPath2+pathSize]))
		add(ev, f.action, value.StringValue("rename"))
	}
}

// classify adds ECS event.category and event.type as Elastic Defend writes
// them for the same activity (process start and end; file creation,
// deletion, change, and access for a plain open; network start), each a
// one-element array's single string.
func (b *builder) classify(ev *schema.Event, h hdr, rec []byte) {
	f := &b.f
	if f.category == 0 && f.kind == 0 {
		return
	}
	category, kind := "process", "start"
	switch h.kind {
	case kindExit:
		kind = "end"
	case kindOpen:
		category, kind = "file", "access"
		if le.Uint32(rec[offFlags:])&oCreat != 0 {
			kind = "creation"
		}
	case kindUnlink:
		category, kind = "file", "deletion"
	case kindRename:
		category, kind = "file", "change"
	case kindConnect, kindAccept:
		category = "network"
	}
	add(ev, f.category, value.StringValue(category))
	add(ev, f.kind, value.StringValue(kind))
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// network fills a connection's fields: source is the local end, destination
// the remote one (the default schema's meaning), in both directions.
func (b *builder) network(ev *schema.Event, h hdr, rec []byte) {
	f := &b.f
	ip := func(off int) value.Value {
		var a netip.Addr
		if le.Uint16(rec[offFamily:]) == afInet {
			a = netip.AddrFrom4([4]byte(rec[off : off+4]))
		} else {
			a = netip.AddrFrom16([16]byte(rec[off : off+16])).Unmap()
		}
		return value.StringValue(b.arena.done(a.AppendTo(b.arena.reserve(46))))
	}
	// Both the ECS names and the original's (network.dest_port, ...), which
	// the example rules use: the same Values, no second copy.
	src, dst := ip(offSaddr), ip(offDaddr)
	sport := value.U64Value(uint64(le.Uint16(rec[offSport:])))
	dport := value.U64Value(uint64(le.Uint16(rec[offDport:])))
	add(ev, f.srcIP, src)
	add(ev, f.srcPort, sport)
	add(ev, f.dstIP, dst)
	add(ev, f.dstPort, dport)
	add(ev, f.netSrcIP, src)
	add(ev, f.netSrcPort, sport)
	add(ev, f.netDstIP, dst)
	add(ev, f.netDstPort, dport)
	add(ev, f.transport, value.StringValue("tcp"))
	if h.kind == kindAccept {
		add(ev, f.direction, value.StringValue("inbound"))
		add(ev, f.action, value.StringValue("accept"))
	} else {
		add(ev, f.direction, value.StringValue("outbound"))
		add(ev, f.action, value.StringValue("connect"))
	}
	if rec[offOK] != 0 {
		add(ev, f.outcome, value.StringValue("success"))
	} else {
		add(ev, f.outcome, value.StringValue("failure"))
	}
}

// after applies what a record ends to the table, once its event is built.
func (b *builder) after(h hdr) {
	if h.kind == kindExit {
		if p, ok := b.procs.get(h.pid); ok && p.start == h.start/nsPerTick {
			b.procs.remove(h.pid)
		}
	}
}
