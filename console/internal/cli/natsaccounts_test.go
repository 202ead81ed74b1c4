package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/console/internal/bus"
)

// TestNATSAccountsCommand runs `nats-accounts` twice: the first run creates the three seeds,
// the second keeps them, and both print the keys, the include line and the console flag.
func TestNATSAccountsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats-accounts")
	run := func(args ...string) (string, error) {
		cmd := NewNATSAccountsCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	want := func(state string) string {
		// The keys of the seeds the command wrote: loading them again keeps them.
		keys, err := bus.WriteAccounts(dir)
		if err != nil || len(keys.Created) != 0 {
			t.Fatalf("reading the seeds back: %v (created %v)", err, keys.Created)
		}
		op, sys, acc := keys.Operator, keys.SystemAccount, keys.Account
		return "" +
			"NATS operator and accounts in " + dir + ":\n" +
			"  operator          " + op + "  " + state + " operator.nk\n" +
			"  system account    " + sys + "  " + state + " system-account.nk\n" +
			"  Palisade account  " + acc + "  " + state + " account.nk\n" +
			"wrote " + dir + "/accounts.conf (the operator and account JWTs, no seeds)\n" +
			"\n" +
			"NATS servers: include accounts.conf in every server's configuration, by a path relative to\n" +
			"that configuration file's directory (nats-server joins include paths onto it, so an\n" +
			"absolute path does not work). With the file beside the configuration:\n" +
			"  include \"accounts.conf\"\n" +
			"Consoles: give every replica, besides --nats-url:\n" +
			"  --nats-account-seed-file " + dir + "/account.nk\n" +
			"It is the account's own seed, so --nats-account is not needed. The consoles need only\n" +
			"account.nk; keep operator.nk and system-account.nk, private, to run this command again.\n"
	}

	out, err := run("--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	first := want("created")
	if out != first {
		t.Errorf("first run printed\n%s\nwant\n%s", out, first)
	}
	out, err = run("--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if second := want("kept"); out != second {
		t.Errorf("second run printed\n%s\nwant\n%s", out, second)
	}
	if second := strings.ReplaceAll(first, "created", "kept"); out != second {
		t.Errorf("the second run shows other keys than the first:\n%s\nfirst\n%s", out, first)
	}

	// A relative --dir is reported as the absolute path the consoles need.
	t.Chdir(filepath.Dir(dir))
	out, err = run("--dir", filepath.Base(dir))
	if err != nil {
		t.Fatal(err)
	}
	if second := want("kept"); out != second {
		t.Errorf("run with a relative --dir printed\n%s\nwant\n%s", out, second)
	}

	if _, err := run(); err == nil || err.Error() != `required flag(s) "dir" not set` {
		t.Errorf("without --dir: error = %v", err)
	}
	if _, err := run("--dir", filepath.Join(dir, "operator.nk")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("--dir naming a file: error = %v; want one saying it is not a directory", err)
	}
}
