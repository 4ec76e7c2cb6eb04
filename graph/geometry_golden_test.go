package graph

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// geometryCase is one case of conv_pool_cases2.safetensors (see make_cases2.py there).
type geometryCase struct {
	Name, Op                          string
	Kernel, Stride, Padding, Dilation [2]int
	Output                            [2]int
	Groups                            int
	Bias, Ceil, Exclusive             bool
}

// kernels returns the operators that compute the case: the fast and the naive ones where
// both do.
func (c geometryCase) kernels() []diffKernel {
	g := convGeom{KH: c.Kernel[0], KW: c.Kernel[1], SH: c.Stride[0], SW: c.Stride[1], PH: c.Padding[0], PW: c.Padding[1],
		DH: c.Dilation[0], DW: c.Dilation[1], Groups: c.Groups, Ceil: c.Ceil}.Norm()
	mode := kernels.PoolMax
	switch c.Op {
	case "conv2d":
		return []diffKernel{convFast[float32]{g: g, bias: c.Bias, ws: kernels.NewScratch()}, convNaive[float32]{g, c.Bias}}
	case "adaptiveavgpool2d":
		return []diffKernel{adaptiveAvg[float32]{c.Output[0], c.Output[1]}}
	case "avgpool2d":
		mode = kernels.PoolAvg
		if c.Exclusive {
			mode = kernels.PoolAvgExclusive
		}
	}
	ks := []diffKernel{poolFast[float32]{g: g, mode: mode}}
	if g.PH == 0 && g.PW == 0 {
		ks = append(ks, poolNaive[float32]{g, mode})
	}
	return ks
}

// TestGeometryAgainstPyTorch runs every case of conv_pool_cases2.safetensors (dilation,
// groups, depthwise, rectangular windows, ceil mode, exclusive and adaptive averages) on
// every implementation this machine runs, each pinned in turn, forward and backward, within
// 1e-5 of PyTorch.
func TestGeometryAgainstPyTorch(t *testing.T) {
	f, err := safetensors.ReadFile("../testdata/golden/conv_pool_cases2.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var cases []geometryCase
	if err := json.Unmarshal([]byte(f.Metadata["cases"]), &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 28 {
		t.Fatalf("%d cases, want 28", len(cases))
	}
	get := goldenTensor(f)
	eachKernel(t, func(t *testing.T) {
		for _, c := range cases {
			for _, k := range c.kernels() {
				t.Run(c.Name+"/"+k.String(), func(t *testing.T) {
					g := gorgonia.NewGraph()
					names := []string{"x"}
					if c.Op == "conv2d" {
						names = append(names, "weight")
						if c.Bias {
							names = append(names, "bias")
						}
					}
					var in gorgonia.Nodes
					for _, n := range names {
						in = append(in, leaf(g, n, get(t, c.Name+"."+n)))
					}
					out, err := apply(k, in...)
					if err != nil {
						t.Fatal(err)
					}
					grads, err := k.grads(in, out, leaf(g, "up", get(t, c.Name+".upstream")))
					if err != nil {
						t.Fatal(err)
					}
					memo := map[*gorgonia.Node]gorgonia.Value{}
					if e := relErr(f64s(eval(t, out, memo)), f64s(get(t, c.Name+".out"))); !(e <= 1e-5) {
						t.Errorf("forward: relative error %.3g", e)
					}
					for i, gn := range grads {
						if e := relErr(f64s(eval(t, gn, memo)), f64s(get(t, c.Name+".grad."+names[i]))); !(e <= 1e-5) {
							t.Errorf("grad %s: relative error %.3g", names[i], e)
						}
					}
				})
			}
		}
	})
}

// TestGeometryFiniteDifferences checks the backward passes of the new geometries in float64
// against central differences: dilated, grouped, depthwise and rectangular convolutions (on
// both paths of im2col: small maps through the table, large ones row by row), ceil-mode and
// rectangular pooling, and adaptive averages.
func TestGeometryFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	rnd := func(shape ...int) *tensor.Dense { return randDense(rng, -1, 1, shape...) }
	geo := func(kh, kw, sh, sw, ph, pw, dh, dw, groups int) convGeom {
		return convGeom{KH: kh, KW: kw, SH: sh, SW: sw, PH: ph, PW: pw, DH: dh, DW: dw, Groups: groups}
	}
	ceil := func(g convGeom) convGeom { g.Ceil = true; return g }
	ws := kernels.NewScratch()
	for _, c := range []struct {
		k  diffKernel
		in []*tensor.Dense
	}{
		{convFast[float64]{g: geo(3, 3, 1, 1, 2, 2, 2, 2, 1), bias: true, ws: ws}, []*tensor.Dense{rnd(2, 3, 7, 6), rnd(4, 3, 3, 3), rnd(4)}},
		{convFast[float64]{g: geo(3, 2, 2, 1, 1, 1, 1, 2, 2), bias: false, ws: ws}, []*tensor.Dense{rnd(2, 4, 9, 10), rnd(6, 2, 3, 2)}},
		{convFast[float64]{g: geo(3, 3, 2, 2, 1, 1, 1, 1, 4), bias: true, ws: ws}, []*tensor.Dense{rnd(2, 4, 7, 7), rnd(4, 1, 3, 3), rnd(4)}},
		{convFast[float64]{g: geo(1, 5, 1, 1, 0, 2, 1, 1, 1), bias: true, ws: ws}, []*tensor.Dense{rnd(1, 2, 3, 12), rnd(3, 2, 1, 5), rnd(3)}},
		{convNaive[float64]{geo(2, 3, 1, 2, 1, 1, 2, 1, 3), true}, []*tensor.Dense{rnd(2, 3, 6, 7), rnd(6, 1, 2, 3), rnd(6)}},
		{poolFast[float64]{g: ceil(geo(3, 3, 2, 2, 1, 1, 1, 1, 1)), mode: kernels.PoolMax}, []*tensor.Dense{rnd(2, 2, 8, 8)}},
		{poolFast[float64]{g: ceil(geo(2, 2, 2, 2, 0, 0, 1, 1, 1)), mode: kernels.PoolAvg}, []*tensor.Dense{rnd(2, 2, 7, 7)}},
		{poolFast[float64]{g: ceil(geo(3, 2, 2, 1, 1, 1, 1, 1, 1)), mode: kernels.PoolAvgExclusive}, []*tensor.Dense{rnd(1, 2, 8, 7)}},
		{poolFast[float64]{g: geo(3, 2, 2, 1, 1, 1, 1, 1, 1), mode: kernels.PoolAvg}, []*tensor.Dense{rnd(1, 2, 8, 7)}},
		{adaptiveAvg[float64]{3, 4}, []*tensor.Dense{rnd(2, 2, 7, 9)}},
		{adaptiveAvg[float64]{5, 5}, []*tensor.Dense{rnd(1, 2, 3, 4)}},
	} {
		t.Run(c.k.String(), func(t *testing.T) { checkFiniteDifferences(t, rng, c.k, c.in) })
	}
}
