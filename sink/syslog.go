package sink

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// maxUDPMessage is the largest syslog message one UDP datagram carries
// (65535 less the IPv4 and UDP headers).
const maxUDPMessage = 65507

// syslogFacilities are RFC 5424's facility codes by name.
var syslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
	"solaris-cron": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
	"local5": 21, "local6": 22, "local7": 23,
}

// SyslogConfig configures a SyslogDestination. Only Address is required.
type SyslogConfig struct {
	// Name identifies the destination. "": "syslog".
	Name string
	// Network is "udp" (RFC 5426, one message per datagram), "tcp"
	// (RFC 6587 octet counting) or "tls" (RFC 5425, octet counting over
	// TLS). "": "udp".
	Network string
	// Address is the collector's host:port.
	Address string
	// Facility is a facility name ("auth", "authpriv", "local0" …
	// "local7"; see RFC 5424 section 6.2.1). "": "local0".
	Facility string
	// Hostname is the HOSTNAME field. "": os.Hostname(), or "-".
	Hostname string
	// AppName is the APP-NAME field. "": "kestrel".
	AppName string
	// StructuredDataID, when set, adds one SD-ELEMENT with the alert's
	// alert_id, rule_id, severity and entity_key, for collectors that
	// index structured data. It must name your own private enterprise
	// number, "name@PEN" (RFC 5424 section 7.2.2). "": none ("-").
	StructuredDataID string
	// Timeout bounds dialling and each write. 0: 10 s.
	Timeout time.Duration
	// TLS configures Network "tls".
	TLS TLSConfig
	// ResendWindow bounds, in bytes of framed messages, the resend window
	// of Network "tcp" and "tls": what was written since the collector was
	// last known to have read it, sent again on the next connection after
	// a failure (see SyslogDestination). 0: 8 MiB. -1: no window (a
	// successful write is taken as delivery). Memory held: up to 1.25
	// times the window.
	ResendWindow int
}

// DefaultSyslogResendWindow is the resend window of a SyslogConfig with
// ResendWindow 0: what can sit unread between us and a collector that
// stopped reading under Linux's default limits, our send buffer (fixed at
// 2 MiB) and its receive buffer (autotuned up to 6 MiB).
const DefaultSyslogResendWindow = 8 << 20

// ErrSyslogUnconfirmed is matched (errors.Is) by the error of
// SyslogDestination.Close when alerts written over TCP or TLS may not have
// been read: the collector did not close its side after ours.
var ErrSyslogUnconfirmed = errors.New("sink: syslog: alerts written but not confirmed read")

// maxCloseConfirm bounds how long Close waits for the collector to confirm
// it read everything (by closing its side).
const maxCloseConfirm = 2 * time.Second

// Validate reports the first problem in c, or nil.
func (c *SyslogConfig) Validate() error {
	what := "syslog " + c.name()
	switch c.Network {
	case "", "udp", "tcp", "tls":
	default:
		return configErr("%s: Network %q (want udp, tcp or tls)", what, c.Network)
	}
	_, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return configErr("%s: Address %q: %v", what, c.Address, err)
	}
	if port == "" || !validPort(port, false) {
		return configErr("%s: Address %q: port out of range 1-65535", what, c.Address)
	}
	if _, ok := syslogFacilities[strings.ToLower(c.Facility)]; !ok && c.Facility != "" {
		return configErr("%s: unknown Facility %q", what, c.Facility)
	}
	if c.Timeout < 0 {
		return configErr("%s: Timeout %v is negative", what, c.Timeout)
	}
	if c.ResendWindow < -1 {
		return configErr("%s: ResendWindow %d (want -1, 0 or a size)", what, c.ResendWindow)
	}
	if id := c.StructuredDataID; id != "" && (len(id) > 32 || !strings.Contains(id, "@") || strings.ContainsAny(id, ` ="]`) || !printASCII(id)) {
		return configErr("%s: StructuredDataID %q is not an SD-ID of the form name@PEN", what, id)
	}
	return nil
}

func (c *SyslogConfig) name() string { return cmp.Or(c.Name, "syslog") }

