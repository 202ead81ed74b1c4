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
	cmd := &cobra.Command{Use: "controls", Short: "List and show controls, and a control's history on a node"}
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
	cmd.AddCommand(list, newControlsShowCommand(), newControlsHistoryCommand())
	return cmd
}

func newControlsShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show CONTROL",
		Short: "Show one control: what it checks, why, how to fix it, and the requirements it tests",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = withClient(format, func(cmd *cobra.Command, args []string, c *client, f string) error {
		ctl, err := c.api.GetControl(ctx(cmd), &consolev1.GetControlRequest{ControlId: args[0]})
		if err != nil {
			return c.rpcError("show control", err)
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, ctl)
		}
		tw := newTable(out)
		row(tw, "ID:", ctl.GetId())
		row(tw, "Title:", ctl.GetTitle())
		row(tw, "Type:", ctl.GetTargetType())
		row(tw, "Severity:", ctl.GetSeverity())
		row(tw, "Service:", orDash(ctl.GetService()))
		row(tw, "Description:", orDash(ctl.GetDescription()))
		row(tw, "Rationale:", orDash(ctl.GetRationale()))
		row(tw, "Remediation:", orDash(ctl.GetRemediation()))
		for i, r := range ctl.GetReferences() {
			label := ""
			if i == 0 {
				label = "References:"
			}
			row(tw, label, r.GetBenchmarkId()+" "+r.GetRequirementId())
		}
		return tw.Flush()
	})
	return cmd
}

func newControlsHistoryCommand() *cobra.Command {
	var (
		node  string
		limit uint32
	)
	cmd := &cobra.Command{
		Use:   "history CONTROL",
		Short: "Show a control's results on one node over its scans, newest first",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringVar(&node, "node", "", "node id or name (required)")
	cmd.Flags().Uint32Var(&limit, "limit", 0, "most scans to show (0: the console's default of 50; at most 1000)")
	_ = cmd.MarkFlagRequired("node")
	cmd.RunE = withClient(format, func(cmd *cobra.Command, args []string, c *client, f string) error {
		resp, err := c.api.ListControlHistory(ctx(cmd), &consolev1.ListControlHistoryRequest{Node: node, ControlId: args[0], Limit: limit})
		if err != nil {
			return c.rpcError("control history", err)
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, resp)
		}
		tw := newTable(out)
		row(tw, "SCAN", "STATE", "CREATED", "STATUS", "RESOURCE", "REASON")
		for _, e := range resp.GetEntries() {
			row(tw, e.GetScanId(), stateText(e.GetScanState()), timeText(e.GetScanCreatedAt()), statusText(e.GetStatus()),
				orDash(e.GetResource()), orDash(truncate(e.GetReason(), reasonWidth)))
		}
		return tw.Flush()
	})
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
