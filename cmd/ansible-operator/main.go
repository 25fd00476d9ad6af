// Command ansible-operator runs Ansible roles and playbooks as Kubernetes
// operators, compatible with operator-framework's `ansible-operator run`.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mcrouter-operator/mcrouter-operator/internal/version"
)

func main() {
	root := &cobra.Command{
		Use:           "ansible-operator",
		Short:         "Run Ansible roles and playbooks as Kubernetes operators",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCommand(), newVersionCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "ansible-operator: %v\n", err)
		os.Exit(1)
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "ansible-operator version: %q, go version: %q\n", version.Version, version.GoVersion())
		},
	}
}
