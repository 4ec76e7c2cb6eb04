// Package cli is the cnn command-line tool: every command of cnn (summary, flops, dot,
// train, eval, predict, bench, export, ...) behind one entry point, Main. The cnn binary
// (cmd/cnn) is Main and nothing else; a program of one's own calls Register for its models
// first, and every command then takes them by name like the built-in ones
// (examples/mycli is such a program):
//
//	func main() {
//		cli.Register("tinynet", cli.Model{Doc: "two 3x3 convolutions, global average pooling, a linear head", Input: []int{1, 28, 28}, Build: tinyNet})
//		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
//	}
//
// Usage of the commands:
//
//	cnn summary lenet|resnet18 [--shape 1x32x32] [--batch N] [--json] [--unit paddle|macs|flops]
//	cnn flops lenet [--unit paddle|macs|flops]
//	cnn dot resnet18 [--ops] [-o resnet18.svg]
//	cnn conv-demo
//	cnn edge [--image photo.jpg] [-o edges.png] [--kernel laplace8|laplace4|"a,b,c;d,e,f;g,h,i"]
//	cnn train lenet [--epochs 5 --lr 0.1 --batch 64 --seed 100 --out DIR]
//	cnn train resnet18 [--no-residual] --lr 0.01
//	cnn train resnet18-cifar --data DIR [--checkpoint-every 500]
//	cnn train --resume DIR [--epochs N]
//	cnn train lenet [--momentum 0.9 --nesterov --lr-schedule step|cosine --warmup-steps N --clip-grad-norm N --patience N --best dev-accuracy|dev-loss]
//	cnn compare DIR1 DIR2 [-o compare.png] [--names a,b] [--json]
//	cnn eval --weights DIR/best.safetensors [--split test]
//	cnn predict --weights DIR/best.safetensors --index 1 | --image digit.png | --input x.npy --out logits.npy
//	cnn bench [lenet resnet18] [--json] [--ops]
//	cnn export --weights DIR/best.safetensors -o model.onnx
//	cnn reproduce -o report/
//	cnn version [--json]
//
// Run "cnn help" for every command, "cnn help COMMAND" or "cnn COMMAND -h" for its flags and
// "cnn --version" for the build and its kernels.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
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

// Main runs the command line args (without the program's name), writing its output on
// stdout and its errors, each one line, on stderr. It returns the exit status: 0 on
// success, 2 on any error, 130 for an interrupted training run, 3 for an internal error.
func Main(args []string, stdout, stderr io.Writer) int { return run(args, stdout, stderr) }

// run executes the command line and returns the exit status: 0 on success, 2 on any error,
// which it prints as one line on stderr.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "cnn: internal error: %v\n", r)
			status = 3
		}
	}()
	switch {
	case len(args) == 0 || args[0] == "-h" || args[0] == "--help" || (args[0] == "help" && len(args) == 1):
		usage(stdout)
		return 0
	case args[0] == "help": // cnn help COMMAND: that command's help
		args = []string{args[1], "-h"}
	case args[0] == "--version" || args[0] == "-version":
		args[0] = "version"
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "cnn: unknown command %q%s (run 'cnn help' for the list)\n", args[0], didYouMean(args[0]))
		return 2
	}
	if err := c.run(args[1:], stdout); err != nil {
		var help *helpRequest
		if errors.As(err, &help) {
			help.print(stdout)
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
	if own := registeredNames(); len(own) > 0 {
		fmt.Fprintln(w, "\nThis program's own models:")
		for _, n := range own {
			fmt.Fprintf(w, "  %-10s %s\n", n, registered[n].Doc)
		}
	}
	fmt.Fprintf(w, "\nModels: %s\nRun 'cnn help COMMAND' or 'cnn COMMAND -h' for a command's flags, 'cnn --version' for the build.\n", strings.Join(modelNames(), ", "))
}

// newFlags returns a flag set that reports errors instead of exiting; on -h parse returns a
// *helpRequest, and run prints the usage on stdout.
func newFlags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name+" "+args, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// helpRequest is the error of a command asked for its help (-h, --help, cnn help
// COMMAND): the caller prints the help on stdout and exits 0.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return "help requested" }
func (h *helpRequest) Unwrap() error { return flag.ErrHelp }

// print writes the command's usage line and flags.
func (h *helpRequest) print(w io.Writer) {
	name, _, _ := strings.Cut(h.fs.Name(), " ")
	fmt.Fprintf(w, "usage: cnn %s\n", h.fs.Name())
	if c, ok := commands[name]; ok {
		fmt.Fprintf(w, "\n%s\n\nflags:\n", upperFirst(c.summary))
	}
	h.fs.SetOutput(w)
	h.fs.PrintDefaults()
	h.fs.SetOutput(io.Discard)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// didYouMean suggests the commands closest to a mistyped one: ` (did you mean "train"?)`,
// or "" when none is close.
func didYouMean(name string) string {
	var close []string
	for n := range commands {
		if d := editDistance(strings.ToLower(name), n); d <= max(1, min(2, len(n)/3)) || (len(name) >= 3 && strings.HasPrefix(n, strings.ToLower(name))) {
			close = append(close, strconv.Quote(n))
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	return "; did you mean " + strings.Join(close, " or ") + "?"
}

// editDistance is the Levenshtein distance between a and b, by bytes, counting a swap of
// two neighbours as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// parse parses flags that may come before or after positional arguments, and returns the
// positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpRequest{fs}
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
