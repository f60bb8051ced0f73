package sink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// TLSConfig configures the TLS of a network destination (HTTPS, syslog
// over TLS). The zero value verifies the server against the system's roots,
// with TLS 1.2 or later. Certificates and keys are PEM, given inline or as
// files (inline wins when both are set).
type TLSConfig struct {
	// CAFile or CAPEM holds the certificate authorities that verify the
	// server, replacing the system's roots. Empty: the system's roots.
	CAFile string
	CAPEM  []byte
	// CertFile and KeyFile, or CertPEM and KeyPEM, hold the client
	// certificate and its key, presented when the server asks (mTLS).
	// Empty: none.
	CertFile, KeyFile string
	CertPEM, KeyPEM   []byte
	// ServerName overrides the name verified in the server's certificate.
	// "": the host of the URL or address.
	ServerName string
	// InsecureSkipVerify turns off verification of the server's
	// certificate. Verification is on unless this is set; never set it in
	// production.
	InsecureSkipVerify bool
	// MinVersion is the least TLS version accepted (tls.VersionTLS13, ...).
	// 0: TLS 1.2.
	MinVersion uint16
}

// isZero reports whether c asks for nothing beyond the defaults.
func (c *TLSConfig) isZero() bool {
	return c.CAFile == "" && len(c.CAPEM) == 0 && c.CertFile == "" && c.KeyFile == "" &&
		len(c.CertPEM) == 0 && len(c.KeyPEM) == 0 && c.ServerName == "" && !c.InsecureSkipVerify &&
		c.MinVersion == 0
}

// Build returns the *tls.Config c describes, reading the files it names.
// Errors say which file or field is wrong and match ErrInvalidConfig.
func (c *TLSConfig) Build() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // only when explicitly asked for
	}
	if c.MinVersion != 0 {
		tc.MinVersion = c.MinVersion
	}
	ca, err := pemOrFile(c.CAPEM, c.CAFile, "CA")
	if err != nil {
		return nil, err
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, configErr("TLS: no PEM certificate in CA %s", where(c.CAPEM, c.CAFile))
		}
		tc.RootCAs = pool
	}
	cert, err := pemOrFile(c.CertPEM, c.CertFile, "client certificate")
	if err != nil {
		return nil, err
	}
	key, err := pemOrFile(c.KeyPEM, c.KeyFile, "client key")
	if err != nil {
		return nil, err
	}
	switch {
	case len(cert) > 0 && len(key) > 0:
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, configErr("TLS: client certificate %s with key %s: %v",
				where(c.CertPEM, c.CertFile), where(c.KeyPEM, c.KeyFile), err)
		}
		tc.Certificates = []tls.Certificate{pair}
	case len(cert) > 0 || len(key) > 0:
		return nil, configErr("TLS: a client certificate needs both the certificate and its key")
	}
	return tc, nil
}

func pemOrFile(inline []byte, file, what string) ([]byte, error) {
	if len(inline) > 0 || file == "" {
		return inline, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %s: %w", ErrInvalidConfig, what, err)
	}
	return b, nil
}

func where(inline []byte, file string) string {
	if len(inline) > 0 {
		return "(inline PEM)"
	}
	return file
}

// Reasons of the permanent failures classifyNetErr finds, stable so that
// the Output logs each once.
const (
	reasonCertificate = "TLS certificate verification failed"
	reasonNotTLS      = "TLS handshake with a server that does not speak TLS"
	reasonClientCert  = "TLS: the server refused our client certificate"
)

// classifyNetErr wraps err in a *PermanentError when retrying cannot help:
// the server's certificate does not verify (unknown authority, expired or
// otherwise invalid, wrong host name), or the far side does not speak TLS
// at all, or the server refuses our client certificate (a TLS alert about
// certificates: bad, unsupported, revoked, expired, unknown, unknown CA,
// required). Such failures are configuration errors: a retry fails the same
// way, so retrying them would hold the queue forever. Any other error is
// returned as it is (transient).
func classifyNetErr(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		hn  x509.HostnameError
		cv  *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		oe  *net.OpError
	)
	switch {
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &hn):
		return &PermanentError{Reason: reasonCertificate, Err: err}
	case errors.As(err, &rhe):
		return &PermanentError{Reason: reasonNotTLS, Err: err}
	case errors.As(err, &oe) && oe.Op == "remote error" && oe.Err != nil && certAlert(oe.Err.Error()):
		return &PermanentError{Reason: reasonClientCert, Err: err}
	}
	return err
}

// certAlert reports whether the text of a TLS alert the peer sent is about
// our certificate (RFC 8446 section 6.2): configuration, not a passing
// fault. crypto/tls does not export the received alert's type, only its
// text, which is fixed by alert.go.
func certAlert(text string) bool {
	switch strings.TrimPrefix(text, "tls: ") {
	case "bad certificate", "unsupported certificate", "revoked certificate", "expired certificate",
		"unknown certificate", "unknown certificate authority", "certificate required":
		return true
	}
	return false
}
