//go:build linux

package sensor_test

import (
	"net"
	"os"
	"strconv"
	"testing"
)

// TestLiveAccept connects to a loopback listener of this process, over
// IPv4 and IPv6, and checks that the accept event is the connect event
// seen from the other end: same 4-tuple, local and remote swapped.
func TestLiveAccept(t *testing.T) {
	_, col := live(t)
	self := os.Getpid()
	for _, c := range []struct{ network, addr, ip string }{
		{"tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"tcp6", "[::1]:0", "::1"},
	} {
		ln, err := net.Listen(c.network, c.addr)
		if err != nil {
			t.Logf("%s: no listener (%v): not checked", c.network, err)
			continue
		}
		accepted := make(chan error, 1)
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				_ = conn.Close()
			}
			accepted <- err
		}()
		conn, err := net.Dial(c.network, ln.Addr().String())
		if err != nil {
			_ = ln.Close()
			t.Fatal(err)
		}
		if err := <-accepted; err != nil {
			t.Fatal(err)
		}
		lport := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		cport := strconv.Itoa(conn.LocalAddr().(*net.TCPAddr).Port)
		_ = conn.Close()
		_ = ln.Close()

		ne := col.wait(t, "network_connect", self, func(s seen) bool { return s.f["source.port"] == cport })
		ae := col.wait(t, "network_accept", self, func(s seen) bool { return s.f["destination.port"] == cport })
		want := map[string]string{
			"source.ip": c.ip, "source.port": lport, "destination.ip": c.ip, "destination.port": cport,
			"network.direction": "inbound", "network.transport": "tcp", "event.action": "accept",
			"event.outcome": "success", "process.pid": strconv.Itoa(self),
		}
		for k, v := range want {
			if ae.f[k] != v {
				t.Errorf("%s accept: %s = %q, want %q (%v)", c.network, k, ae.f[k], v, ae.f)
			}
		}
		if ne.f["destination.port"] != lport || ne.f["network.direction"] != "outbound" {
			t.Errorf("%s connect: %v", c.network, ne.f)
		}
		if ae.entity != ne.entity || ae.f["process.entity_id"] == "" {
			t.Errorf("%s: accept and connect are both this process: %v / %v", c.network, ae.entity, ne.entity)
		}
	}
}
