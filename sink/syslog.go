package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
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
}

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
	if id := c.StructuredDataID; id != "" && (len(id) > 32 || !strings.Contains(id, "@") || strings.ContainsAny(id, ` ="]`) || !printASCII(id)) {
		return configErr("%s: StructuredDataID %q is not an SD-ID of the form name@PEN", what, id)
	}
	return nil
}

func (c *SyslogConfig) name() string {
	if c.Name == "" {
		return "syslog"
	}
	return c.Name
}

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
// "LENGTH SP MESSAGE" and a batch goes in one write; a write error closes
// the connection (redialled on the next attempt) and retries the batch, so
// the collector may see some messages twice. Before each batch a stream
// connection is checked for a hang-up by the collector (a read that must
// time out at once) and redialled if it was closed.
type SyslogDestination struct {
	cfg      SyslogConfig
	facility int
	header   string // " HOSTNAME APP-NAME PROCID "
	tls      *tls.Config
	conn     net.Conn
	buf      []byte
	msg      []byte
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
func syslogSeverity(s Severity) int {
	switch s {
	case SeverityCritical:
		return 2
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 4
	case SeverityLow:
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
	d.conn = c
	return nil
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
	b := d.buf[:0]
	for _, a := range batch {
		d.msg = d.appendMessage(d.msg[:0], a)
		b = strconv.AppendInt(b, int64(len(d.msg)), 10)
		b = append(b, ' ')
		b = append(b, d.msg...)
	}
	_, err := d.conn.Write(b)
	if cap(b) <= maxKeptBuf {
		d.buf = b[:0]
	} else {
		d.buf = nil
	}
	if cap(d.msg) > maxKeptBuf {
		d.msg = nil
	}
	if err != nil {
		d.drop()
		return fmt.Errorf("sink: syslog %s: %w", d.Name(), err)
	}
	return nil
}

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

// Close closes the connection.
func (d *SyslogDestination) Close() error {
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}
