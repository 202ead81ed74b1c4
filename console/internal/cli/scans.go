package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// pollInterval is how often `scan start --wait` asks for the scans' progress.
const pollInterval = 200 * time.Millisecond

func newScanCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "scan", Short: "Start, stop, list and show scans"}
	cmd.AddCommand(newScanStartCommand(), newScanStopCommand(), newScanListCommand(), newScanShowCommand())
	return cmd
}

func newScanStartCommand() *cobra.Command {
	var (
		nodes, benchmarks, exclude []string
		wait                       bool
		timeout                    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start a scan of one or more nodes",
		Long: "Start a scan of one or more nodes against one or more benchmarks. Each node gets its own\n" +
			"scan; all of them share a group id. With --wait, show progress until every scan has\n" +
			"ended, print the scores, and fail unless every scan completed.",
		Example: "  palisade-console scan start --node web-1 --node web-2 --benchmark cis,nist --wait",
		Args:    cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringSliceVar(&nodes, "node", nil, "node id or name to scan (repeat or separate with commas; required)")
	cmd.Flags().StringSliceVar(&benchmarks, "benchmark", nil, "benchmark ids or short names, e.g. cis,nist (required)")
	cmd.Flags().StringSliceVar(&exclude, "exclude", nil, "control ids to leave out")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the scans end, then print their scores")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "with --wait: how long to wait before giving up (the scans go on)")
	_ = cmd.MarkFlagRequired("node")
	_ = cmd.MarkFlagRequired("benchmark")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		if timeout <= 0 {
			return fmt.Errorf("--timeout must be positive, not %s", timeout)
		}
		c, err := connect(cmd)
		if err != nil {
			return err
		}
		defer c.Close()
		resp, err := c.api.StartScan(ctx(cmd), &consolev1.StartScanRequest{
			Nodes: nodes, Benchmarks: benchmarks, ExcludeControls: exclude,
		})
		if err != nil {
			return c.rpcError("start scan", err)
		}
		out := cmd.OutOrStdout()
		if !wait {
			if f == formatJSON {
				return writeJSON(out, resp)
			}
			fmt.Fprintf(out, "Group: %s\n", resp.GetGroupId())
			return writeScanList(out, resp.GetScans())
		}
		waitCtx, cancel := context.WithTimeout(ctx(cmd), timeout)
		defer cancel()
		final, err := c.waitForScans(waitCtx, cmd.ErrOrStderr(), resp.GetScans())
		if err != nil {
			return err
		}
		if f == formatJSON {
			if err := writeJSON(out, &consolev1.StartScanResponse{GroupId: resp.GetGroupId(), Scans: final}); err != nil {
				return err
			}
		} else {
			for i, s := range final {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "Scan %s on %s: %s, %d results\n", s.GetId(), nodeLabel(s), stateText(s.GetState()), s.GetResultsStored())
				if err := writeScores(out, s.GetScores()); err != nil {
					return err
				}
			}
		}
		return unsuccessful(final)
	}
	return cmd
}

// waitForScans polls every scan that has not ended until all have, printing a progress line
// to progress whenever one changes. It returns the scans as they ended.
func (c *client) waitForScans(ctx context.Context, progress io.Writer, scans []*consolev1.Scan) ([]*consolev1.Scan, error) {
	current := append([]*consolev1.Scan(nil), scans...)
	last := make(map[string]string, len(current))
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		pending := 0
		for i, s := range current {
			if terminal(s.GetState()) {
				continue
			}
			got, err := c.api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: s.GetId()})
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return nil, c.rpcError("follow scan "+s.GetId(), err)
			}
			current[i] = got
			if line := progressLine(got); line != last[got.GetId()] {
				last[got.GetId()] = line
				fmt.Fprintln(progress, line)
			}
			if !terminal(got.GetState()) {
				pending++
			}
		}
		if ctx.Err() == nil && pending == 0 {
			return current, nil
		}
		select {
		case <-ctx.Done():
			var ids []string
			for _, s := range current {
				if !terminal(s.GetState()) {
					ids = append(ids, s.GetId())
				}
			}
			why := "interrupted"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = "gave up waiting (--timeout)"
			}
			return nil, fmt.Errorf("%s; the scans go on: follow them with scan show %s", why, strings.Join(ids, " "))
		case <-ticker.C:
		}
	}
}

// progressLine describes where a scan is.
func progressLine(s *consolev1.Scan) string {
	line := fmt.Sprintf("%s %s: %s, %d/%d controls, %d results", s.GetId(), nodeLabel(s), stateText(s.GetState()),
		s.GetControlsDone(), s.GetControlsTotal(), s.GetResultsStored())
	if m := s.GetMessage(); m != "" && terminal(s.GetState()) {
		line += " (" + m + ")"
	}
	return line
}

// unsuccessful returns an error naming every scan that ended other than complete.
func unsuccessful(scans []*consolev1.Scan) error {
	var bad []string
	for _, s := range scans {
		if s.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
			text := fmt.Sprintf("scan %s on %s ended %s", s.GetId(), nodeLabel(s), stateText(s.GetState()))
			if m := s.GetMessage(); m != "" {
				text += ": " + m
			}
			bad = append(bad, text)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return errors.New(strings.Join(bad, "; "))
}

func nodeLabel(s *consolev1.Scan) string {
	if s.GetNodeName() != "" {
		return s.GetNodeName()
	}
	return s.GetNodeId()
}

func newScanStopCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stop SCAN",
		Short: "Stop a scan",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "stop scan", func(ctx context.Context, api consolev1.ConsoleServiceClient, args []string) (*consolev1.Scan, error) {
		return api.StopScan(ctx, &consolev1.StopScanRequest{ScanId: args[0]})
	}, func(w io.Writer, s *consolev1.Scan) error {
		fmt.Fprintf(w, "Scan %s on %s: %s\n", s.GetId(), nodeLabel(s), stateText(s.GetState()))
		return nil
	})
	return cmd
}

