// Command cnn declares, inspects, trains and runs the chapter's convolutional networks.
//
// Usage:
//
//	cnn summary lenet|resnet18 [--input 1x32x32] [--batch N] [--json] [--unit paddle|macs|flops]
//	cnn flops lenet [--unit paddle|macs|flops]
//	cnn dot resnet18 [--ops] [-o resnet18.svg]
//	cnn conv-demo
//	cnn edge [--image photo.jpg] [-o edges.png] [--kernel laplace8|laplace4|"a,b,c;d,e,f;g,h,i"]
//	cnn train lenet [--epochs 5 --lr 0.1 --batch 64 --seed 100 --out DIR]
//	cnn train resnet18 [--no-residual] --lr 0.01
//	cnn train resnet18-cifar --data DIR [--checkpoint-every 500] [--resume DIR]
//	cnn compare DIR1 DIR2 [-o compare.png]
//	cnn eval --weights DIR/best.safetensors [--split test]
//	cnn predict --weights DIR/best.safetensors --index 1 | --image digit.png | --input x.npy --out logits.npy
//	cnn bench [lenet resnet18] [--json] [--ops]
//	cnn reproduce -o report/
//
// Run "cnn help" for every command and "cnn COMMAND -h" for its flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand of the tool.
type command struct {
	summary string
	run     func(args []string, stdout io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout io.Writer) error) {
	commands[name] = command{summary, run}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit status: 0 on success, 2 on any error,
// which it prints as one line on stderr.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "cnn: internal error: %v\n", r)
			status = 3
		}
	}()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "cnn: unknown command %q (run 'cnn help' for the list)\n", args[0])
		return 2
	}
	if err := c.run(args[1:], stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "cnn %s: %s\n", args[0], oneLine(err.Error()))
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode() // an interrupted run: 130
		}
		return 2
	}
	return 0
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

func usage(w io.Writer) {
	fmt.Fprintln(w, "cnn: the chapter's convolutional networks, declared with static shapes and compiled on Gorgonia.")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nModels: %s\nRun 'cnn COMMAND -h' for a command's flags.\n", strings.Join(modelNames(), ", "))
}

// newFlags returns a flag set that reports errors instead of exiting; parse prints its usage
// to stderr on -h only.
func newFlags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name+" "+args, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func printUsage(fs *flag.FlagSet) {
	fs.SetOutput(os.Stderr)
	fmt.Fprintf(os.Stderr, "usage: cnn %s\n", fs.Name())
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parse parses flags that may come before or after positional arguments, and returns the
// positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(fs)
			}
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
