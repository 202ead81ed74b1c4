// Package enrolment holds what a sensor and the console share to establish a node identity:
// the enrolment token format (a one-time secret plus the pin of the console's CA), the TLS
// configuration that trusts only the pinned CA for the first call, the node key and certificate
// request, and the sensor's on-disk state after enrolment. It depends on the standard library
// only, so the sensor links nothing of the console.
package enrolment

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TokenPrefix starts every enrolment token; the digit is the format version.
const TokenPrefix = "pse1"

// SecretSize is the number of random bytes in a token's secret.
const SecretSize = 32

// ErrMalformedToken is wrapped by every error Parse returns.
var ErrMalformedToken = errors.New("malformed enrolment token")

// Token is a parsed enrolment token.
type Token struct {
	// Secret is the one-time secret; the console stores only Hash(Secret).
	Secret []byte
	// CAFingerprint is the lowercase hex SHA-256 of the console CA certificate (DER).
	CAFingerprint string
}

// String formats the token as pse1.<base64url secret>.<hex CA fingerprint>.
func (t Token) String() string {
	return TokenPrefix + "." + base64.RawURLEncoding.EncodeToString(t.Secret) + "." + t.CAFingerprint
}

// NewToken makes a token with a fresh random secret that pins the CA with the given
// fingerprint, and returns it with the hash of its secret (what the console stores).
func NewToken(caFingerprint string) (token string, secretHash []byte, err error) {
	fp, err := normaliseFingerprint(caFingerprint)
	if err != nil {
		return "", nil, err
	}
	secret := make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, fmt.Errorf("read random secret: %w", err)
	}
	t := Token{Secret: secret, CAFingerprint: fp}
	return t.String(), Hash(secret), nil
}

// Parse reads a token made by NewToken. Surrounding white space is ignored. Every error wraps
// ErrMalformedToken and says which part is wrong.
func Parse(token string) (Token, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Token{}, fmt.Errorf("%w: the token is empty; pass the token printed by the console's token command", ErrMalformedToken)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Token{}, fmt.Errorf("%w: want 3 dot-separated parts (%s.<secret>.<ca fingerprint>), got %d; check the token was copied whole", ErrMalformedToken, TokenPrefix, len(parts))
	}
	if parts[0] != TokenPrefix {
		return Token{}, fmt.Errorf("%w: unknown prefix %q (want %q)", ErrMalformedToken, truncate(parts[0], 16), TokenPrefix)
	}
	secret, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Token{}, fmt.Errorf("%w: the secret is not unpadded base64url: %w", ErrMalformedToken, err)
	}
	if len(secret) != SecretSize {
		return Token{}, fmt.Errorf("%w: the secret has %d bytes, want %d; check the token was copied whole", ErrMalformedToken, len(secret), SecretSize)
	}
	fp, err := normaliseFingerprint(parts[2])
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrMalformedToken, err)
	}
	return Token{Secret: secret, CAFingerprint: fp}, nil
}

// Hash returns the SHA-256 of a token secret: the form in which the console stores and looks
// up tokens.
func Hash(secret []byte) []byte {
	sum := sha256.Sum256(secret)
	return sum[:]
}

// Fingerprint returns the lowercase hex SHA-256 of a certificate's DER bytes, the form used in
// tokens and by PinnedTLSConfig.
func Fingerprint(certDER []byte) string {
	sum := sha256.Sum256(certDER)
	return hex.EncodeToString(sum[:])
}

// normaliseFingerprint checks that fp is 64 hex digits (colons allowed, as openssl prints
// them) and returns it in lowercase without separators.
func normaliseFingerprint(fp string) (string, error) {
	clean := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fp), ":", ""))
	if len(clean) != 2*sha256.Size {
		return "", fmt.Errorf("the CA fingerprint has %d hex digits, want %d (a SHA-256)", len(clean), 2*sha256.Size)
	}
	if _, err := hex.DecodeString(clean); err != nil {
		return "", fmt.Errorf("the CA fingerprint is not hex: %w", err)
	}
	return clean, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
