package reproduce

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/nndl/cnn/kernels"
)

// Machine describes where the report was made.
type Machine struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	GoMaxProcs int    `json:"gomaxprocs"`
	OS         string `json:"os"`
	Go         string `json:"go"`
	Gorgonia   string `json:"gorgonia"`
	Tensor     string `json:"tensor"`
	Gonum      string `json:"gonum"`
	BLAS       string `json:"blas"`
	FastConv   string `json:"fast_conv"`    // how graph.Fast computes a float32 convolution
	Load       string `json:"load_average"` // 1, 5 and 15 minutes, from /proc/loadavg
}

// ThisMachine reads the CPU model from /proc/cpuinfo (the architecture where there is none),
// the load average from /proc/loadavg and the module versions from the binary's build
// information.
func ThisMachine() Machine {
	m := Machine{CPU: cpuModel(), CPUs: runtime.NumCPU(), GoMaxProcs: runtime.GOMAXPROCS(0),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), BLAS: kernels.Describe(), FastConv: kernels.Describe(),
		Gorgonia: "unknown", Tensor: "unknown", Gonum: "unknown", Load: "unknown"}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Path + " " + d.Replace.Version
			}
			switch d.Path {
			case "gorgonia.org/gorgonia":
				m.Gorgonia = v
			case "gorgonia.org/tensor":
				m.Tensor = v
			case "gonum.org/v1/gonum":
				m.Gonum = v
			}
		}
	}
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "cpu model", "Hardware":
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return runtime.GOARCH
}
