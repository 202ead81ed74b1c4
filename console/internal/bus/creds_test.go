package bus

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/palisadehq/palisade/pkg/jobs"
)

func TestNodeCredentials(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	accKey, accPub := mustKey(t, nkeys.CreateAccount)
	accSeed, err := accKey.Seed()
	if err != nil {
		t.Fatal(err)
	}
	signKey, signPub := mustKey(t, nkeys.CreateAccount)
	signSeed, err := signKey.Seed()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		seed          []byte
		account       string
		issuer        string
		issuerAccount string
	}{
		{"account key", accSeed, "", accPub, ""},
		{"signing key", signSeed, accPub, signPub, accPub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, err := loadIssuer(writeFile(t, "acc.nk", tt.seed), tt.account, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			b := &Bus{issuer: is}
			notAfter := now.Add(90 * 24 * time.Hour)
			creds, err := b.NodeCredentials("node-a", notAfter)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jobs.Credentials(creds); err != nil {
				t.Fatalf("the credentials do not parse: %v", err)
			}
			tok, err := jwt.ParseDecoratedJWT([]byte(creds))
			if err != nil {
				t.Fatal(err)
			}
			uc, err := jwt.DecodeUserClaims(tok)
			if err != nil {
				t.Fatal(err)
			}
			if uc.Issuer != tt.issuer || uc.IssuerAccount != tt.issuerAccount || uc.Name != "node:node-a" ||
				uc.Expires != notAfter.Unix() || uc.BearerToken {
				t.Errorf("claims issuer %s issuer_account %q name %q expires %d bearer %v; want %s %q node:node-a %d false",
					uc.Issuer, uc.IssuerAccount, uc.Name, uc.Expires, uc.BearerToken, tt.issuer, tt.issuerAccount, notAfter.Unix())
			}
			if len(uc.Pub.Allow) != 0 || !slices.Equal(uc.Pub.Deny, []string{">"}) ||
				!slices.Equal(uc.Sub.Allow, []string{"palisade.jobs.node-a", "palisade.control.node-a"}) || len(uc.Sub.Deny) != 0 || uc.Resp != nil {
				t.Errorf("permissions pub %v sub %v resp %v", uc.Pub, uc.Sub, uc.Resp)
			}
		})
	}
}

func TestNodeCredentialsErrors(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	accKey, accPub := mustKey(t, nkeys.CreateAccount)
	accSeed, err := accKey.Seed()
	if err != nil {
		t.Fatal(err)
	}
	is, err := loadIssuer(writeFile(t, "acc.nk", accSeed), accPub, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	b := &Bus{issuer: is}
	tests := []struct {
		name     string
		node     string
		notAfter time.Time
		want     string
	}{
		{"no expiry", "node-a", time.Time{}, "bus: node credentials: the node certificate's expiry is required to bound them"},
		{"expired", "node-a", now.Add(-time.Second), "bus: node credentials for node-a: the node certificate expired at 2030-01-02T03:04:04Z; the node must enrol again"},
		{"bad node", "Node/1", now.Add(time.Hour), `bus: node credentials: node id "Node/1" has 'N' at offset 0; only lowercase letters, digits and '-' are allowed`},
	}
	for _, tt := range tests {
		if _, err := b.NodeCredentials(tt.node, tt.notAfter); err == nil || err.Error() != tt.want {
			t.Errorf("%s: error = %v\nwant    %s", tt.name, err, tt.want)
		}
	}
	// The embedded bus needs none.
	if creds, err := (&Bus{}).NodeCredentials("node-a", now); creds != "" || err != nil {
		t.Errorf("embedded NodeCredentials = %q, %v; want empty, nil", creds, err)
	}
}

func TestLoadIssuerErrors(t *testing.T) {
	userKey, _ := mustKey(t, nkeys.CreateUser)
	userSeed, err := userKey.Seed()
	if err != nil {
		t.Fatal(err)
	}
	userPub, err := userKey.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	accKey, _ := mustKey(t, nkeys.CreateAccount)
	accSeed, err := accKey.Seed()
	if err != nil {
		t.Fatal(err)
	}
	missing := t.TempDir() + "/none.nk"
	empty := writeFile(t, "empty.nk", []byte("nothing here\n"))
	tests := []struct {
		name    string
		path    string
		account string
		want    string
	}{
		{"missing file", missing, "", "bus: read the NATS account seed (--nats-account-seed-file): open " + missing + ": no such file or directory"},
		{"no seed", empty, "", "bus: the NATS account seed file " + empty + " holds no nkey seed (want a seed starting with SA): no nkey seed found"},
		{"user seed", writeFile(t, "user.nk", userSeed), "", "is not an account key (its public key " + userPub + " should start with A)"},
		{"bad account", writeFile(t, "acc.nk", accSeed), "ABC", `bus: --nats-account "ABC" is not an account public key; it starts with A and has 56 characters`},
	}
	for _, tt := range tests {
		_, err := loadIssuer(tt.path, tt.account, time.Now)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v\nwant    %s", tt.name, err, tt.want)
		}
	}
}
