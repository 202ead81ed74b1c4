package cli

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/palisadehq/palisade/console/internal/bus"
)

// NewNATSAccountsCommand returns `nats-accounts`, which prepares an external NATS cluster for
// per-node credentials without nsc: it creates (or keeps) the operator, system account and
// Palisade account seeds in a directory and writes the accounts.conf the servers include. It
// works on files only and does not talk to a console.
func NewNATSAccountsCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "nats-accounts --dir DIR",
		Short: "Create the NATS operator and accounts for an external cluster (per-node credentials, no nsc needed)",
		Long: "Creates, or keeps when they exist, the nkey seeds of a NATS operator, its system account and the\n" +
			"Palisade account in DIR (" + bus.OperatorSeedFile + ", " + bus.SystemAccountSeedFile + ", " + bus.AccountSeedFile + ", mode 0600), and writes\n" +
			"DIR/" + bus.AccountsConfFile + " (the JWTs only) for the NATS servers to include. Consoles given\n" +
			"--nats-account-seed-file DIR/" + bus.AccountSeedFile + " then issue every node credentials for its own subjects.\n" +
			"Running it again keeps the same identities and rewrites " + bus.AccountsConfFile + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return fmt.Errorf("nats-accounts: --dir %s: %w", dir, err)
			}
			acc, err := bus.WriteAccounts(abs)
			if err != nil {
				return err
			}
			printAccounts(cmd, acc)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the seeds and accounts.conf (created if missing)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// printAccounts tells what WriteAccounts made and how the servers and consoles use it.
func printAccounts(cmd *cobra.Command, acc bus.Accounts) {
	out := cmd.OutOrStdout()
	state := func(path string) string {
		if slices.Contains(acc.Created, path) {
			return "created"
		}
		return "kept"
	}
	fmt.Fprintf(out, "NATS operator and accounts in %s:\n", filepath.Dir(acc.ConfigFile))
	fmt.Fprintf(out, "  operator          %s  %s %s\n", acc.Operator, state(acc.OperatorSeedFile), filepath.Base(acc.OperatorSeedFile))
	fmt.Fprintf(out, "  system account    %s  %s %s\n", acc.SystemAccount, state(acc.SystemAccountSeedFile), filepath.Base(acc.SystemAccountSeedFile))
	fmt.Fprintf(out, "  Palisade account  %s  %s %s\n", acc.Account, state(acc.AccountSeedFile), filepath.Base(acc.AccountSeedFile))
	fmt.Fprintf(out, "wrote %s (the operator and account JWTs, no seeds)\n", acc.ConfigFile)
	fmt.Fprintf(out, "\nNATS servers: include %s in every server's configuration, by a path relative to\n", filepath.Base(acc.ConfigFile))
	fmt.Fprintf(out, "that configuration file's directory (nats-server joins include paths onto it, so an\n")
	fmt.Fprintf(out, "absolute path does not work). With the file beside the configuration:\n")
	fmt.Fprintf(out, "  include %q\n", filepath.Base(acc.ConfigFile))
	fmt.Fprintf(out, "Consoles: give every replica, besides --nats-url:\n")
	fmt.Fprintf(out, "  --nats-account-seed-file %s\n", acc.AccountSeedFile)
	fmt.Fprintf(out, "It is the account's own seed, so --nats-account is not needed. The consoles need only\n")
	fmt.Fprintf(out, "%s; keep %s and %s, private, to run this command again.\n", filepath.Base(acc.AccountSeedFile), filepath.Base(acc.OperatorSeedFile), filepath.Base(acc.SystemAccountSeedFile))
}
