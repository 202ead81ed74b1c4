package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func newUsersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "List, create and delete the people who sign in to the web console (admin)"}
	cmd.AddCommand(newUsersListCommand(), newUsersCreateCommand(), newUsersDeleteCommand())
	return cmd
}

func newUsersListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "list users", func(ctx context.Context, api consolev1.ConsoleServiceClient, _ []string) (*consolev1.ListUsersResponse, error) {
		return api.ListUsers(ctx, &consolev1.ListUsersRequest{})
	}, func(w io.Writer, resp *consolev1.ListUsersResponse) error {
		tw := newTable(w)
		row(tw, "NAME", "ROLE", "CREATED")
		for _, u := range resp.GetUsers() {
			row(tw, u.GetName(), u.GetRole(), timeText(u.GetCreatedAt()))
		}
		return tw.Flush()
	})
	return cmd
}

func newUsersCreateCommand() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user; the password is read from standard input",
		Long: "Create a user who signs in to the web console. The password (at least 12 characters) is\n" +
			"read from the first line of standard input, so it never shows in the process list or\n" +
			"the shell history.",
		Example: "  palisade-console users create alice --role analyst < alice.password",
		Args:    cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.Flags().StringVar(&role, "role", "viewer", "admin, analyst or viewer")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		password, err := readPassword(cmd.InOrStdin())
		if err != nil {
			return err
		}
		c, err := connect(cmd)
		if err != nil {
			return err
		}
		defer c.Close()
		u, err := c.api.CreateUser(ctx(cmd), &consolev1.CreateUserRequest{Name: args[0], Role: role, Password: password})
		if err != nil {
			return c.rpcError("create user", err)
		}
		return writeReply(cmd.OutOrStdout(), f, u, func(w io.Writer, u *consolev1.User) error {
			_, err := fmt.Fprintf(w, "User %s created with role %s\n", u.GetName(), u.GetRole())
			return err
		})
	}
	return cmd
}

// readPassword reads a password from the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password: write it on the first line of standard input, e.g. users create alice < alice.password")
	}
	return password, nil
}

func newUsersDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and sign them out",
		Args:  cobra.ExactArgs(1),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = callRunE(format, "delete user", func(ctx context.Context, api consolev1.ConsoleServiceClient, args []string) (*consolev1.User, error) {
		return api.DeleteUser(ctx, &consolev1.DeleteUserRequest{Name: args[0]})
	}, func(w io.Writer, u *consolev1.User) error {
		_, err := fmt.Fprintf(w, "User %s (%s) deleted\n", u.GetName(), u.GetRole())
		return err
	})
	return cmd
}