func newScanListCommand() *cobra.Command {
	var (
		node, state, pageToken string
		pageSize               uint32
		all                    bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List scans, newest first",
		Args:  cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringVar(&node, "node", "", "only scans of this node (id or name)")
	cmd.Flags().StringVar(&state, "state", "", "only scans in this state (queued, dispatched, running, complete, failed, cancelled, timed_out)")
	cmd.Flags().Uint32Var(&pageSize, "page-size", 0, "scans per page (0: the console's default)")
	cmd.Flags().StringVar(&pageToken, "page-token", "", "continue a listing from this token")
	cmd.Flags().BoolVar(&all, "all", false, "follow every page")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		req := &consolev1.ListScansRequest{Node: node, PageSize: pageSize, PageToken: pageToken}
		if state != "" {
			if req.State, err = parseState(state); err != nil {
				return fmt.Errorf("--state: %w", err)
			}
		}
		c, err := connect(cmd)
		if err != nil {
			return err
		}
		defer c.Close()
		merged := &consolev1.ListScansResponse{}
		seen := map[string]bool{}
		for {
			resp, err := c.api.ListScans(ctx(cmd), req)
			if err != nil {
				return c.rpcError("list scans", err)
			}
			merged.Scans = append(merged.Scans, resp.GetScans()...)
			merged.NextPageToken = resp.GetNextPageToken()
			next := resp.GetNextPageToken()
			if !all || next == "" {
				break
			}
			if seen[next] {
				return fmt.Errorf("list scans: the console returned page token %q twice; stopping", next)
			}
			seen[next] = true
			req.PageToken = next
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, merged)
		}
		if err := writeScanList(out, merged.GetScans()); err != nil {
			return err
		}
		if merged.GetNextPageToken() != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "more scans: pass --page-token %s, or --all\n", merged.GetNextPageToken())
		}
		return nil
	}
	return cmd
}

// writeScanList writes one line per scan.
func writeScanList(w io.Writer, scans []*consolev1.Scan) error {
	tw := newTable(w)
	row(tw, "ID", "NODE", "STATE", "PROGRESS", "BENCHMARKS", "CREATED")
	for _, s := range scans {
		row(tw, s.GetId(), nodeLabel(s), stateText(s.GetState()),
			fmt.Sprintf("%d/%d", s.GetControlsDone(), s.GetControlsTotal()),
			orDash(strings.Join(s.GetBenchmarkIds(), ",")), timeText(s.GetCreatedAt()))
	}
	return tw.Flush()
}

func newScanShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show SCAN",
		Short: "Show a scan's state, progress, timings and scores",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "show scan", func(ctx context.Context, api consolev1.ConsoleServiceClient, args []string) (*consolev1.Scan, error) {
		return api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: args[0]})
	}, writeScan)
	return cmd
}

// writeScan writes the details of one scan and its scores table.
func writeScan(w io.Writer, s *consolev1.Scan) error {
	tw := newTable(w)
	row(tw, "Scan:", s.GetId())
	row(tw, "Group:", orDash(s.GetGroupId()))
	node := s.GetNodeId()
	if s.GetNodeName() != "" && s.GetNodeName() != s.GetNodeId() {
		node = s.GetNodeName() + " (" + s.GetNodeId() + ")"
	}
	row(tw, "Node:", node)
	row(tw, "State:", stateText(s.GetState()))
	if s.GetMessage() != "" {
		row(tw, "Message:", s.GetMessage())
	}
	row(tw, "Benchmarks:", orDash(strings.Join(s.GetBenchmarkIds(), ", ")))
	row(tw, "Progress:", fmt.Sprintf("%d/%d controls, %d results stored",
		s.GetControlsDone(), s.GetControlsTotal(), s.GetResultsStored()))
	row(tw, "Created:", timeText(s.GetCreatedAt()))
	row(tw, "Started:", timeText(s.GetStartedAt()))
	row(tw, "Finished:", timeText(s.GetFinishedAt()))
	if s.GetStartedAt() != nil && s.GetFinishedAt() != nil {
		d := s.GetFinishedAt().AsTime().Sub(s.GetStartedAt().AsTime())
		row(tw, "Duration:", d.Round(time.Millisecond).String())
	}
	if !terminal(s.GetState()) && s.GetLastHeartbeatAt() != nil {
		row(tw, "Heartbeat:", timeText(s.GetLastHeartbeatAt()))
	}
	if s.GetCreatedBy() != "" {
		row(tw, "Created by:", s.GetCreatedBy())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(s.GetScores()) == 0 {
		fmt.Fprintln(w, "No scores yet.")
		return nil
	}
	return writeScores(w, s.GetScores())
}

// callRunE is the RunE of a command that makes one call to the console and writes the reply
// with writeReply; what names the call in its errors.
func callRunE[M proto.Message](format func() (string, error), what string,
	call func(ctx context.Context, api consolev1.ConsoleServiceClient, args []string) (M, error),
	text func(w io.Writer, reply M) error) func(*cobra.Command, []string) error {
	return withClient(format, func(cmd *cobra.Command, args []string, c *client, f string) error {
		reply, err := call(ctx(cmd), c.api, args)
		if err != nil {
			return c.rpcError(what, err)
		}
		return writeReply(cmd.OutOrStdout(), f, reply, text)
	})
}

// writeReply writes a reply of the console to w: as JSON in format f json, otherwise with text.
func writeReply[M proto.Message](w io.Writer, f string, reply M, text func(w io.Writer, reply M) error) error {
	if f == formatJSON {
		return writeJSON(w, reply)
	}
	return text(w, reply)
}
