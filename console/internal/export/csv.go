package export

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// CSVHeader is the first row of a CSV export.
var CSVHeader = []string{
	"scan_id", "node", "control_id", "title", "benchmarks", "severity", "service", "status",
	"resource", "reason", "masked", "mask_reason", "mask_by", "mask_until", "evidence",
}

// writeCSV writes one row per result, masked ones included. benchmarks lists the control's
// requirements in the scan's benchmarks ("linux-cis 5.2.7; linux-nist AC-6(9)"), status is
// the short form, masked is true or false, mask_until is RFC 3339 or empty (no expiry), and
// evidence is evidenceText. A cell a spreadsheet would run as a formula (starting with =, +,
// -, @, a tab or a carriage return) is prefixed with a single quote.
func writeCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	node := r.nodeName()
	for _, row := range r.Results {
		m := row.GetMask()
		rec := []string{
			row.GetScanId(), node, row.GetControlId(), row.GetTitle(), referenceText(r.references(row.GetControlId())),
			row.GetSeverity(), row.GetService(), statusName(row.GetStatus()), row.GetResource(), row.GetReason(),
			strconv.FormatBool(m != nil), m.GetReason(), m.GetCreatedBy(), timeText(m.GetExpiresAt()), evidenceText(row.GetEvidence()),
		}
		for i := range rec {
			rec[i] = defuseFormula(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// defuseFormula keeps a spreadsheet from evaluating a cell: text from scanned hosts must
// never run as a formula on an auditor's machine.
func defuseFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
