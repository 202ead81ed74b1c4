package bus

import (
	"crypto/tls"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/palisadehq/palisade/pkg/jobs"
)

// checkAccountsConf parses accounts.conf the way nats-server does and checks that it trusts
// exactly acc's operator and accounts, with the limits WriteAccounts promises.
func checkAccountsConf(t *testing.T, acc Accounts) {
	t.Helper()
	m, err := conf.ParseFile(acc.ConfigFile)
	if err != nil {
		t.Fatalf("accounts.conf: %v", err)
	}
	keys := slices.Sorted(maps.Keys(m))
	if want := []string{"operator", "resolver", "resolver_preload", "system_account"}; !slices.Equal(keys, want) {
		t.Fatalf("accounts.conf keys %v; want %v", keys, want)
	}
	if m["resolver"] != "MEMORY" || m["system_account"] != acc.SystemAccount {
		t.Errorf("resolver %v, system_account %v; want MEMORY, %s", m["resolver"], m["system_account"], acc.SystemAccount)
	}
	op, err := jwt.DecodeOperatorClaims(m["operator"].(string))
	if err != nil {
		t.Fatalf("operator JWT: %v", err)
	}
	if op.Subject != acc.Operator || op.Issuer != acc.Operator || op.Name != "palisade" || op.SystemAccount != acc.SystemAccount {
		t.Errorf("operator JWT: subject %s, issuer %s, name %q, system account %s; want %s self-signed, palisade, %s",
			op.Subject, op.Issuer, op.Name, op.SystemAccount, acc.Operator, acc.SystemAccount)
	}
	preload := m["resolver_preload"].(map[string]any)
	if got, want := slices.Sorted(maps.Keys(preload)), slices.Sorted(slices.Values([]string{acc.SystemAccount, acc.Account})); !slices.Equal(got, want) {
		t.Fatalf("resolver_preload accounts %v; want %v", got, want)
	}
	unlimited := jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	for pub, want := range map[string]struct {
		name string
		js   jwt.JetStreamLimits
	}{
		acc.SystemAccount: {"SYS", jwt.JetStreamLimits{}},
		acc.Account:       {"PALISADE", unlimited},
	} {
		ac, err := jwt.DecodeAccountClaims(preload[pub].(string))
		if err != nil {
			t.Fatalf("account JWT of %s: %v", pub, err)
		}
		if ac.Subject != pub || ac.Issuer != acc.Operator || ac.Name != want.name || ac.Limits.JetStreamLimits != want.js || len(ac.SigningKeys) != 0 {
			t.Errorf("account JWT of %s: subject %s, issuer %s, name %q, JetStream %+v, signing keys %v; want itself, %s, %q, %+v, none",
				pub, ac.Subject, ac.Issuer, ac.Name, ac.Limits.JetStreamLimits, ac.SigningKeys, acc.Operator, want.name, want.js)
		}
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// seedPublicKey reads a seed file and returns its public key.
func seedPublicKey(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := jwt.ParseDecoratedNKey(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestWriteAccounts creates the operator and accounts, runs again to keep them, then starts
// a NATS server from a configuration that includes accounts.conf (with client certificates
// of the console CA, as the compose deployment does) and checks that the console, using only
// the account seed, issues a node credentials that get it its own jobs and nothing of another
// node's.
func TestWriteAccounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	first, err := WriteAccounts(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Accounts{
		Operator:              first.Operator,
		SystemAccount:         first.SystemAccount,
		Account:               first.Account,
		OperatorSeedFile:      filepath.Join(dir, "operator.nk"),
		SystemAccountSeedFile: filepath.Join(dir, "system-account.nk"),
		AccountSeedFile:       filepath.Join(dir, "account.nk"),
		ConfigFile:            filepath.Join(dir, "accounts.conf"),
		Created:               []string{filepath.Join(dir, "operator.nk"), filepath.Join(dir, "system-account.nk"), filepath.Join(dir, "account.nk")},
	}
	if first.OperatorSeedFile != want.OperatorSeedFile || first.SystemAccountSeedFile != want.SystemAccountSeedFile ||
		first.AccountSeedFile != want.AccountSeedFile || first.ConfigFile != want.ConfigFile || !slices.Equal(first.Created, want.Created) {
		t.Fatalf("first run: %+v\nwant %+v", first, want)
	}
	if !nkeys.IsValidPublicOperatorKey(first.Operator) || !nkeys.IsValidPublicAccountKey(first.SystemAccount) ||
		!nkeys.IsValidPublicAccountKey(first.Account) || first.SystemAccount == first.Account {
		t.Fatalf("keys: operator %s, system account %s, account %s; want an operator key and two different account keys", first.Operator, first.SystemAccount, first.Account)
	}
	seeds := map[string][]byte{}
	for path, pub := range map[string]string{first.OperatorSeedFile: first.Operator, first.SystemAccountSeedFile: first.SystemAccount, first.AccountSeedFile: first.Account} {
		if got := seedPublicKey(t, path); got != pub {
			t.Errorf("%s holds the seed of %s; want %s", path, got, pub)
		}
		if m := fileMode(t, path); m != 0o600 {
			t.Errorf("%s mode %v; want 0600", path, m)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		seeds[path] = data
	}
	if m := fileMode(t, first.ConfigFile); m != 0o644 {
		t.Errorf("accounts.conf mode %v; want 0644", m)
	}
	checkAccountsConf(t, first)
	confData, err := os.ReadFile(first.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	for path, seed := range seeds {
		if strings.Contains(string(confData), strings.TrimSpace(string(seed))) {
			t.Errorf("accounts.conf contains the seed of %s", path)
		}
	}

	// Again, over a damaged accounts.conf: the same identities, the seeds untouched, the
	// configuration written anew.
	if err := os.WriteFile(first.ConfigFile, []byte("damaged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := WriteAccounts(dir)
	if err != nil {
		t.Fatal(err)
	}
	want.Created = nil
	if second.Operator != want.Operator || second.SystemAccount != want.SystemAccount || second.Account != want.Account ||
		second.OperatorSeedFile != want.OperatorSeedFile || second.SystemAccountSeedFile != want.SystemAccountSeedFile ||
		second.AccountSeedFile != want.AccountSeedFile || second.ConfigFile != want.ConfigFile || len(second.Created) != 0 {
		t.Fatalf("second run: %+v\nwant %+v", second, want)
	}
	for path, seed := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != string(seed) {
			t.Errorf("%s changed on the second run", path)
		}
	}
	checkAccountsConf(t, second)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"account.nk", "accounts.conf", "operator.nk", "system-account.nk"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %v; want %v (no temporary files)", names, want)
	}

	// A server configuration beside accounts.conf includes it by a relative path.
	serverConf := filepath.Join(dir, "nats-server.conf")
	confText := "port: -1\njetstream {\n  store_dir: \"" + filepath.Join(t.TempDir(), "js") + "\"\n}\ninclude \"accounts.conf\"\n"
	if err := os.WriteFile(serverConf, []byte(confText), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(serverConf)
	if err != nil {
		t.Fatalf("server configuration with accounts.conf: %v", err)
	}
	if len(opts.TrustedOperators) != 1 || opts.TrustedOperators[0].Subject != first.Operator || opts.SystemAccount != first.SystemAccount || !opts.JetStream {
		t.Fatalf("server options: %d trusted operators, system account %s, JetStream %v; want operator %s, %s, JetStream",
			len(opts.TrustedOperators), opts.SystemAccount, opts.JetStream, first.Operator, first.SystemAccount)
	}
	a := newAuthority(t)
	tlsCfg := a.ServerTLSConfig()
	tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
	opts.Host, opts.NoSigs = "127.0.0.1", true
	opts.TLS, opts.TLSVerify, opts.TLSConfig, opts.TLSTimeout = true, true, tlsCfg, 5
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetLoggerV2(&serverLogger{log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)).Sugar()}, false, false, false)
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(waitTimeout) {
		t.Fatal("the NATS server did not start")
	}

	consoleCert, err := a.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	consoleTLS := &tls.Config{RootCAs: a.CAPool(), Certificates: []tls.Certificate{consoleCert}, MinVersion: tls.VersionTLS12}
	// A certificate alone is not enough in operator mode.
	if nc, err := nats.Connect(srv.ClientURL(), nats.Secure(consoleTLS)); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connecting with a certificate and no credentials: %v; want %v", err, nats.ErrAuthorization)
	}
	b, err := Start(ctxT(t), Config{
		ExternalURL:     srv.ClientURL(),
		ExternalTLS:     consoleTLS,
		AccountSeedFile: second.AccountSeedFile,
		Logger:          zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatalf("console on the server with accounts.conf: %v", err)
	}
	t.Cleanup(b.Close)
	ctx := ctxT(t)
	n := connectClusterNode(t, a, b, "node-a", []string{srv.ClientURL()})
	r, _ := subscribe(t, n, "node-a")
	for _, id := range []string{"node-a", "node-b"} {
		if err := b.PublishJob(ctx, job(id, "scan-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	if got := receive(t, r.ch, "node-a's job"); got != "scan-node-a" {
		t.Fatalf("node-a received %q; want scan-node-a", got)
	}
	r.mu.Lock()
	got := slices.Clone(r.jobs)
	r.mu.Unlock()
	if !slices.Equal(got, []string{"scan-node-a"}) {
		t.Errorf("node-a received %v; want exactly [scan-node-a]", got)
	}
	if msgs := storedJobs(t, b, "node-b"); msgs != 1 {
		t.Errorf("node-b: %d jobs stored; want 1", msgs)
	}

	if _, err := n.nc.SubscribeSync(jobs.JobSubject("node-b")); err != nil {
		t.Fatal(err)
	}
	if err := n.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	err = receive(t, n.errs, "a permissions violation for node-b's jobs")
	if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), `Subscription to "palisade.jobs.node-b"`) {
		t.Errorf("node-a subscribing to node-b's jobs: %v; want a permissions violation for palisade.jobs.node-b", err)
	}
}

func TestWriteAccountsErrors(t *testing.T) {
	seedOf := func(create func() (nkeys.KeyPair, error)) ([]byte, string) {
		kp, pub := mustKey(t, create)
		seed, err := kp.Seed()
		if err != nil {
			t.Fatal(err)
		}
		return seed, pub
	}
	accSeed, accPub := seedOf(nkeys.CreateAccount)
	opSeed, opPub := seedOf(nkeys.CreateOperator)
	userSeed, userPub := seedOf(nkeys.CreateUser)
	decorated, err := jwt.DecorateSeed(opSeed)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		files map[string][]byte
		want  string // with {dir} for the directory: braces never occur in an nkey, so a random key cannot collide with it
	}{
		{
			name:  "account seed as the operator",
			files: map[string][]byte{"operator.nk": accSeed},
			want:  "bus: NATS accounts: {dir}/operator.nk holds the seed of an account key (public key " + accPub + "), not of the operator (an operator key); restore the right file, or move it away to create a new operator",
		},
		{
			name:  "operator seed as the Palisade account",
			files: map[string][]byte{"account.nk": decorated},
			want:  "bus: NATS accounts: {dir}/account.nk holds the seed of an operator key (public key " + opPub + "), not of the Palisade account (an account key); restore the right file, or move it away to create a new Palisade account",
		},
		{
			name:  "user seed as the system account",
			files: map[string][]byte{"system-account.nk": userSeed},
			want:  "bus: NATS accounts: {dir}/system-account.nk holds the seed of a user key (public key " + userPub + "), not of the system account (an account key); restore the right file, or move it away to create a new system account",
		},
		{
			name:  "no seed",
			files: map[string][]byte{"account.nk": []byte("not a seed\n")},
			want:  "bus: NATS accounts: {dir}/account.nk holds no nkey seed (no nkey seed found); restore the Palisade account seed, or move the file away to create a new Palisade account",
		},
		{
			name:  "one account twice",
			files: map[string][]byte{"system-account.nk": accSeed, "account.nk": accSeed},
			want:  "bus: NATS accounts: {dir}/system-account.nk and {dir}/account.nk hold the same account " + accPub + "; the system account and the Palisade account must differ: restore the right seed, or move {dir}/system-account.nk away to create a new system account",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := WriteAccounts(dir)
			if want := strings.ReplaceAll(tt.want, "{dir}", dir); err == nil || err.Error() != want {
				t.Fatalf("error = %v\nwant    %s", err, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "accounts.conf")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("accounts.conf after the error: %v; want none", err)
			}
			for name, data := range tt.files {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(data) {
					t.Errorf("%s was changed", name)
				}
			}
		})
	}

	if _, err := WriteAccounts(""); err == nil || err.Error() != "bus: NATS accounts: a directory is required" {
		t.Errorf("empty directory: error = %v", err)
	}
}
