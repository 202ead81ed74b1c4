package jobs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Credentials turns the content of a NATS credentials file (a user JWT and its nkey seed, as
// the console issues a node for an external cluster) into the connect option that presents
// them. The seed never touches the disk.
func Credentials(creds string) (nats.Option, error) {
	userJWT, err := nkeys.ParseDecoratedJWT([]byte(creds))
	if err != nil || !strings.HasPrefix(userJWT, "eyJ") {
		return nil, errors.New("NATS credentials hold no user JWT; ask the console for new ones by reconnecting")
	}
	kp, err := nkeys.ParseDecoratedUserNKey([]byte(creds))
	if err != nil {
		return nil, fmt.Errorf("NATS credentials hold no user seed: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("NATS credentials: %w", err)
	}
	return nats.UserJWTAndSeed(userJWT, string(seed)), nil
}
