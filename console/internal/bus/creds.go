package bus

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/palisadehq/palisade/pkg/jobs"
)

// issuer signs NATS user JWTs for an external cluster in operator (JWT) mode with an account's
// identity key or one of its (unscoped) signing keys.
type issuer struct {
	key     nkeys.KeyPair
	account string // the account's public key (A...)
	now     func() time.Time
}

// loadIssuer reads an account seed (SA...) from path, in a bare or a decorated file. account is
// the account's public key; it may be empty when the seed is the account's identity key.
func loadIssuer(path, account string, now func() time.Time) (*issuer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bus: read the NATS account seed (--nats-account-seed-file): %w", err)
	}
	kp, err := jwt.ParseDecoratedNKey(data)
	if err != nil {
		return nil, fmt.Errorf("bus: the NATS account seed file %s holds no nkey seed (want a seed starting with SA): %w", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("bus: the NATS account seed in %s: %w", path, err)
	}
	if !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("bus: the seed in %s is not an account key (its public key %s should start with A); use the account's seed or one of its signing keys' seeds", path, pub)
	}
	if account == "" {
		account = pub
	}
	if !nkeys.IsValidPublicAccountKey(account) {
		return nil, fmt.Errorf("bus: --nats-account %q is not an account public key; it starts with A and has 56 characters", account)
	}
	return &issuer{key: kp, account: account, now: now}, nil
}

// credentials issues a user with perms (nil: everything the account allows), valid until
// expires (zero: no expiry), as the content of a NATS credentials file.
func (is *issuer) credentials(name string, perms *jwt.Permissions, expires time.Time) (string, error) {
	user, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("bus: create a NATS user key: %w", err)
	}
	userPub, err := user.PublicKey()
	if err != nil {
		return "", fmt.Errorf("bus: create a NATS user key: %w", err)
	}
	seed, err := user.Seed()
	if err != nil {
		return "", fmt.Errorf("bus: create a NATS user key: %w", err)
	}
	uc := jwt.NewUserClaims(userPub)
	uc.Name = name
	if !expires.IsZero() {
		uc.Expires = expires.Unix()
	}
	signer, err := is.key.PublicKey()
	if err != nil {
		return "", fmt.Errorf("bus: %w", err)
	}
	if signer != is.account {
		uc.IssuerAccount = is.account
	}
	if perms != nil {
		uc.Permissions = *perms
	}
	token, err := uc.Encode(is.key)
	if err != nil {
		return "", fmt.Errorf("bus: sign the NATS user %s: %w", name, err)
	}
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		return "", fmt.Errorf("bus: format the NATS credentials of %s: %w", name, err)
	}
	return string(creds), nil
}

// nodeJWTPermissions are the JWT form of nodePermissions: exactly the same subjects.
func nodeJWTPermissions(nodeID string) *jwt.Permissions {
	p := nodePermissions(nodeID)
	return &jwt.Permissions{
		Pub: jwt.Permission{Deny: jwt.StringList(p.Publish.Deny)},
		Sub: jwt.Permission{Allow: jwt.StringList(p.Subscribe.Allow)},
	}
}

// NodeCredentials returns the NATS credentials (the content of a .creds file: a user JWT and
// its nkey seed) node nodeID connects to an external cluster with, allowed exactly what the
// embedded server allows a node and expiring at notAfter (the node certificate's expiry). It
// returns "" without error when the bus needs none: the embedded server, or an external
// cluster without --nats-account-seed-file, authenticates nodes by certificate alone.
func (b *Bus) NodeCredentials(nodeID string, notAfter time.Time) (string, error) {
	if b.issuer == nil {
		return "", nil
	}
	if err := jobs.ValidateNodeID(nodeID); err != nil {
		return "", fmt.Errorf("bus: node credentials: %w", err)
	}
	if notAfter.IsZero() {
		return "", errors.New("bus: node credentials: the node certificate's expiry is required to bound them")
	}
	if !notAfter.After(b.issuer.now()) {
		return "", fmt.Errorf("bus: node credentials for %s: the node certificate expired at %s; the node must enrol again", nodeID, notAfter.UTC().Format(time.RFC3339))
	}
	return b.issuer.credentials(nodeUserPrefix+nodeID, nodeJWTPermissions(nodeID), notAfter)
}
