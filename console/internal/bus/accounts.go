package bus

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/palisadehq/palisade/pkg/atomicfile"
)

// Files WriteAccounts keeps in its directory.
const (
	// OperatorSeedFile holds the operator's nkey seed (SO...), which signs the account JWTs.
	OperatorSeedFile = "operator.nk"
	// SystemAccountSeedFile holds the seed of the NATS system account (SA...).
	SystemAccountSeedFile = "system-account.nk"
	// AccountSeedFile holds the seed of the Palisade account (SA...): the console's
	// --nats-account-seed-file.
	AccountSeedFile = "account.nk"
	// AccountsConfFile is the NATS server configuration fragment with the operator and
	// account JWTs, for the servers to include.
	AccountsConfFile = "accounts.conf"
)

// Names written into the JWTs.
const (
	operatorName      = "palisade"
	systemAccountName = "SYS"
	accountName       = "PALISADE"
)

// Accounts describes the NATS operator and accounts WriteAccounts made or found.
type Accounts struct {
	// Operator, SystemAccount and Account are the public keys (O..., A..., A...).
	Operator      string
	SystemAccount string
	Account       string
	// OperatorSeedFile, SystemAccountSeedFile and AccountSeedFile are the seed files' paths.
	OperatorSeedFile      string
	SystemAccountSeedFile string
	AccountSeedFile       string
	// ConfigFile is the path of accounts.conf.
	ConfigFile string
	// Created lists the seed files this call created, in the order above; the others
	// existed and were kept.
	Created []string
}

// WriteAccounts prepares a NATS cluster for operator (JWT) mode without nsc. In dir (created
// if missing) it loads the nkey seeds of an operator, a system account and the Palisade
// account from OperatorSeedFile, SystemAccountSeedFile and AccountSeedFile, creating each one
// that is missing (mode 0600), so running it again keeps the same identities. It then signs
// the account JWTs with the operator and writes AccountsConfFile (mode 0644): the operator
// JWT, the system account and a memory resolver preloaded with both accounts, the Palisade
// account with JetStream unlimited on disk and in memory. The file holds no seeds; the NATS
// servers include it. The console uses AccountSeedFile to issue each node its credentials.
func WriteAccounts(dir string) (Accounts, error) {
	if dir == "" {
		return Accounts{}, errors.New("bus: NATS accounts: a directory is required")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Accounts{}, fmt.Errorf("bus: NATS accounts: %w", err)
	}
	acc := Accounts{
		OperatorSeedFile:      filepath.Join(dir, OperatorSeedFile),
		SystemAccountSeedFile: filepath.Join(dir, SystemAccountSeedFile),
		AccountSeedFile:       filepath.Join(dir, AccountSeedFile),
		ConfigFile:            filepath.Join(dir, AccountsConfFile),
	}
	load := func(path, role string, kind nkeys.PrefixByte) (nkeys.KeyPair, string, error) {
		kp, created, err := loadOrCreateSeed(path, role, kind)
		if err != nil {
			return nil, "", err
		}
		if created {
			acc.Created = append(acc.Created, path)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, "", fmt.Errorf("bus: NATS accounts: %s: %w", path, err)
		}
		return kp, pub, nil
	}
	opKey, opPub, err := load(acc.OperatorSeedFile, "operator", nkeys.PrefixByteOperator)
	if err != nil {
		return Accounts{}, err
	}
	_, sysPub, err := load(acc.SystemAccountSeedFile, "system account", nkeys.PrefixByteAccount)
	if err != nil {
		return Accounts{}, err
	}
	_, appPub, err := load(acc.AccountSeedFile, "Palisade account", nkeys.PrefixByteAccount)
	if err != nil {
		return Accounts{}, err
	}
	if sysPub == appPub {
		return Accounts{}, fmt.Errorf("bus: NATS accounts: %s and %s hold the same account %s; the system account and the Palisade account must differ: restore the right seed, or move %s away to create a new system account", acc.SystemAccountSeedFile, acc.AccountSeedFile, sysPub, acc.SystemAccountSeedFile)
	}
	acc.Operator, acc.SystemAccount, acc.Account = opPub, sysPub, appPub

	conf, err := accountsConf(opKey, opPub, sysPub, appPub)
	if err != nil {
		return Accounts{}, err
	}
	if err := writeFileAtomic(acc.ConfigFile, []byte(conf), 0o644); err != nil {
		return Accounts{}, err
	}
	return acc, nil
}

