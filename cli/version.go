package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/reproduce"
)

func init() {
	register("version", "the module version and commit of this binary and the kernels it can run", cmdVersion)
}

// versionInfo is what 'cnn version --json' prints.
type versionInfo struct {
	Build   reproduce.Build `json:"build"`
	MaxISA  string          `json:"max_isa"` // the instruction sets the SIMD kernels may use (CNN_MAX_CPU_ISA caps it)
	Kernels []kernelInfo    `json:"kernels"`
}

// kernelInfo is one kernel implementation of this binary.
type kernelInfo struct {
	Name     string   `json:"name"`
	Runnable bool     `json:"runnable"`
	Enabled  bool     `json:"enabled"`
	Why      string   `json:"why_not,omitempty"`
	Fallback bool     `json:"fallback,omitempty"`
	Ops      []string `json:"operations"`
	Doc      string   `json:"doc"`
}

func thisVersion() versionInfo {
	v := versionInfo{Build: reproduce.ThisBuild(), MaxISA: kernels.MaxISA().String()}
	for _, k := range kernels.List() {
		v.Kernels = append(v.Kernels, kernelInfo{Name: k.Name, Runnable: k.Runnable, Enabled: k.Enabled, Why: k.Why,
			Fallback: k.Fallback, Ops: k.Ops, Doc: k.Doc})
	}
	return v
}

func cmdVersion(args []string, stdout io.Writer) error {
	fs := newFlags("version", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	v := thisVersion()
	if *asJSON {
		return printJSON(stdout, true, v)
	}
	fmt.Fprintf(stdout, "cnn %s\n", v.Build)
	fmt.Fprintf(stdout, "kernels (SIMD instruction sets up to %s; CNN_MAX_CPU_ISA caps them, CNN_KERNELS chooses):\n", v.MaxISA)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, k := range v.Kernels {
		state := "runs"
		switch {
		case !k.Runnable:
			state = "cannot run: " + k.Why
		case !k.Enabled:
			state = "off: " + k.Why
		}
		if k.Fallback {
			state += " (the fallback)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", k.Name, strings.Join(k.Ops, ", "), state)
	}
	return tw.Flush()
}
