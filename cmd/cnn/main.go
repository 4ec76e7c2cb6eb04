// Command cnn declares, inspects, trains and runs the chapter's convolutional networks.
//
// Its commands are package cli's; run "cnn help" for them, "cnn help COMMAND" for a
// command's flags.
package main

import (
	"os"

	"github.com/nndl/cnn/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