// SyslogDestination sends alerts as RFC 5424 syslog messages:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
//
// PRI is facility·8 + severity, with the alert's severity mapped: critical
// → 2 (crit), high → 3 (err), medium → 4 (warning), low → 5 (notice),
// informational → 6 (info). TIMESTAMP is ts_wall_ns in UTC with
// microseconds ("-" when 0), MSGID the rule id (printable ASCII, at most 32
// characters, "-" when empty), MSG the alert's JSON (UTF-8, without a BOM).
//
// Over UDP each message is one datagram; a message over 65507 bytes cannot
// be sent and is rejected. Over TCP and TLS each message is framed as
// "LENGTH SP MESSAGE" and a batch goes in one write. Before each batch a
// stream connection is checked for a hang-up by the collector (a look at
// the socket that never waits) and redialled if it was closed; a write
// error closes the connection and retries the batch.
//
// What a stream can promise: a successful write only means the bytes
// reached the kernel. Until the collector reads them they sit in its
// socket buffer and ours, and a collector that stops reading and then
// crashes loses them while Send has already reported them delivered. So
// the destination keeps a resend window: the framed messages of the
// latest successful writes, up to ResendWindow bytes. On every new
// connection after the first it writes the window again before the next
// batch, and counts those alerts in Resent (DestinationStats.Resent): the
// collector may see them twice (at-least-once; alert_id identifies
// repeats). What it cannot promise: a message that left the window
// (ResendWindow bytes of later messages were written after it) and was
// still unread when the collector failed is lost without notice, and so is
// anything a collector acknowledged at the TCP level but lost inside
// itself. Close half-closes the connection and waits (up to the Timeout, at
// most 2 s) for the collector to close its side, which it does after
// reading everything; otherwise Close returns ErrSyslogUnconfirmed with the
// number of alerts in the window. Exact delivery needs application-level
// acknowledgements (RELP), which collectors serve on a separate listener
// with its own protocol, transaction numbers and flow control; it is not
// implemented here.
type SyslogDestination struct {
	cfg      SyslogConfig
	facility int
	header   string // " HOSTNAME APP-NAME PROCID "
	tls      *tls.Config
	conn     net.Conn
	fresh    bool // conn is new: write the window before the next batch
	buf      []byte
	msg      []byte
	lens     []int // frame lengths of the batch in buf

	// The resend window: win[winOff:] holds the live frames, oldest first,
	// of lengths winLens[winHead:]; winBytes is their total.
	win      []byte
	winOff   int
	winLens  []int
	winHead  int
	winBytes int

	resent atomic.Uint64 // alerts written again from the window; read by Stats
}

// NewSyslogDestination validates cfg. It does not dial: the first Send does.
func NewSyslogDestination(cfg SyslogConfig) (*SyslogDestination, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Network == "" {
		cfg.Network = "udp"
	}
	if cfg.Facility == "" {
		cfg.Facility = "local0"
	}
	if cfg.AppName == "" {
		cfg.AppName = "kestrel"
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.ResendWindow == 0 {
		cfg.ResendWindow = DefaultSyslogResendWindow
	}
	d := &SyslogDestination{cfg: cfg, facility: syslogFacilities[strings.ToLower(cfg.Facility)]}
	d.header = " " + headerField(cfg.Hostname, 255) + " " + headerField(cfg.AppName, 48) + " " +
		strconv.Itoa(os.Getpid()) + " "
	if cfg.Network == "tls" {
		tc, err := cfg.TLS.Build()
		if err != nil {
			return nil, fmt.Errorf("syslog %s: %w", cfg.name(), err)
		}
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(cfg.Address)
		}
		d.tls = tc
	}
	return d, nil
}

// Name returns SyslogConfig.Name, or "syslog".
func (d *SyslogDestination) Name() string { return d.cfg.name() }

// syslogSeverity maps an alert's severity to RFC 5424's.
func syslogSeverity(s schema.Severity) int {
	switch s {
	case schema.SeverityCritical:
		return 2
	case schema.SeverityHigh:
		return 3
	case schema.SeverityMedium:
		return 4
	case schema.SeverityLow:
		return 5
	}
	return 6
}

// appendMessage appends the RFC 5424 message of a (without framing).
func (d *SyslogDestination) appendMessage(dst []byte, a *Alert) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(d.facility*8+syslogSeverity(a.Severity)), 10)
	dst = append(dst, ">1 "...)
	if a.TsWall == 0 {
		dst = append(dst, '-')
	} else {
		dst = appendSyslogTime(dst, a.TsWall)
	}
	dst = append(dst, d.header...)
	dst = appendHeaderField(dst, a.RuleID, 32)
	dst = append(dst, ' ')
	if id := d.cfg.StructuredDataID; id != "" {
		dst = append(dst, '[')
		dst = append(dst, id...)
		dst = appendSDParam(dst, "alert_id", a.ID)
		dst = appendSDParam(dst, "rule_id", a.RuleID)
		dst = appendSDParam(dst, "severity", a.Severity.String())
		dst = append(dst, ` entity_key="`...)
		dst = a.Entity.AppendDecimal(dst)
		dst = append(dst, `"]`...)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, ' ')
	return a.AppendJSON(dst)
}

