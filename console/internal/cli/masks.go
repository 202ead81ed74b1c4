package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func newMasksCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "masks",
		Short: "List, create and remove masks",
		Long: "A mask leaves the results of one control (on every node or on given nodes), or one result\n" +
			"(a control's resource on one node), out of scores and default views, without deleting them.\n" +
			"It applies to stored and later scans until it is removed or expires.",
	}
	cmd.AddCommand(newMasksListCommand(), newMasksCreateCommand(), newMasksRemoveCommand())
	return cmd
}

func newMasksListCommand() *cobra.Command {
	var (
		control, node string
		all           bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the active masks (with --all, removed and expired ones too)",
		Args:  cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringVar(&control, "control", "", "only masks of this control id")
	cmd.Flags().StringVar(&node, "node", "", "only masks covering this node (id or name), the global ones included")
	cmd.Flags().BoolVar(&all, "all", false, "also list removed and expired masks")
	cmd.RunE = callRunE(format, "list masks", func(ctx context.Context, api consolev1.ConsoleServiceClient, _ []string) (*consolev1.ListMasksResponse, error) {
		return api.ListMasks(ctx, &consolev1.ListMasksRequest{ControlId: control, Node: node, IncludeInactive: all})
	}, func(w io.Writer, resp *consolev1.ListMasksResponse) error {
		tw := newTable(w)
		row(tw, "ID", "CONTROL", "NODES", "RESOURCE", "STATE", "EXPIRES", "CREATED BY", "REASON")
		for _, m := range resp.GetMasks() {
			row(tw, m.GetId(), m.GetControlId(), maskNodes(m), orDash(m.GetResource()), maskState(m),
				timeText(m.GetExpiresAt()), orDash(m.GetCreatedBy()), truncate(m.GetReason(), reasonWidth))
		}
		return tw.Flush()
	})
	return cmd
}

// maskNodes is the node ids a mask covers, or "all".
func maskNodes(m *consolev1.Mask) string {
	if len(m.GetNodeIds()) == 0 {
		return "all"
	}
	return strings.Join(m.GetNodeIds(), ",")
}

// maskState is active, removed or expired.
func maskState(m *consolev1.Mask) string {
	switch {
	case m.GetActive():
		return "active"
	case m.GetRemovedAt() != nil:
		return "removed"
	default:
		return "expired"
	}
}

func newMasksCreateCommand() *cobra.Command {
	var (
		control, resource, reason, expires string
		nodes                              []string
		lifetime                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Mask a control (on every node or on given nodes) or one result",
		Long: "Mask a control on every node, on the nodes given with --node, or, with --resource and one\n" +
			"--node, one result. The scores of the scans it touches are recounted at once.",
		Example: "  palisade-console masks create --control linux.ssh.x11-forwarding --node web-1 \\\n" +
			"      --reason \"X11 is needed on this jump host\" --for 720h",
		Args: cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringVar(&control, "control", "", "control id to mask (required)")
	cmd.Flags().StringSliceVar(&nodes, "node", nil, "node id or name the mask covers (repeat or separate with commas; default: every node)")
	cmd.Flags().StringVar(&resource, "resource", "", "mask only this resource of the control (needs exactly one --node)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the control or result does not apply (required)")
	cmd.Flags().StringVar(&expires, "expires", "", "when the mask ends, RFC 3339 (e.g. 2027-01-31T00:00:00Z); default: never")
	cmd.Flags().DurationVar(&lifetime, "for", 0, "how long the mask lasts from now, e.g. 720h (instead of --expires)")
	_ = cmd.MarkFlagRequired("control")
	_ = cmd.MarkFlagRequired("reason")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		req := &consolev1.CreateMaskRequest{ControlId: control, Nodes: nodes, Resource: resource, Reason: reason}
		if req.ExpiresAt, err = maskExpiry(expires, lifetime); err != nil {
			return err
		}
		c, err := connect(cmd)
		if err != nil {
			return err
		}
		defer c.Close()
		m, err := c.api.CreateMask(ctx(cmd), req)
		if err != nil {
			return c.rpcError("create mask", err)
		}
		return writeReply(cmd.OutOrStdout(), f, m, writeMask)
	}
	return cmd
}

// maskExpiry reads --expires or --for; nil means no expiry.
func maskExpiry(expires string, lifetime time.Duration) (*timestamppb.Timestamp, error) {
	switch {
	case expires != "" && lifetime != 0:
		return nil, errors.New("give --expires or --for, not both")
	case expires != "":
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			return nil, fmt.Errorf("--expires %q: want an RFC 3339 time such as 2027-01-31T00:00:00Z", expires)
		}
		return timestamppb.New(t), nil
	case lifetime < 0:
		return nil, fmt.Errorf("--for must be positive, not %s", lifetime)
	case lifetime > 0:
		return timestamppb.New(time.Now().Add(lifetime)), nil
	}
	return nil, nil
}

func newMasksRemoveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove MASK",
		Short: "Remove a mask; its results count in the scores again",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "remove mask", func(ctx context.Context, api consolev1.ConsoleServiceClient, args []string) (*consolev1.Mask, error) {
		return api.RemoveMask(ctx, &consolev1.RemoveMaskRequest{MaskId: args[0]})
	}, writeMask)
	return cmd
}

// writeMask writes the details of one mask.
func writeMask(w io.Writer, m *consolev1.Mask) error {
	tw := newTable(w)
	row(tw, "Mask:", m.GetId())
	row(tw, "Control:", m.GetControlId())
	row(tw, "Nodes:", maskNodes(m))
	row(tw, "Resource:", orDash(m.GetResource()))
	row(tw, "Reason:", m.GetReason())
	row(tw, "State:", maskState(m))
	row(tw, "Created:", timeText(m.GetCreatedAt())+" by "+orDash(m.GetCreatedBy()))
	row(tw, "Expires:", timeText(m.GetExpiresAt()))
	if m.GetRemovedAt() != nil {
		row(tw, "Removed:", timeText(m.GetRemovedAt())+" by "+orDash(m.GetRemovedBy()))
	}
	return tw.Flush()
}
