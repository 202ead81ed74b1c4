package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func newCompareCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compare BASE HEAD",
		Short: "Compare two complete scans of one node",
		Long: "Compare two complete scans of one node, with the masks active now applied to both: the\n" +
			"score of each benchmark in both and its change, then the results that newly fail, were\n" +
			"fixed, or still fail.",
		Example: "  palisade-console compare scn_0a1b... scn_9f8e...",
		Args:    cobra.ExactArgs(2),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "compare scans", func(ctx context.Context, api consolev1.ConsoleServiceClient, args []string) (*consolev1.ScanComparison, error) {
		return api.CompareScans(ctx, &consolev1.CompareScansRequest{BaseScanId: args[0], HeadScanId: args[1]})
	}, writeComparison)
	return cmd
}

// writeComparison writes the scans compared, the score table and the changed results.
func writeComparison(w io.Writer, cmp *consolev1.ScanComparison) error {
	tw := newTable(w)
	for _, s := range []struct {
		label string
		scan  *consolev1.Scan
	}{{"Base:", cmp.GetBase()}, {"Head:", cmp.GetHead()}} {
		row(tw, s.label, fmt.Sprintf("%s on %s, finished %s", s.scan.GetId(), nodeLabel(s.scan), timeText(s.scan.GetFinishedAt())))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "BENCHMARK", "BASE", "HEAD", "CHANGE")
	for _, d := range cmp.GetScores() {
		row(tw, d.GetBenchmarkId(), optionalScore(d.GetBase()), optionalScore(d.GetHead()), deltaText(d))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "CHANGE", "BASE", "HEAD", "SEVERITY", "CONTROL", "RESOURCE")
	for _, group := range []struct {
		change  string
		results []*consolev1.ComparedResult
	}{
		{"newly failing", cmp.GetNewlyFailing()},
		{"fixed", cmp.GetFixed()},
		{"still failing", cmp.GetStillFailing()},
	} {
		for _, r := range group.results {
			row(tw, group.change, comparedStatus(r.GetBaseStatus()), comparedStatus(r.GetHeadStatus()),
				orDash(r.GetSeverity()), r.GetControlId(), orDash(r.GetResource()))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d newly failing, %d fixed, %d still failing, %d unchanged\n",
		len(cmp.GetNewlyFailing()), len(cmp.GetFixed()), len(cmp.GetStillFailing()), cmp.GetUnchanged())
	return err
}

// optionalScore is a benchmark's score in one scan of a comparison, "-" when the scan does
// not have the benchmark.
func optionalScore(s *consolev1.Score) string {
	if s == nil {
		return "-"
	}
	return scoreText(s)
}

// deltaText is a score change in percentage points with its sign, or "n/a".
func deltaText(d *consolev1.ScoreDelta) string {
	if d.Delta == nil {
		return "n/a"
	}
	v := d.GetDelta()
	text := strconv.FormatFloat(v, 'f', 1, 64)
	if v > 0 {
		text = "+" + text
	}
	return text
}

// comparedStatus is a result's status in one scan of a comparison, "-" when the scan does
// not have the result.
func comparedStatus(s sensorv1.Status) string {
	if s == sensorv1.Status_STATUS_UNSPECIFIED {
		return "-"
	}
	return statusText(s)
}