// appendSyslogTime writes RFC 5424's TIMESTAMP: RFC 3339 in UTC with six
// fraction digits, the most it allows.
func appendSyslogTime(dst []byte, ts schema.TimestampWall) []byte {
	return appendUTC(dst, uint64(ts), 6)
}

// appendSDParam writes ` name="value"` with ", \ and ] escaped.
func appendSDParam(dst []byte, name, v string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, '=', '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\', ']':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// headerField returns s as a header field: printable ASCII, at most n
// characters, "-" when empty.
func headerField(s string, n int) string { return string(appendHeaderField(nil, s, n)) }

func appendHeaderField(dst []byte, s string, n int) []byte {
	start := len(dst)
	for i := 0; i < len(s) && len(dst)-start < n; i++ {
		if c := s[i]; c > 32 && c < 127 {
			dst = append(dst, c)
		} else {
			dst = append(dst, '_')
		}
	}
	if len(dst) == start {
		dst = append(dst, '-')
	}
	return dst
}

func printASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 32 || s[i] >= 127 {
			return false
		}
	}
	return true
}

// dial connects if there is no connection. Over UDP the "connection" only
// fixes the peer.
func (d *SyslogDestination) dial(ctx context.Context) error {
	if d.conn != nil && d.cfg.Network != "udp" && d.peerClosed() {
		d.drop()
	}
	if d.conn != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	if d.tls != nil {
		c, err = (&tls.Dialer{Config: d.tls}).DialContext(ctx, "tcp", d.cfg.Address)
	} else {
		c, err = (&net.Dialer{}).DialContext(ctx, d.cfg.Network, d.cfg.Address)
	}
	if err != nil {
		return classifyNetErr(fmt.Errorf("sink: syslog %s: %w", d.Name(), err))
	}
	limitSendBuffer(c)
	d.conn = c
	d.fresh = true
	return nil
}

// syslogSendBuffer is the SO_SNDBUF of a stream connection (Linux doubles
// it): fixed rather than autotuned (up to 4 MiB by default) so that what
// can sit unread on our side stays well inside the resend window.
const syslogSendBuffer = 1 << 20

func limitSendBuffer(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(syslogSendBuffer) // best effort: the window still bounds what is resent
	}
}

// peerState is what a look at a stream connection found.
type peerState uint8

const (
	peerUnknown peerState = iota // cannot tell on this platform
	peerQuiet                    // open, nothing to read: the normal state
	peerSent                     // the collector sent something (a TLS session ticket)
	peerClosed                   // EOF or an error: the collector hung up
)

// peerClosed reports whether a stream collector has hung up. Collectors
// never send, so without this check the first batch after a hang-up would
// be written into the void and count as delivered. Over TLS, records the
// server did send (session tickets) are read through the TLS layer, with
// a millisecond's deadline, so that a hang-up behind them is seen.
func (d *SyslogDestination) peerClosed() bool {
	raw := d.conn
	tc, isTLS := raw.(*tls.Conn)
	if isTLS {
		raw = tc.NetConn()
	}
	switch peekPeer(raw) {
	case peerClosed:
		return true
	case peerSent:
		if !isTLS {
			return false
		}
		if err := tc.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
			return true
		}
		var b [64]byte
		_, err := tc.Read(b[:])
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			return true
		}
		_ = tc.SetReadDeadline(time.Time{})
		return peekPeer(raw) == peerClosed
	}
	return false
}

