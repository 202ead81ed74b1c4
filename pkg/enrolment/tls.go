package enrolment

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ErrPinMismatch is wrapped by the handshake error when the server does not present the
// pinned CA.
var ErrPinMismatch = errors.New("console CA does not match the enrolment token")

// PinnedTLSConfig returns the client TLS configuration for the enrolment call, made before
// the sensor knows the console's CA. The handshake succeeds only when the server's chain
// contains a CA certificate whose SHA-256 fingerprint equals fingerprint and the server
// certificate is valid under that CA for server authentication and for serverName. When
// serverName is empty, the server name indication the dialer sent is checked instead (gRPC
// fills it in from the target's host); an IP address dialled without serverName is not sent
// in SNI, so then only the pin and the key usage are checked, which still excludes every
// server but the console. Anything else fails the handshake with an error wrapping
// ErrPinMismatch.
func PinnedTLSConfig(fingerprint, serverName string) *tls.Config {
	want, fpErr := normaliseFingerprint(fingerprint)
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// Verification against the pinned CA happens in VerifyConnection: the system roots
		// must not be consulted, and the CA is known only by its fingerprint.
		InsecureSkipVerify: true, //nolint:gosec // replaced by the pinned verification below
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if fpErr != nil {
			return fmt.Errorf("%w: %w", ErrPinMismatch, fpErr)
		}
		name := serverName
		if name == "" {
			name = cs.ServerName
		}
		return verifyPinned(cs, want, name)
	}
	return cfg
}

func verifyPinned(cs tls.ConnectionState, want, serverName string) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: the server sent no certificate", ErrPinMismatch)
	}
	var ca *x509.Certificate
	for _, c := range cs.PeerCertificates {
		if c.IsCA && Fingerprint(c.Raw) == want {
			ca = c
			break
		}
	}
	if ca == nil {
		return fmt.Errorf("%w: the server's certificate chain has no CA with SHA-256 fingerprint %s; check that the token was made by this console and that the address points at it", ErrPinMismatch, want)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		if c != ca {
			inter.AddCert(c)
		}
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		DNSName:       serverName,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("%w: the server certificate is not valid under the pinned CA: %w", ErrPinMismatch, err)
	}
	return nil
}
