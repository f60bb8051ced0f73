package sink

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"github.com/kestrel-sec/kestrel/schema"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func newSyslog(t *testing.T, cfg SyslogConfig) *SyslogDestination {
	t.Helper()
	d, err := NewSyslogDestination(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSyslogMessageFormat(t *testing.T) {
	d := newSyslog(t, SyslogConfig{Address: "127.0.0.1:514", Hostname: "sensor 1", Facility: "authpriv",
		StructuredDataID: "kestrel@32473"})
	a := testAlert(0)
	a.RuleID = `rule "x"]\é`
	got := string(d.appendMessage(nil, a))
	pid := strconv.Itoa(os.Getpid())
	want := `<83>1 2026-01-01T00:00:00.000000Z sensor_1 kestrel ` + pid + ` rule_"x"]\__ ` +
		`[kestrel@32473 alert_id="` + a.ID + `" rule_id="rule \"x\"\]\\é" severity="high" entity_key="0"] ` +
		string(a.AppendJSON(nil))
	if got != want {
		t.Errorf("message\n%s\nwant\n%s", got, want)
	}
	// No structured data, no time, no rule id.
	d = newSyslog(t, SyslogConfig{Address: "127.0.0.1:514", Hostname: "h", AppName: "app"})
	b := &Alert{Severity: schema.SeverityInformational}
	if got, want := string(d.appendMessage(nil, b)), "<134>1 - h app "+pid+" - - "+string(b.AppendJSON(nil)); got != want {
		t.Errorf("message\n%s\nwant\n%s", got, want)
	}
}

func TestSyslogSeverityMapping(t *testing.T) {
	want := map[schema.Severity]int{schema.SeverityCritical: 2, schema.SeverityHigh: 3, schema.SeverityMedium: 4, schema.SeverityLow: 5, schema.SeverityInformational: 6}
	for s, w := range want {
		if got := syslogSeverity(s); got != w {
			t.Errorf("%v: %d, want %d", s, got, w)
		}
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	d := newSyslog(t, SyslogConfig{Address: pc.LocalAddr().String(), Facility: "local3"})
	var batch []*Alert
	for s := schema.SeverityInformational; s <= schema.SeverityCritical; s++ {
		a := testAlert(int(s))
		a.Severity = s
		batch = append(batch, a)
	}
	big := testAlert(9)
	big.Message = strings.Repeat("x", maxUDPMessage)
	batch = append(batch, big)
	err = d.Send(context.Background(), batch)
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.Rejected) != 1 || pe.Rejected[0].Index != 5 || len(pe.Retry) != 0 {
		t.Errorf("Send = %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for s := schema.SeverityInformational; s <= schema.SeverityCritical; s++ {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(buf[:n])
		pri := "<" + strconv.Itoa(19*8+syslogSeverity(s)) + ">1 "
		if !strings.HasPrefix(msg, pri) || !strings.HasSuffix(msg, string(batch[s].AppendJSON(nil))) {
			t.Errorf("datagram %d: %s", s, msg)
		}
	}
}

// syslogServer accepts stream connections (TLS when tc is set) and
// collects octet-counted messages.
type syslogServer struct {
	ln    net.Listener
	msgs  chan string
	conns chan net.Conn
	wg    sync.WaitGroup
}

func newSyslogServer(t *testing.T, tc *tls.Config) *syslogServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveSyslog(t, ln, tc)
}

func serveSyslog(t *testing.T, ln net.Listener, tc *tls.Config) *syslogServer {
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	s := &syslogServer{ln: ln, msgs: make(chan string, 100), conns: make(chan net.Conn, 10)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close() // as collectors do at EOF: Close's confirmation
				r := bufio.NewReader(c)
				for {
					lenStr, err := r.ReadString(' ')
					if err != nil {
						return
					}
					n, err := strconv.Atoi(strings.TrimSuffix(lenStr, " "))
					if err != nil {
						s.msgs <- "BAD FRAME " + lenStr
						return
					}
					b := make([]byte, n)
					if _, err := io.ReadFull(r, b); err != nil {
						return
					}
					s.msgs <- string(b)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(s.conns)
		for c := range s.conns {
			c.Close()
		}
		s.wg.Wait()
	})
	return s
}

func (s *syslogServer) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no syslog message")
		return ""
	}
}

