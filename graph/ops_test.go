package graph

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nndl/cnn/internal/golden"
	"github.com/nndl/cnn/tensorio/safetensors"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
)

// eval computes a node by running the ops of its ancestors, reading inputs' bound values.
func eval(t *testing.T, n *gorgonia.Node, memo map[*gorgonia.Node]gorgonia.Value) gorgonia.Value {
	t.Helper()
	if v, ok := memo[n]; ok {
		return v
	}
	if n.Op() == nil {
		return n.Value()
	}
	var args []gorgonia.Value
	for it := n.Graph().From(n.ID()); it.Next(); {
		args = append(args, eval(t, it.Node().(*gorgonia.Node), memo))
	}
	v, err := n.Op().Do(args...)
	if err != nil {
		t.Fatalf("%v: %v", n.Op(), err)
	}
	memo[n] = v
	return v
}

func leaf(g *gorgonia.ExprGraph, name string, v *tensor.Dense) *gorgonia.Node {
	return gorgonia.NewTensor(g, v.Dtype(), v.Dims(), gorgonia.WithShape(v.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(v))
}

// relErr is the golden README's measure, max|got-want| / max|want|.
var relErr = golden.RelErr

func f64s(v gorgonia.Value) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return d
	case float32:
		return []float64{float64(d)}
	case float64:
		return []float64{d}
	}
	panic(fmt.Sprintf("%T", v.Data()))
}

// goldenTensor returns a lookup of f's tensors that fails the (sub)test it is given when a
// name is missing.
func goldenTensor(f *safetensors.File) func(t testing.TB, name string) *tensor.Dense {
	return func(t testing.TB, name string) *tensor.Dense {
		tt, ok := f.Tensors[name]
		if !ok {
			t.Fatalf("golden file has no %s", name)
		}
		return dense(tt)
	}
}

// eachKernel runs body as a subtest for every implementation this machine runs, each pinned
// in turn (the fallback serving what it refuses).
func eachKernel(t *testing.T, body func(t *testing.T)) {
	for _, in := range kernels.List() {
		if !in.Runnable {
			t.Logf("%s skipped: %s", in.Name, in.Why)
			continue
		}
		t.Run(in.Name, func(t *testing.T) {
			restore, err := kernels.Pin(in.Name)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			body(t)
		})
	}
}

func dense(t safetensors.Tensor) *tensor.Dense {
	return tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.Float32()))
}

// TestOpsAgainstPyTorch runs every conv and pooling case of the golden file through both
// implementations, forward and backward.
func TestOpsAgainstPyTorch(t *testing.T) {
	f, err := safetensors.ReadFile("../testdata/golden/conv_pool_cases.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Op                string
		Kernel, Stride, Padding int
		Bias                    bool
	}
	if err := json.Unmarshal([]byte(f.Metadata["cases"]), &cases); err != nil {
		t.Fatal(err)
	}
	get := goldenTensor(f)
	// Every implementation this machine runs, each pinned in turn, gives PyTorch's numbers.
	eachKernel(t, func(t *testing.T) {
		for _, c := range cases {
			geo := convGeom{K: c.Kernel, S: c.Stride, P: c.Padding}
			var ks []diffKernel
			switch c.Op {
			case "conv2d":
				ks = []diffKernel{convFast[float32]{g: geo, bias: c.Bias, ws: kernels.NewScratch()}, convNaive[float32]{geo, c.Bias}}
			case "maxpool2d":
				ks = []diffKernel{poolFast[float32]{g: geo, mode: kernels.PoolMax}}
				if c.Padding == 0 {
					ks = append(ks, poolNaive[float32]{geo, kernels.PoolMax})
				}
			case "avgpool2d":
				ks = []diffKernel{poolFast[float32]{g: geo, mode: kernels.PoolAvg}}
				if c.Padding == 0 {
					ks = append(ks, poolNaive[float32]{geo, kernels.PoolAvg})
				}
			}
			for _, k := range ks {
				t.Run(c.Name+"/"+k.String(), func(t *testing.T) {
					g := gorgonia.NewGraph()
					in := gorgonia.Nodes{leaf(g, "x", get(t, c.Name+".x"))}
					names := []string{"x"}
					if c.Op == "conv2d" {
						in = append(in, leaf(g, "w", get(t, c.Name+".weight")))
						names = append(names, "weight")
						if c.Bias {
							in = append(in, leaf(g, "b", get(t, c.Name+".bias")))
							names = append(names, "bias")
						}
					}
					out, err := apply(k, in...)
					if err != nil {
						t.Fatal(err)
					}
					up := leaf(g, "up", get(t, c.Name+".upstream"))
					grads, err := k.grads(in, out, up)
					if err != nil {
						t.Fatal(err)
					}
					memo := map[*gorgonia.Node]gorgonia.Value{}
					if e := relErr(f64s(eval(t, out, memo)), f64s(get(t, c.Name+".out"))); e > 1e-5 {
						t.Errorf("forward: relative error %.3g", e)
					}
					for i, gn := range grads {
						want := f64s(get(t, c.Name+".grad."+names[i]))
						if e := relErr(f64s(eval(t, gn, memo)), want); e > 1e-5 {
							t.Errorf("grad %s: relative error %.3g", names[i], e)
						}
					}
				})
			}
		}
	})
}

// TestGradientsFiniteDifference checks every op's backward against central differences in
// float64 (see finiteDifferenceErrors), the cases of gradCases.
func TestGradientsFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range gradCases(rng) {
		t.Run(c.k.String(), func(t *testing.T) { checkFiniteDifferences(t, rng, c.k, c.in) })
	}
}

func valuesOf(ds []*tensor.Dense) []gorgonia.Value {
	vs := make([]gorgonia.Value, len(ds))
	for i, d := range ds {
		vs[i] = d
	}
	return vs
}
