package cli

import (
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create enrolment tokens for sensors"}
	var (
		ttl  time.Duration
		uses uint32
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an enrolment token a sensor enrols with",
		Long: "Create a short-lived enrolment token. A sensor presents it once to enrol and get its\n" +
			"client certificate. The secret is shown only now.",
		Args: cobra.NoArgs,
	}
	format := addFormatFlag(create, formatTable, formatJSON)
	create.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token stays valid (whole seconds)")
	create.Flags().Uint32Var(&uses, "uses", 1, "how many enrolments the token allows")
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
		if f == formatJSON {
			return writeJSON(out, tok)
		}
		tw := newTable(out)
		row(tw, "Token:", tok.GetToken())
		row(tw, "ID:", tok.GetId())
		row(tw, "Expires:", timeText(tok.GetExpiresAt()))
		row(tw, "Uses:", fmt.Sprintf("%d of %d used", tok.GetUsed(), tok.GetUses()))
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "The token is shown only now; give it to the sensors that should enrol.")
		return nil
	}
	cmd.AddCommand(create)
	return cmd
}
