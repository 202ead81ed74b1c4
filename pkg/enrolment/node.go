package enrolment

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
)

// MaxNodeIDLen is the longest node id accepted.
const MaxNodeIDLen = 63

// ValidateNodeID checks that id is usable as a node id: 1 to 63 characters from [a-z0-9-],
// starting with a letter or digit. Node ids appear in NATS subjects, consumer names,
// certificate names and file names, so nothing else is allowed.
func ValidateNodeID(id string) error {
	if id == "" {
		return fmt.Errorf("node id is empty")
	}
	if len(id) > MaxNodeIDLen {
		return fmt.Errorf("node id %q is %d characters long, at most %d are allowed", truncate(id, 20), len(id), MaxNodeIDLen)
	}
	if id[0] == '-' {
		return fmt.Errorf("node id %q starts with '-'; it must start with a letter or digit", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("node id %q has %q at offset %d; only lowercase letters, digits and '-' are allowed", id, c, i)
		}
	}
	return nil
}

// NewNodeID returns a fresh random node id (24 lowercase hex digits).
func NewNodeID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random node id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// NewKey makes a node's ECDSA P-256 key and a PKCS#10 certificate request (DER) for it. The
// request's subject is a placeholder: the console names the certificate after the node id it
// assigns.
func NewKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate node key: %w", err)
	}
	tmpl := &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: "palisade-node"},
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate request: %w", err)
	}
	return key, csr, nil
}
