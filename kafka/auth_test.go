package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestSASL authenticates with each mechanism against a cluster that
// requires SASL, the password read from the environment; a wrong password
// fails delivery, counted.
func TestSASL(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 2, "sasl",
		kfake.EnableSASL(),
		kfake.Superuser(MechanismScramSHA256, "admin", "admin-secret"),
		kfake.Superuser(MechanismScramSHA512, "alice", "alice-secret"),
		kfake.Superuser(MechanismPlain, "bob", "bob-secret"),
	)
	for _, tc := range []struct{ mech, user, pass string }{
		{MechanismScramSHA256, "admin", "admin-secret"},
		{MechanismScramSHA512, "alice", "alice-secret"},
		{MechanismPlain, "bob", "bob-secret"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			cfg := testConfig(t, c, "sasl")
			cfg.Group = "g-" + tc.mech
			cfg.SASL = &SASLConfig{Mechanism: tc.mech, UserEnv: "KAFKA_USER", PasswordEnv: "KAFKA_PASS"}
			cfg.InsecureSASL = tc.mech == MechanismPlain // the fake cluster listens in plaintext
			cfg.LookupEnv = env(map[string]string{"KAFKA_USER": tc.user, "KAFKA_PASS": tc.pass})
			sent := events(100)
			forward(t, cfg, sent)
			col := &collector{}
			n := startNode(t, cfg, col, 1, 1)
			col.waitCount(t, len(sent), 20*time.Second)
			n.stop(t)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		cfg := testConfig(t, c, "sasl")
		cfg.Logger = nil
		cfg.DeliveryTimeout = time.Second
		cfg.SASL = &SASLConfig{Mechanism: MechanismScramSHA256, User: "admin"}
		cfg.LookupEnv = env(map[string]string{DefaultPasswordEnv: "wrong"})
		f, err := NewForwarder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		sent := events(10)
		for i := range sent {
			f.Publish(&sent[i])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = f.Close(ctx)
		if !errors.Is(err, ErrUndelivered) {
			t.Fatalf("Close: %v, want ErrUndelivered", err)
		}
		if st := f.Stats(); st.Failed != 10 || st.Delivered != 0 || st.Events != 10 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestMutualTLS connects over TLS with a client certificate to brokers that
// require one; without the certificate nothing is delivered.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	serverCert := issue(t, ca, caKey, "broker", x509.ExtKeyUsageServerAuth, dir, "server")
	issue(t, ca, caKey, "kestrel-sensor", x509.ExtKeyUsageClientAuth, dir, "client")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := newCluster(t, 2, 2, "tls", kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}))

	cfg := testConfig(t, c, "tls")
	cfg.TLS = &TLSConfig{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "client.pem"),
		KeyFile:  filepath.Join(dir, "client-key.pem"),
	}
	sent := events(200)
	forward(t, cfg, sent)
	col := &collector{}
	n := startNode(t, cfg, col, 1, 2)
	col.waitCount(t, len(sent), 20*time.Second)
	n.stop(t)
	col.check(t, sent, true)

	// Without a client certificate the brokers refuse the connection.
	cfg.TLS = &TLSConfig{CAFile: filepath.Join(dir, "ca.pem")}
	cfg.Logger = nil
	cfg.DeliveryTimeout = time.Second
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.Publish(&sent[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Close(ctx); !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close without a client certificate: %v, want ErrUndelivered", err)
	}
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kestrel test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue signs a certificate for 127.0.0.1 and writes it and its key to
// dir/name.pem and dir/name-key.pem.
func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage, dir, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, name+"-key.pem"), "EC PRIVATE KEY", keyDER)
	cert, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
