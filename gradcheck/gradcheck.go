// Package gradcheck compares the gradients a network computes with central finite
// differences in float64, as torch.autograd.gradcheck does: the check every layer of the
// project passes, and the one to run on an Operator of one's own.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio"
)

// Options tune a check; the zero value takes the defaults.
type Options struct {
	Step     float64 // the finite difference's step h (default 1e-6)
	Tol      float64 // the largest relative error allowed (default 1e-6)
	Seed     uint64  // seeds the parameters' initialisers and the output's random weights
	Training bool    // declare the layers in training mode (BatchNorm on batch statistics)
}

// Errors declares f on a float64 network over constant inputs holding the given values and
// returns, for each input and then each trainable parameter f declares, the error of its
// symbolic gradient: max |g - d| over the larger of max |d| and 1 (relative, but absolute for
// gradients below 1, which the differences' rounding noise, about 1e-10, would swamp), where
// g is the gradient of L = sum(r * f(inputs)) for random weights r and d the central
// difference (L(x+h) - L(x-h)) / 2h of each element.
func Errors(f func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node, inputs []tensorio.Tensor, o Options) ([]float64, error) {
	if o.Step == 0 {
		o.Step = 1e-6
	}
	params := graph.NewParams(tensor.Float64, o.Seed)
	n := graph.New(params, graph.Fast)
	n.SetTraining(o.Training)
	g := n.Graph()
	var wrt []*gorgonia.Node
	for i, in := range inputs {
		x := in.Float64()
		if x == nil || len(x) != in.Len() {
			return nil, fmt.Errorf("gradcheck: input %d: %d values for shape %v", i, len(x), in.Shape)
		}
		v := tensor.New(tensor.WithShape(in.Shape...), tensor.WithBacking(append([]float64(nil), x...)))
		wrt = append(wrt, gorgonia.NewTensor(g, tensor.Float64, len(in.Shape), gorgonia.WithShape(in.Shape...), gorgonia.WithValue(v), gorgonia.WithName(fmt.Sprint("input", i))))
	}
	out := f(n, wrt)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("gradcheck: f returned no node")
	}
	wrt = append(wrt, n.ParamNodes()...)
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	r := make([]float64, out.Shape().TotalSize())
	for i := range r {
		r[i] = rng.Float64()*2 - 1
	}
	rv := tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r))
	loss, err := gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(out, gorgonia.NewTensor(g, tensor.Float64, out.Dims(), gorgonia.WithShape(out.Shape()...), gorgonia.WithValue(rv), gorgonia.WithName("r")))))
	if err != nil {
		return nil, fmt.Errorf("gradcheck: %w", err)
	}
	grads, err := gorgonia.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("gradcheck: differentiating: %w", err)
	}
	got, err := build.Evaluate(g, grads...)
	if err != nil {
		return nil, fmt.Errorf("gradcheck: %w", err)
	}
	objective := func() (float64, error) {
		v, err := build.Evaluate(g, loss)
		if err != nil {
			return 0, err
		}
		return v[0].Data().(float64), nil
	}
	errs := make([]float64, len(wrt))
	for i, w := range wrt {
		x := w.Value().Data().([]float64)
		want := make([]float64, len(x))
		for j := range x {
			old := x[j]
			x[j] = old + o.Step
			lp, err := objective()
			if err != nil {
				return nil, err
			}
			x[j] = old - o.Step
			lm, err := objective()
			if err != nil {
				return nil, err
			}
			x[j] = old
			want[j] = (lp - lm) / (2 * o.Step)
		}
		errs[i] = relErr(got[i].Data().([]float64), want)
	}
	return errs, nil
}

// Check runs Errors and reports an error naming the first input or parameter whose gradient
// is further than o.Tol from the finite differences.
func Check(f func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node, inputs []tensorio.Tensor, o Options) error {
	errs, err := Errors(f, inputs, o)
	if err != nil {
		return err
	}
	if o.Tol == 0 {
		o.Tol = 1e-6
	}
	for i, e := range errs {
		if !(e <= o.Tol) {
			what := fmt.Sprint("input ", i)
			if i >= len(inputs) {
				what = fmt.Sprint("parameter ", i-len(inputs))
			}
			return fmt.Errorf("gradcheck: %s: relative error %.3g against finite differences, more than %g", what, e, o.Tol)
		}
	}
	return nil
}

func relErr(got, want []float64) float64 {
	diff, scale := 0.0, 1.0
	for i := range want {
		diff = math.Max(diff, math.Abs(got[i]-want[i]))
		scale = math.Max(scale, math.Abs(want[i]))
	}
	return diff / scale
}
