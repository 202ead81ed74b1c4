package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

// reasonWidth is how many characters of a result's reason a table shows.
const reasonWidth = 72

// addFormatFlag adds --format to cmd, allowing the given formats (the first is the default),
// and returns a function that validates and returns the chosen one.
func addFormatFlag(cmd *cobra.Command, formats ...string) func() (string, error) {
	var value string
	cmd.Flags().StringVar(&value, "format", formats[0], "output format: "+strings.Join(formats, "|"))
	return func() (string, error) {
		for _, f := range formats {
			if value == f {
				return value, nil
			}
		}
		return "", fmt.Errorf("unknown --format %q (want one of %s)", value, strings.Join(formats, ", "))
	}
}

// writeJSON writes msg as indented protojson: proto field names, every field present. The
// output is re-indented because protojson varies its whitespace between builds on purpose.
func writeJSON(w io.Writer, msg proto.Message) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// newTable returns a tabwriter for aligned columns; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes one table row of tab-separated cells. Tabs and line breaks inside a cell would
// break the columns, so they become spaces.
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// timeText renders a timestamp in UTC, or "-" when it is absent.
func timeText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// scoreText renders an optional score: one decimal and "%", or "n/a" when there is none.
func scoreText(s *consolev1.Score) string {
	if s.Score == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*s.Score, 'f', 1, 64) + "%"
}

// writeScores writes the scores table of a scan.
func writeScores(w io.Writer, scores []*consolev1.Score) error {
	tw := newTable(w)
	row(tw, "BENCHMARK", "SCORE", "PASS", "FAIL", "INFO", "SKIP", "ERROR", "MASKED")
	for _, s := range scores {
		row(tw, s.GetBenchmarkId(), scoreText(s), u32(s.GetPass()), u32(s.GetFail()),
			u32(s.GetInfo()), u32(s.GetSkip()), u32(s.GetError()), u32(s.GetMasked()))
	}
	return tw.Flush()
}

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// truncate shortens s to its first line and at most n characters, marking the cut with "...".
func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	cut := false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s, cut = strings.TrimSpace(s[:i]), true
	}
	if r := []rune(s); len(r) > n {
		s, cut = strings.TrimSpace(string(r[:n-3])), true
	}
	if cut {
		s += "..."
	}
	return s
}

// orDash returns s, or "-" when it is empty, so table columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