func (d *SyslogDestination) deadline(ctx context.Context) time.Time {
	t := time.Now().Add(d.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	return t
}

func (d *SyslogDestination) drop() {
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
}

// Send writes batch: a datagram per alert over UDP, one write of framed
// messages over TCP and TLS.
func (d *SyslogDestination) Send(ctx context.Context, batch []*Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.dial(ctx); err != nil {
		return err
	}
	// A Send cancelled mid-write stops at the deadline, or at once when
	// ctx is cancelled.
	c := d.conn
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := d.conn.SetWriteDeadline(d.deadline(ctx)); err != nil {
		d.drop()
		return fmt.Errorf("sink: syslog %s: %w", d.Name(), err)
	}
	if d.cfg.Network == "udp" {
		return d.sendUDP(batch)
	}
	b, lens := d.buf[:0], d.lens[:0]
	for _, a := range batch {
		d.msg = d.appendMessage(d.msg[:0], a)
		start := len(b)
		b = strconv.AppendInt(b, int64(len(d.msg)), 10)
		b = append(b, ' ')
		b = append(b, d.msg...)
		lens = append(lens, len(b)-start)
	}
	var err error
	resend := 0
	if d.fresh && d.winBytes > 0 {
		// A new connection after a failure: what the old one may have
		// left unread goes first.
		resend = len(d.winLens) - d.winHead
		bufs := net.Buffers{d.win[d.winOff:], b}
		_, err = bufs.WriteTo(d.conn)
	} else {
		_, err = d.conn.Write(b)
	}
	if err == nil {
		d.fresh = false
		d.resent.Add(uint64(resend))
		d.remember(b, lens)
	}
	if cap(b) <= maxKeptBuf {
		d.buf = b[:0]
	} else {
		d.buf = nil
	}
	d.lens = lens[:0]
	if cap(d.msg) > maxKeptBuf {
		d.msg = nil
	}
	if err != nil {
		d.drop()
		return fmt.Errorf("sink: syslog %s: %w", d.Name(), err)
	}
	return nil
}

// remember adds written frames to the resend window and lets the oldest
// go past ResendWindow bytes. The live bytes move to the front once the
// dead prefix passes a quarter of the window, so the window holds at most
// 1.25 times its bound plus one batch, and each byte is copied a few times
// at most.
func (d *SyslogDestination) remember(b []byte, lens []int) {
	limit := d.cfg.ResendWindow
	if limit < 0 {
		return
	}
	d.win = append(d.win, b...)
	d.winLens = append(d.winLens, lens...)
	d.winBytes += len(b)
	for d.winBytes > limit {
		n := d.winLens[d.winHead]
		d.winOff += n
		d.winBytes -= n
		d.winHead++
	}
	if d.winOff > limit/4 || d.winHead > len(d.winLens)/2 {
		d.win = d.win[:copy(d.win, d.win[d.winOff:])]
		d.winOff = 0
		d.winLens = d.winLens[:copy(d.winLens, d.winLens[d.winHead:])]
		d.winHead = 0
	}
}

// Resent returns how many alerts were written again from the resend
// window after a reconnect (possible duplicates at the collector). It is
// safe to call concurrently with Send.
func (d *SyslogDestination) Resent() uint64 { return d.resent.Load() }

func (d *SyslogDestination) sendUDP(batch []*Alert) error {
	var out outcome
	for i, a := range batch {
		d.msg = d.appendMessage(d.msg[:0], a)
		if len(d.msg) > maxUDPMessage {
			out.rejected = append(out.rejected, Rejection{Index: i, Reason: "message too large for UDP",
				Detail: "alert " + a.ID + ": " + strconv.Itoa(len(d.msg)) + " bytes"})
			continue
		}
		if _, err := d.conn.Write(d.msg); err != nil {
			d.drop()
			out.retryRange(i, len(batch), fmt.Errorf("sink: syslog %s: %w", d.Name(), err))
			break
		}
	}
	if cap(d.msg) > maxKeptBuf {
		d.msg = nil
	}
	return out.result(len(batch))
}

// Close closes the connection. Over TCP and TLS it first half-closes it
// and waits for the collector to close its side, which confirms that it
// read everything; if it does not within the Timeout (at most 2 s), Close
// returns an error matching ErrSyslogUnconfirmed that counts the alerts
// in the resend window.
func (d *SyslogDestination) Close() error {
	if d.conn == nil {
		return nil
	}
	c := d.conn
	d.conn = nil
	n := len(d.winLens) - d.winHead
	if d.cfg.Network == "udp" || n == 0 || d.cfg.ResendWindow < 0 {
		return c.Close()
	}
	cerr := confirmRead(c, min(d.cfg.Timeout, maxCloseConfirm))
	err := c.Close()
	if cerr != nil {
		return fmt.Errorf("%w: %s: %d alerts in the resend window: %w", ErrSyslogUnconfirmed, d.Name(), n, cerr)
	}
	return err
}

// confirmRead half-closes c and reads until the peer closes its side.
func confirmRead(c net.Conn, wait time.Duration) error {
	type closeWriter interface{ CloseWrite() error }
	cw, ok := c.(closeWriter)
	if !ok {
		return errors.New("cannot half-close")
	}
	if err := cw.CloseWrite(); err != nil {
		return err
	}
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	var b [512]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
