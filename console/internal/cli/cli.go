// Package cli holds the console's client commands (nodes, benchmarks, controls, scans,
// results, masks, compare, enrolment tokens, users, posture), which talk to a running console
// over its gRPC user API, and Dial, the connection logic they share: the console's address, CA
// and API token come from flags, the PALISADE_TOKEN variable, or the console's own data
// directory.
package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Names of the persistent client flags.
const (
	flagAddr    = "addr"
	flagToken   = "token"
	flagCAFile  = "ca-file"
	flagDataDir = "data-dir"
)

// AddClientCommands adds the client commands and the persistent client flags (--addr,
// --token, --ca-file, --data-dir) to root. A persistent flag root already has (say
// --data-dir, shared with serve) is reused, not redefined.
func AddClientCommands(root *cobra.Command) {
	pf := root.PersistentFlags()
	defineString := func(name, value, usage string) {
		if pf.Lookup(name) == nil {
			pf.String(name, value, usage)
		}
	}
	defineString(flagAddr, "", "console gRPC address host:port (default: grpc_addr from <data-dir>/"+ConsoleInfoFile+")")
	defineString(flagToken, "", "API token (default: $"+TokenEnv+", else <data-dir>/"+TokenFile+")")
	defineString(flagCAFile, "", "PEM file of the CA that signed the console's certificate (default: <data-dir>/"+CAFile+")")
	defineString(flagDataDir, DefaultDataDir, "the console's data directory")

	root.AddCommand(
		newNodesCommand(),
		newBenchmarksCommand(),
		newControlsCommand(),
		newScanCommand(),
		newResultsCommand(),
		newTokenCommand(),
		newPostureCommand(),
		newMasksCommand(),
		newCompareCommand(),
		newUsersCommand(),
	)
}

// connOptions reads the persistent client flags as cmd sees them.
func connOptions(cmd *cobra.Command) ConnOptions {
	get := func(name string) string {
		if f := cmd.Flag(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	opts := ConnOptions{
		Addr:    get(flagAddr),
		Token:   get(flagToken),
		CAFile:  get(flagCAFile),
		DataDir: get(flagDataDir),
	}
	if opts.Token == "" {
		opts.Token = os.Getenv(TokenEnv)
	}
	return opts
}

// client is an open connection to the console for the duration of one command.
type client struct {
	api  consolev1.ConsoleServiceClient
	conn *grpc.ClientConn
	addr string
}

// connect dials the console with the command's flags.
func connect(cmd *cobra.Command) (*client, error) {
	opts := connOptions(cmd)
	conn, err := Dial(cmd.Context(), opts)
	if err != nil {
		return nil, err
	}
	return &client{api: consolev1.NewConsoleServiceClient(conn), conn: conn, addr: conn.Target()}, nil
}

func (c *client) Close() error { return c.conn.Close() }

// rpcError turns a failed call into an error a person can act on.
func (c *client) rpcError(action string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", action, err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("%s: console at %s unreachable: %s; check that it is running and --addr/--ca-file are right", action, c.addr, st.Message())
	case codes.Unauthenticated:
		return fmt.Errorf("%s: %s; check --token or $%s", action, st.Message(), TokenEnv)
	case codes.PermissionDenied:
		return fmt.Errorf("%s: permission denied: %s", action, st.Message())
	case codes.DeadlineExceeded, codes.Canceled:
		return fmt.Errorf("%s: %s", action, st.Message())
	default:
		return fmt.Errorf("%s: %s", action, st.Message())
	}
}

// ctx returns the command's context, never nil.
func ctx(cmd *cobra.Command) context.Context {
	if c := cmd.Context(); c != nil {
		return c
	}
	return context.Background()
}

// statusText is a result status as people write it: STATUS_PASS -> pass.
func statusText(s sensorv1.Status) string { return enumText(s.String(), "STATUS_") }

// stateText is a scan state as people write it: SCAN_STATE_TIMED_OUT -> timed_out.
func stateText(s sensorv1.ScanState) string { return enumText(s.String(), "SCAN_STATE_") }

func enumText(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// parseStatus reads a status name: pass, fail, info, skip, error (any case, or the full
// STATUS_ name).
func parseStatus(s string) (sensorv1.Status, error) {
	upper := strings.ToUpper(strings.TrimSpace(s))
	for _, name := range []string{upper, "STATUS_" + upper} {
		if v, ok := sensorv1.Status_value[name]; ok && v != 0 {
			return sensorv1.Status(v), nil
		}
	}
	return 0, fmt.Errorf("unknown status %q (want one of pass, fail, info, skip, error)", s)
}

// parseState reads a scan state name: queued, dispatched, running, complete, failed,
// cancelled, timed_out (any case, or the full SCAN_STATE_ name).
func parseState(s string) (sensorv1.ScanState, error) {
	upper := strings.ToUpper(strings.TrimSpace(s))
	for _, name := range []string{upper, "SCAN_STATE_" + upper} {
		if v, ok := sensorv1.ScanState_value[name]; ok && v != 0 {
			return sensorv1.ScanState(v), nil
		}
	}
	return 0, fmt.Errorf("unknown scan state %q (want one of queued, dispatched, running, complete, failed, cancelled, timed_out)", s)
}

// terminal reports whether a scan in state s will not change any more.
func terminal(s sensorv1.ScanState) bool {
	switch s {
	case sensorv1.ScanState_SCAN_STATE_COMPLETE, sensorv1.ScanState_SCAN_STATE_FAILED,
		sensorv1.ScanState_SCAN_STATE_CANCELLED, sensorv1.ScanState_SCAN_STATE_TIMED_OUT:
		return true
	}
	return false
}

// withClient turns a command body into a RunE: it resolves the output format, connects to the
// console and closes the connection afterwards.
func withClient(format func() (string, error), body func(cmd *cobra.Command, args []string, c *client, f string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		c, err := connect(cmd)
		if err != nil {
			return err
		}
		defer c.Close()
		return body(cmd, args, c, f)
	}
}
