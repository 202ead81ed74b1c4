package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func newNodesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "nodes", Short: "List and show enrolled nodes"}
	cmd.AddCommand(newNodesListCommand(), newNodesShowCommand())
	return cmd
}

func newNodesListCommand() *cobra.Command {
	var targetType string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List enrolled nodes",
		Args:  cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringVar(&targetType, "target-type", "", "only nodes of this target type (linux, kubernetes, aws, azure, gcp)")
	cmd.RunE = withClient(format, func(cmd *cobra.Command, _ []string, c *client, f string) error {
		resp, err := c.api.ListNodes(ctx(cmd), &consolev1.ListNodesRequest{TargetType: targetType})
		if err != nil {
			return c.rpcError("list nodes", err)
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, resp)
		}
		tw := newTable(out)
		row(tw, "ID", "NAME", "TYPE", "OS", "CONNECTED", "LAST SEEN")
		for _, n := range resp.GetNodes() {
			row(tw, n.GetId(), n.GetName(), n.GetTargetType(), orDash(n.GetFacts().GetOsName()),
				yesNo(n.GetConnected()), timeText(n.GetLastSeenAt()))
		}
		return tw.Flush()
	})
	return cmd
}

func newNodesShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NODE",
		Short: "Show one node (by id or name)",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = withClient(format, func(cmd *cobra.Command, args []string, c *client, f string) error {
		n, err := c.api.GetNode(ctx(cmd), &consolev1.GetNodeRequest{Node: args[0]})
		if err != nil {
			return c.rpcError("show node", err)
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, n)
		}
		facts := n.GetFacts()
		tw := newTable(out)
		row(tw, "ID:", n.GetId())
		row(tw, "Name:", n.GetName())
		row(tw, "Type:", n.GetTargetType())
		row(tw, "Connected:", yesNo(n.GetConnected()))
		row(tw, "Hostname:", orDash(facts.GetHostname()))
		row(tw, "OS:", orDash(facts.GetOsName()))
		row(tw, "Kernel:", orDash(facts.GetKernel()))
		row(tw, "Arch:", orDash(facts.GetArch()))
		row(tw, "Sensor:", orDash(facts.GetSensorVersion()))
		row(tw, "Enrolled:", timeText(n.GetEnrolledAt()))
		row(tw, "Last seen:", timeText(n.GetLastSeenAt()))
		return tw.Flush()
	})
	return cmd
}

func newBenchmarksCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "benchmarks", Short: "List benchmarks"}
	var targetType string
	list := &cobra.Command{
		Use:   "list",
		Short: "List benchmarks, optionally of one target type",
		Args:  cobra.NoArgs,
	}
	format := addFormatFlag(list, formatTable, formatJSON)
	list.Flags().StringVar(&targetType, "target-type", "", "only benchmarks of this target type (linux, kubernetes, aws, azure, gcp)")
	list.RunE = withClient(format, func(cmd *cobra.Command, _ []string, c *client, f string) error {
		resp, err := c.api.ListBenchmarks(ctx(cmd), &consolev1.ListBenchmarksRequest{TargetType: targetType})
		if err != nil {
			return c.rpcError("list benchmarks", err)
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, resp)
		}
		tw := newTable(out)
		row(tw, "ID", "SHORT NAME", "TYPE", "VERSION", "CONTROLS", "TITLE")
		for _, b := range resp.GetBenchmarks() {
			row(tw, b.GetId(), orDash(b.GetShortName()), b.GetTargetType(), orDash(b.GetVersion()),
				strconv.FormatUint(uint64(b.GetControlCount()), 10), b.GetTitle())
		}
		return tw.Flush()
	})
	cmd.AddCommand(list)
	return cmd
}

func newControlsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "controls", Short: "List controls"}
	var benchmark, targetType string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the controls of a benchmark",
		Long: "List the controls of a benchmark. --benchmark takes a benchmark id (linux-cis) or a short\n" +
			"name (cis, gdpr, hipaa, pci-dss, soc-2, nist) together with --target-type.",
		Args: cobra.NoArgs,
	}
	format := addFormatFlag(list, formatTable, formatJSON)
	list.Flags().StringVar(&benchmark, "benchmark", "", "benchmark id or short name (required)")
	list.Flags().StringVar(&targetType, "target-type", "", "target type a short benchmark name resolves against")
	_ = list.MarkFlagRequired("benchmark")
	list.RunE = withClient(format, func(cmd *cobra.Command, _ []string, c *client, f string) error {
		resp, err := c.api.ListControls(ctx(cmd), &consolev1.ListControlsRequest{Benchmark: benchmark, TargetType: targetType})
		if err != nil {
			return c.rpcError("list controls", err)
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, resp)
		}
		tw := newTable(out)
		row(tw, "ID", "SEVERITY", "SERVICE", "TITLE")
		for _, ctl := range resp.GetControls() {
			row(tw, ctl.GetId(), ctl.GetSeverity(), orDash(ctl.GetService()), ctl.GetTitle())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%d controls\n", len(resp.GetControls()))
		return nil
	})
	cmd.AddCommand(list)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