func TestSyslogTCPOctetCounting(t *testing.T) {
	srv := newSyslogServer(t, nil)
	d := newSyslog(t, SyslogConfig{Network: "tcp", Address: srv.ln.Addr().String(), Hostname: "h"})
	defer d.Close()
	batch := []*Alert{testAlert(0), testAlert(1), testAlert(2)}
	batch[1].Message = "multi\nline message with a trailing space "
	if err := d.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for _, a := range batch {
		if m := srv.next(t); m != string(d.appendMessage(nil, a)) {
			t.Errorf("got %q", m)
		}
	}
	// The collector hangs up: the next batch goes over a new connection
	// instead of into the void.
	first := <-srv.conns
	first.Close()
	waitFor(t, "the hang-up to reach the client", d.peerClosed)
	if err := d.Send(context.Background(), []*Alert{testAlert(3)}); err != nil {
		t.Fatal(err)
	}
	// The new connection first carries the resend window: everything
	// written on the old one, which the collector may not have read.
	for i, a := range append(batch, testAlert(3)) {
		if m := srv.next(t); !strings.HasSuffix(m, string(a.AppendJSON(nil))) {
			t.Errorf("after reconnect, message %d: %q", i, m)
		}
	}
	if d.Resent() != 3 {
		t.Errorf("Resent() = %d, want 3", d.Resent())
	}
	// The collector closes after reading all: Close is confirmed.
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSyslogTCPThroughOutputRetries(t *testing.T) {
	// Nothing listens at first: dials fail, the Output retries, and once
	// the collector is up the alert arrives.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := newSyslog(t, SyslogConfig{Network: "tcp", Address: addr, Timeout: time.Second})
	defer d.Close()
	failed := make(chan struct{})
	var once sync.Once
	// The wrapper only observes the first failure; the work is d's.
	dest := &funcDest{name: "syslog", send: func(ctx context.Context, b []*Alert) error {
		err := d.Send(ctx, b)
		if err != nil {
			once.Do(func() { close(failed) })
		}
		return err
	}}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: dest, Retry: fastRetry}}})
	if err := o.Emit(testAlert(0)); err != nil {
		t.Fatal(err)
	}
	<-failed
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv := serveSyslog(t, ln, nil)
	if m := srv.next(t); !strings.HasSuffix(m, string(testAlert(0).AppendJSON(nil))) {
		t.Errorf("got %q", m)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats().Destinations[0]; s.Delivered != 1 || s.Retried == 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestSyslogTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := newSyslogServer(t, pki.serverTLS(true))
	d := newSyslog(t, SyslogConfig{Network: "tls", Address: srv.ln.Addr().String(),
		TLS: TLSConfig{CAPEM: pki.caPEM, CertPEM: pki.clientPEM, KeyPEM: pki.clientKey}})
	defer d.Close()
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); err != nil {
		t.Fatal(err)
	}
	if m := srv.next(t); !strings.HasSuffix(m, string(testAlert(0).AppendJSON(nil))) {
		t.Errorf("got %q", m)
	}
	// A second batch on the same connection passes the hang-up check.
	if err := d.Send(context.Background(), []*Alert{testAlert(1)}); err != nil {
		t.Fatal(err)
	}
	if m := srv.next(t); !strings.HasSuffix(m, string(testAlert(1).AppendJSON(nil))) {
		t.Errorf("got %q", m)
	}
	// Without the CA, verification fails.
	bad := newSyslog(t, SyslogConfig{Network: "tls", Address: srv.ln.Addr().String(), Timeout: 5 * time.Second})
	if err := bad.Send(context.Background(), []*Alert{testAlert(0)}); !IsPermanent(err) {
		t.Errorf("unverified: %v, want a permanent error", err)
	}
}

