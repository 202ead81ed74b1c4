package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/spf13/cobra"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke the enrolment tokens sensors enrol with (admin)"}
	cmd.AddCommand(newTokenCreateCommand(), newTokenListCommand(), newTokenRevokeCommand())
	return cmd
}

func newTokenCreateCommand() *cobra.Command {
	var (
		ttl       time.Duration
		uses      uint32
		daemonset bool
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an enrolment token a sensor enrols with",
		Long: "Create a short-lived enrolment token. A sensor presents it once to enrol and get its\n" +
			"client certificate. The secret is shown only now, with the command that enrols a host's\n" +
			"sensor. With --daemonset, print instead a Kubernetes manifest that runs an enrolling sensor\n" +
			"on every node (give the token as many --uses as the cluster has nodes).",
		Example: "  palisade-console token create --uses 50 --ttl 2h --daemonset | kubectl apply -f -",
		Args:    cobra.NoArgs,
	}
	format := addFormatFlag(create, formatTable, formatJSON)
	create.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token stays valid (whole seconds)")
	create.Flags().Uint32Var(&uses, "uses", 1, "how many enrolments the token allows")
	create.Flags().BoolVar(&daemonset, "daemonset", false, "print only the Kubernetes DaemonSet manifest that enrols with the token")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		if ttl < time.Second || ttl%time.Second != 0 || ttl/time.Second > math.MaxUint32 {
			return fmt.Errorf("--ttl %s: want a whole number of seconds from 1s to %ds, e.g. 1h or 15m", ttl, uint32(math.MaxUint32))
		}
		if uses == 0 {
			return fmt.Errorf("--uses must be at least 1")
		}
		if daemonset && f == formatJSON {
			return fmt.Errorf("--daemonset prints a YAML manifest; leave out --format json")
		}
		c, err := connect(cmd)
		if err != nil {
			return err
		}
		defer c.Close()
		tok, err := c.api.CreateEnrolmentToken(ctx(cmd), &consolev1.CreateEnrolmentTokenRequest{
			TtlSeconds: uint32(ttl / time.Second), Uses: uses,
		})
		if err != nil {
			return c.rpcError("create enrolment token", err)
		}
		out := cmd.OutOrStdout()
		switch {
		case daemonset && tok.GetDaemonsetSnippet() == "":
			return fmt.Errorf("the console did not return a DaemonSet manifest (it does not know the address sensors reach it at); token %s was created anyway", tok.GetId())
		case daemonset:
			_, err := io.WriteString(out, tok.GetDaemonsetSnippet())
			return err
		case f == formatJSON:
			return writeJSON(out, tok)
		}
		tw := newTable(out)
		row(tw, "Token:", tok.GetToken())
		row(tw, "ID:", tok.GetId())
		row(tw, "Expires:", timeText(tok.GetExpiresAt()))
		row(tw, "Uses:", fmt.Sprintf("%d of %d used", tok.GetUsed(), tok.GetUses()))
		if tok.GetSensorCommand() != "" {
			row(tw, "Enrol a host:", tok.GetSensorCommand())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "The token is shown only now; give it to the sensors that should enrol.")
		return nil
	}
	return create
}

func newTokenListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List enrolment tokens (never their secrets)",
		Args:  cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "list enrolment tokens", func(ctx context.Context, api consolev1.ConsoleServiceClient, _ []string) (*consolev1.ListEnrolmentTokensResponse, error) {
		return api.ListEnrolmentTokens(ctx, &consolev1.ListEnrolmentTokensRequest{})
	}, func(w io.Writer, resp *consolev1.ListEnrolmentTokensResponse) error {
		tw := newTable(w)
		row(tw, "ID", "USED", "CREATED", "CREATED BY", "EXPIRES", "REVOKED")
		for _, t := range resp.GetTokens() {
			row(tw, t.GetId(), fmt.Sprintf("%d/%d", t.GetUsed(), t.GetUses()), timeText(t.GetCreatedAt()),
				orDash(t.GetCreatedBy()), timeText(t.GetExpiresAt()), timeText(t.GetRevokedAt()))
		}
		return tw.Flush()
	})
	return cmd
}

func newTokenRevokeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an enrolment token so no further sensor enrols with it",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "revoke enrolment token", func(ctx context.Context, api consolev1.ConsoleServiceClient, args []string) (*consolev1.EnrolmentToken, error) {
		return api.RevokeEnrolmentToken(ctx, &consolev1.RevokeEnrolmentTokenRequest{Id: args[0]})
	}, func(w io.Writer, t *consolev1.EnrolmentToken) error {
		_, err := fmt.Fprintf(w, "Enrolment token %s revoked at %s (%d of %d uses used)\n",
			t.GetId(), timeText(t.GetRevokedAt()), t.GetUsed(), t.GetUses())
		return err
	})
	return cmd
}
