package main

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisadehq/palisade/console/internal/apitoken"
	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
)

// apitokenCmd manages API tokens on the console's own machine, through its data directory.
func apitokenCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{Use: "apitoken", Short: "Manage API tokens for automation (run on the console's machine)"}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "./data", "the console's data directory")
	open := func(cmd *cobra.Command) (*sqlite.Store, error) {
		return sqlite.Open(cmd.Context(), sqlite.Config{Path: filepath.Join(dataDir, "palisade.db")})
	}

	var name, role string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it once",
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			secret, t, err := apitoken.Create(cmd.Context(), st, name, r, ttl, "local-admin", time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s (%s, role %s) created; it is shown only now\n", t.ID, t.Name, t.Role)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().StringVar(&role, "role", "viewer", "admin, analyst or viewer")
	create.Flags().DurationVar(&ttl, "ttl", 0, "lifetime (0: no expiry)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			tokens, err := st.ListAPITokens(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tREVOKED")
			for _, t := range tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, stamp(t.CreatedAt), stamp(t.ExpiresAt), stamp(t.RevokedAt))
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			return apitoken.Revoke(cmd.Context(), st, args[0], "local-admin", time.Now())
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