func TestSyslogConfigErrors(t *testing.T) {
	for name, c := range map[string]SyslogConfig{
		"no address": {},
		"network":    {Address: "h:1", Network: "unix"},
		"facility":   {Address: "h:1", Facility: "nope"},
		"timeout":    {Address: "h:1", Timeout: -1},
		"sd id":      {Address: "h:1", StructuredDataID: "no-at-sign"},
		"sd space":   {Address: "h:1", StructuredDataID: "a b@1"},
		"tls":        {Address: "h:1", Network: "tls", TLS: TLSConfig{CAPEM: []byte("x")}},
	} {
		if _, err := NewSyslogDestination(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// readFrame reads one octet-counted message.
func readFrame(r *bufio.Reader) (string, error) {
	lenStr, err := r.ReadString(' ')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(lenStr, " "))
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return string(b), err
}

// TestSyslogTCPResendsUnreadAfterCrash: a collector reads the first alert,
// stops reading, then dies with the second alert written into its socket
// but never read. A successful write was not delivery: on the next
// connection the destination sends the alerts written since (at least
// once) and counts them as resent.
func TestSyslogTCPResendsUnreadAfterCrash(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type conn struct {
		c net.Conn
		r *bufio.Reader
	}
	accepted := make(chan conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn{c, bufio.NewReader(c)}
		}
	}()
	d := newSyslog(t, SyslogConfig{Network: "tcp", Address: ln.Addr().String(), Hostname: "h", Timeout: 5 * time.Second})
	defer d.Close()
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); err != nil {
		t.Fatal(err)
	}
	c1 := <-accepted
	if m, err := readFrame(c1.r); err != nil || !strings.HasSuffix(m, string(testAlert(0).AppendJSON(nil))) {
		t.Fatalf("first message %q, %v", m, err)
	}
	// The collector stops reading: this write lands in its socket buffer.
	if err := d.Send(context.Background(), []*Alert{testAlert(1)}); err != nil {
		t.Fatal(err)
	}
	// It crashes: closing with unread data resets the connection.
	_ = c1.c.Close()
	waitFor(t, "the crash to reach the client", d.peerClosed)
	if err := d.Send(context.Background(), []*Alert{testAlert(2)}); err != nil {
		t.Fatal(err)
	}
	c2 := <-accepted
	defer c2.c.Close()
	got := map[string]bool{}
	for !got[testAlert(2).ID] {
		_ = c2.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		m, err := readFrame(c2.r)
		if err != nil {
			t.Fatalf("after the crash: %v (got %v)", err, got)
		}
		var a Alert
		if err := a.UnmarshalJSON([]byte(m[strings.Index(m, "{"):])); err != nil {
			t.Fatal(err)
		}
		got[a.ID] = true
	}
	if !got[testAlert(1).ID] {
		t.Errorf("alert 1, written but never read, was not sent again: got %v", got)
	}
	if n := d.Resent(); n < 1 {
		t.Errorf("Resent() = %d, want the resent alerts counted", n)
	}
}

// TestSyslogResendWindowBounded: the window keeps the latest frames up to
// ResendWindow bytes, and Close without the collector's confirmation says
// how many alerts it could not vouch for.
func TestSyslogResendWindowBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			held <- c // never read, never closed until the test ends
		}
	}()
	probe := newSyslog(t, SyslogConfig{Network: "tcp", Address: "h:1", Hostname: "h"})
	frame := len(probe.appendMessage(nil, testAlert(0))) + 4 // "NNN " and a digit of slack
	d := newSyslog(t, SyslogConfig{Network: "tcp", Address: ln.Addr().String(), Hostname: "h",
		Timeout: 50 * time.Millisecond, ResendWindow: 2 * frame})
	for i := range 5 {
		if err := d.Send(context.Background(), []*Alert{testAlert(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if live := len(d.winLens) - d.winHead; live != 2 || d.winBytes > 2*frame {
		t.Errorf("window holds %d frames, %d bytes; want the last 2", live, d.winBytes)
	}
	if w := string(d.win[d.winOff:]); !strings.Contains(w, testAlert(3).ID) || !strings.Contains(w, testAlert(4).ID) {
		t.Errorf("window %q", w)
	}
	if err := d.Close(); !errors.Is(err, ErrSyslogUnconfirmed) || !strings.Contains(err.Error(), "2 alerts") {
		t.Errorf("Close = %v, want ErrSyslogUnconfirmed for 2 alerts", err)
	}
	(<-held).Close()
}