// accountsConf signs the operator and account JWTs and returns the server configuration
// fragment that trusts them.
func accountsConf(opKey nkeys.KeyPair, opPub, sysPub, appPub string) (string, error) {
	op := jwt.NewOperatorClaims(opPub)
	op.Name = operatorName
	op.SystemAccount = sysPub
	opJWT, err := op.Encode(opKey)
	if err != nil {
		return "", fmt.Errorf("bus: NATS accounts: sign the operator JWT: %w", err)
	}
	sys := jwt.NewAccountClaims(sysPub)
	sys.Name = systemAccountName
	sysJWT, err := sys.Encode(opKey)
	if err != nil {
		return "", fmt.Errorf("bus: NATS accounts: sign the system account JWT: %w", err)
	}
	app := jwt.NewAccountClaims(appPub)
	app.Name = accountName
	// The jobs stream is on disk and bounds itself by age; nothing is capped here.
	app.Limits.JetStreamLimits = jwt.JetStreamLimits{
		DiskStorage:   jwt.NoLimit,
		MemoryStorage: jwt.NoLimit,
		Streams:       jwt.NoLimit,
		Consumer:      jwt.NoLimit,
	}
	appJWT, err := app.Encode(opKey)
	if err != nil {
		return "", fmt.Errorf("bus: NATS accounts: sign the %s account JWT: %w", accountName, err)
	}
	var b strings.Builder
	b.WriteString("# Written by `palisade-console nats-accounts`: the NATS operator, its system account and\n")
	b.WriteString("# the Palisade account, as JWTs (no seeds). Include this file from every NATS server's\n")
	b.WriteString("# configuration by a path relative to that file's directory. Running the command again\n")
	b.WriteString("# rewrites it with the same identities.\n")
	fmt.Fprintf(&b, "operator: %q\n", opJWT)
	fmt.Fprintf(&b, "system_account: %q\n", sysPub)
	b.WriteString("resolver: MEMORY\n")
	b.WriteString("resolver_preload: {\n")
	fmt.Fprintf(&b, "  # %s\n  %q: %q\n", systemAccountName, sysPub, sysJWT)
	fmt.Fprintf(&b, "  # %s\n  %q: %q\n", accountName, appPub, appJWT)
	b.WriteString("}\n")
	return b.String(), nil
}

// loadOrCreateSeed reads the nkey seed of kind in path (bare or decorated), or creates one
// there when the file does not exist; created tells which. role names the key in messages.
func loadOrCreateSeed(path, role string, kind nkeys.PrefixByte) (kp nkeys.KeyPair, created bool, err error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		kp, err := nkeys.CreatePair(kind)
		if err != nil {
			return nil, false, fmt.Errorf("bus: NATS accounts: create the %s key: %w", role, err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, false, fmt.Errorf("bus: NATS accounts: create the %s key: %w", role, err)
		}
		if err := writeFileAtomic(path, append(seed, '\n'), 0o600); err != nil {
			return nil, false, err
		}
		return kp, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("bus: NATS accounts: read the %s seed: %w", role, err)
	}
	kp, err = jwt.ParseDecoratedNKey(data)
	if err != nil {
		return nil, false, fmt.Errorf("bus: NATS accounts: %s holds no nkey seed (%v); restore the %s seed, or move the file away to create a new %s", path, err, role, role)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, false, fmt.Errorf("bus: NATS accounts: %s: %w", path, err)
	}
	if got := nkeys.Prefix(pub); got != kind {
		return nil, false, fmt.Errorf("bus: NATS accounts: %s holds the seed of %s key (public key %s), not of the %s (%s key); restore the right file, or move it away to create a new %s", path, keyKind(got), pub, role, keyKind(kind), role)
	}
	return kp, false, nil
}

// keyKind names a kind of nkey, with its article, for messages.
func keyKind(kind nkeys.PrefixByte) string {
	switch kind {
	case nkeys.PrefixByteOperator:
		return "an operator"
	case nkeys.PrefixByteAccount:
		return "an account"
	case nkeys.PrefixByteUser:
		return "a user"
	case nkeys.PrefixByteServer:
		return "a server"
	case nkeys.PrefixByteCluster:
		return "a cluster"
	}
	return "an unknown"
}

// writeFileAtomic writes data to path with mode perm through a temporary file in the same
// directory and a rename, so a reader sees the old content or the new, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("bus: NATS accounts: write %s: %w", path, err)
	}
	return nil
}
