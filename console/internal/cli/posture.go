package cli

import (
	"strings"

	"github.com/spf13/cobra"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func newPostureCommand() *cobra.Command {
	var targetType string
	cmd := &cobra.Command{
		Use:   "posture",
		Short: "Show the posture: each target type's aggregate scores and each node's latest scores",
		Args:  cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringVar(&targetType, "target-type", "", "only this target type (linux, kubernetes, aws, azure, gcp)")
	cmd.RunE = withClient(format, func(cmd *cobra.Command, _ []string, c *client, f string) error {
		p, err := c.api.GetPosture(ctx(cmd), &consolev1.GetPostureRequest{TargetType: targetType})
		if err != nil {
			return c.rpcError("posture", err)
		}
		out := cmd.OutOrStdout()
		if f == formatJSON {
			return writeJSON(out, p)
		}
		tw := newTable(out)
		row(tw, "TYPE", "NODES", "SCANNED", "BENCHMARK", "SCORE", "PASS", "FAIL", "INFO", "SKIP", "ERROR", "MASKED")
		for _, tp := range p.GetTargets() {
			o := tp.GetOverall()
			row(tw, tp.GetTargetType(), u32(tp.GetNodes()), u32(tp.GetScannedNodes()), "(all)", scoreText(o),
				u32(o.GetPass()), u32(o.GetFail()), u32(o.GetInfo()), u32(o.GetSkip()), u32(o.GetError()), u32(o.GetMasked()))
			for _, s := range tp.GetScores() {
				row(tw, "", "", "", s.GetBenchmarkId(), scoreText(s), u32(s.GetPass()), u32(s.GetFail()), u32(s.GetInfo()), u32(s.GetSkip()), u32(s.GetError()), u32(s.GetMasked()))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(p.GetNodes()) == 0 {
			return nil
		}
		if _, err := out.Write([]byte("\n")); err != nil {
			return err
		}
		tw = newTable(out)
		// LAST SCAN is when the scores were taken; NEWEST SCAN is the node's most recent scan
		// in any state (one running now, or one that failed).
		row(tw, "NODE", "TYPE", "LAST SCAN", "SCORES", "NEWEST SCAN")
		for _, n := range p.GetNodes() {
			var parts []string
			for _, s := range n.GetScores() {
				parts = append(parts, s.GetBenchmarkId()+" "+scoreText(s))
			}
			scores, newest := strings.Join(parts, ", "), "-"
			if n.GetLastScanId() != "" {
				newest = n.GetLastScanId() + " (" + stateText(n.GetLastScanState()) + ")"
			}
			switch {
			case scores == "" && n.GetLastScanId() == "":
				scores = "never scanned"
			case scores == "":
				scores = "no completed scan"
			}
			row(tw, n.GetNodeName(), n.GetTargetType(), timeText(n.GetLastScanAt()), scores, newest)
		}
		return tw.Flush()
	})
	return cmd
}
