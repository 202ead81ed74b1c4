package standalone

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// selfStatus is the kernel's status file of the running sensor process (not of the inspected
// host root).
const selfStatus = "/proc/self/status"

// PeakRSS returns the sensor process's peak resident set size in bytes (VmHWM of
// /proc/self/status).
func PeakRSS() (int64, error) {
	data, err := os.ReadFile(selfStatus)
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	return parseVmHWM(data)
}

// parseVmHWM finds the "VmHWM:   1234 kB" line of a /proc/<pid>/status file.
func parseVmHWM(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("read peak RSS: unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("read peak RSS: unexpected VmHWM value %q", fields[0])
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("read peak RSS: no VmHWM line in %s (is this Linux?)", selfStatus)
}

// CPUTime returns the user and system CPU time the sensor process has used so far.
func CPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("read CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// WriteResources prints "wall=0.123s cpu=0.100s peak_rss=12.3MB" on one line, for
// `scan --report-resources`: wall is the time given, cpu the process's user plus system time
// (less sensitive than wall time to other load on the machine), peak RSS the process's
// high-water mark so far.
func WriteResources(w io.Writer, wall time.Duration) error {
	rss, err := PeakRSS()
	if err != nil {
		return err
	}
	cpu, err := CPUTime()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "wall=%.3fs cpu=%.3fs peak_rss=%.1fMB\n", wall.Seconds(), cpu.Seconds(), float64(rss)/(1<<20))
	return err
}
