package cli

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/palisadehq/palisade/pkg/posture"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// csvHeader is the header row of `results --format csv`.
func csvHeader() []string {
	return []string{"scan_id", "node_id", "control_id", "title", "severity", "service", "resource", "status", "reason", "mask_id"}
}

// maskedFilters maps --masked to the wire's filter.
var maskedFilters = map[string]consolev1.MaskedFilter{
	"":        consolev1.MaskedFilter_MASKED_FILTER_UNSPECIFIED,
	"exclude": consolev1.MaskedFilter_MASKED_FILTER_EXCLUDE,
	"only":    consolev1.MaskedFilter_MASKED_FILTER_ONLY,
	"include": consolev1.MaskedFilter_MASKED_FILTER_INCLUDE,
}

func newResultsCommand() *cobra.Command {
	var (
		benchmark, service, severity, pageToken string
		masked, query, orderBy                  string
		statuses                                []string
		pageSize                                uint32
		all                                     bool
	)
	cmd := &cobra.Command{
		Use:   "results SCAN",
		Short: "List a scan's results",
		Long: "List a scan's results, filtered by benchmark, status, service, severity and text, sorted by\n" +
			"control, severity or status. Masked results are left out unless --masked asks for them.\n" +
			"One page is shown unless --all follows every page.",
		Example: "  palisade-console results 01J... --status fail,error --severity high --all --format csv\n" +
			"  palisade-console results 01J... --masked only --query ssh --order-by severity",
		Args: cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON, formatCSV)
	cmd.Flags().StringVar(&benchmark, "benchmark", "", "only results of this benchmark's controls (id or short name)")
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only these statuses: pass, fail, info, skip, error (comma-separated)")
	cmd.Flags().StringVar(&service, "service", "", "only controls of this service, e.g. SSH")
	cmd.Flags().StringVar(&severity, "severity", "", "only controls of this severity: critical, high, medium, low")
	cmd.Flags().StringVar(&masked, "masked", "", "which results by masking: exclude (the default), only or include")
	cmd.Flags().StringVar(&query, "query", "", "only results whose control id, title, resource or reason contain this text (any case)")
	cmd.Flags().StringVar(&orderBy, "order-by", "", "sort by control (the default), severity (highest first) or status (fail, error, info, pass, skip)")
	cmd.Flags().Uint32Var(&pageSize, "page-size", 0, "results per page (0: the console's default)")
	cmd.Flags().StringVar(&pageToken, "page-token", "", "continue a listing from this token")
	cmd.Flags().BoolVar(&all, "all", false, "follow every page")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		req := &consolev1.ListResultsRequest{
			ScanId: args[0], Benchmark: benchmark, Service: service,
			PageSize: pageSize, PageToken: pageToken, Query: query, OrderBy: orderBy,
		}
		mf, ok := maskedFilters[masked]
		if !ok {
			return fmt.Errorf("--masked %q: want exclude, only or include", masked)
		}
		req.Masked = mf
		switch orderBy {
		case "", "control", "severity", "status":
		default:
			return fmt.Errorf("--order-by %q: want control, severity or status", orderBy)
		}
		for _, s := range statuses {
			st, err := parseStatus(s)
			if err != nil {
				return fmt.Errorf("--status: %w", err)
			}
			req.Statuses = append(req.Statuses, st)
		}
		if severity != "" {
			sev, err := posture.ParseSeverity(severity)
			if err != nil {
				return fmt.Errorf("--severity: %w", err)
			}
			req.Severity = string(sev)
		}
		c, err := connect(cmd)
		if err != nil {
			return err
		}
		defer c.Close()

		out := cmd.OutOrStdout()
		// Table and CSV rows are written page by page; JSON is one document at the end.
		var (
			merged = &consolev1.ListResultsResponse{}
			tw     = newTable(out)
			cw     = csv.NewWriter(out)
			seen   = map[string]bool{}
		)
		// The mask column shows only when masked results are asked for.
		withMask := mf == consolev1.MaskedFilter_MASKED_FILTER_ONLY || mf == consolev1.MaskedFilter_MASKED_FILTER_INCLUDE
		switch f {
		case formatTable:
			header := []string{"STATUS", "SEVERITY", "CONTROL", "RESOURCE", "REASON"}
			if withMask {
				header = append(header, "MASK")
			}
			row(tw, header...)
		case formatCSV:
			if err := cw.Write(csvHeader()); err != nil {
				return err
			}
		}
		for {
			resp, err := c.api.ListResults(ctx(cmd), req)
			if err != nil {
				return c.rpcError("list results", err)
			}
			switch f {
			case formatTable:
				writeResultRows(tw, resp.GetResults(), withMask)
			case formatCSV:
				if err := writeResultCSV(cw, resp.GetResults()); err != nil {
					return err
				}
			}
			merged.Results = append(merged.Results, resp.GetResults()...)
			merged.Total = resp.GetTotal()
			merged.NextPageToken = resp.GetNextPageToken()
			next := resp.GetNextPageToken()
			if !all || next == "" {
				break
			}
			if seen[next] {
				return fmt.Errorf("list results: the console returned page token %q twice; stopping", next)
			}
			seen[next] = true
			req.PageToken = next
		}
		switch f {
		case formatJSON:
			return writeJSON(out, merged)
		case formatCSV:
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		default:
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if next := merged.GetNextPageToken(); next != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "showing %d of %d results: pass --page-token %s for the next page, or --all\n",
				len(merged.GetResults()), merged.GetTotal(), next)
		}
		return nil
	}
	return cmd
}

// writeResultRows writes results as table rows, with the id of the mask covering each when
// withMask is set.
func writeResultRows(w io.Writer, rows []*consolev1.ResultRow, withMask bool) {
	for _, r := range rows {
		cells := []string{statusText(r.GetStatus()), orDash(r.GetSeverity()), r.GetControlId(),
			orDash(r.GetResource()), orDash(truncate(r.GetReason(), reasonWidth))}
		if withMask {
			cells = append(cells, orDash(r.GetMask().GetId()))
		}
		row(w, cells...)
	}
}

// writeResultCSV writes results as CSV records in the order of csvHeader.
func writeResultCSV(w *csv.Writer, rows []*consolev1.ResultRow) error {
	for _, r := range rows {
		rec := []string{
			r.GetScanId(), r.GetNodeId(), r.GetControlId(), r.GetTitle(), r.GetSeverity(),
			r.GetService(), r.GetResource(), statusText(r.GetStatus()), r.GetReason(), r.GetMask().GetId(),
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	return nil
}
