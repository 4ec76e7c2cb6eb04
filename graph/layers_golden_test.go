package graph

import (
	"encoding/json"
	"slices"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// layerCase is one entry of layer_cases.safetensors' metadata (see make_layers.py).
type layerCase struct {
	Name, Op string
	Inputs   []string
	Attrs    struct {
		Slope    float64
		Training bool
		P        float64
	}
}

// activationsByType maps the golden file's op names to the activations.
var activationsByType = map[string]Act{
	"ReLU6": ReLU6, "Sigmoid": Sigmoid, "Tanh": Tanh, "SiLU": SiLU, "GELU": GELU,
	"Hardswish": Hardswish, "Hardsigmoid": Hardsigmoid,
}

// goldenKernel returns the float32 kernel of a golden case.
func goldenKernel(t *testing.T, c layerCase, get func(string) *tensor.Dense) diffKernel {
	rank := get(c.Name + "." + c.Inputs[0]).Dims()
	switch c.Op {
	case "LeakyReLU":
		return activation[float32]{LeakyReLU(c.Attrs.Slope), rank}
	case "Concat":
		var channels []int
		for _, in := range c.Inputs {
			channels = append(channels, get(c.Name + "." + in).Shape()[1])
		}
		return concat[float32]{channels, rank}
	case "Mul":
		a, b := get(c.Name+".a").Shape(), get(c.Name+".b").Shape()
		switch {
		case a.Eq(b):
			return mul[float32]{-1, rank}
		case a[2] == 1 && a[3] == 1:
			return mul[float32]{0, rank}
		}
		return mul[float32]{1, rank}
	case "BatchNorm1D":
		return batchNorm[float32]{BatchNormSpec: kernels.BatchNormSpec{Training: c.Attrs.Training, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}, rank: 2}
	case "LinearNoBias":
		return linear[float32]{bias: false}
	case "Dropout":
		spec := dropoutSpec{p: c.Attrs.P, training: true, name: c.Name, stream: NewParams(tensor.Float32, 1).dropoutStream(c.Name), run: new(uint64)}
		return dropout[float32]{spec, rank}
	}
	a, ok := activationsByType[c.Op]
	if !ok {
		t.Fatalf("case %s: unknown op %s", c.Name, c.Op)
	}
	return activation[float32]{a, rank}
}

// TestLayersAgainstPyTorch runs every case of layer_cases.safetensors (make_layers.py):
// the forward output, every input gradient and, for BatchNorm1D, the running statistics
// after the forward pass, each within 1e-5 relative of PyTorch's.
func TestLayersAgainstPyTorch(t *testing.T) {
	f, err := safetensors.ReadFile("../testdata/golden/layer_cases.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var cases []layerCase
	if err := json.Unmarshal([]byte(f.Metadata["cases"]), &cases); err != nil {
		t.Fatal(err)
	}
	get := func(name string) *tensor.Dense {
		tt, ok := f.Tensors[name]
		if !ok {
			t.Fatalf("golden file has no %s", name)
		}
		return dense(tt)
	}
	ops := map[string]bool{}
	for _, c := range cases {
		ops[c.Op] = true
		t.Run(c.Name, func(t *testing.T) {
			k := goldenKernel(t, c, get)
			g := gorgonia.NewGraph()
			var in gorgonia.Nodes
			for _, name := range c.Inputs {
				in = append(in, leaf(g, name, get(c.Name+"."+name)))
			}
			out, err := apply(k, in...)
			if err != nil {
				t.Fatal(err)
			}
			grads, err := k.grads(in, out, leaf(g, "up", get(c.Name+".upstream")))
			if err != nil {
				t.Fatal(err)
			}
			memo := map[*gorgonia.Node]gorgonia.Value{}
			got, want := f64s(eval(t, out, memo)), f64s(get(c.Name+".out"))
			if e := relErr(got, want); e > 1e-5 || len(got) != len(want) {
				t.Errorf("forward: relative error %.3g", e)
			}
			if c.Op == "Dropout" && (!slices.Equal(got, f64s(in[0].Value())) || !slices.Equal(f64s(eval(t, grads[0], memo)), f64s(get(c.Name+".upstream")))) {
				t.Errorf("p = 0 is not exactly the identity, forward and backward")
			}
			for i, gn := range grads {
				if !k.diffWRT()[i] {
					continue
				}
				want := f64s(get(c.Name + ".grad." + c.Inputs[i]))
				if e := relErr(f64s(eval(t, gn, memo)), want); e > 1e-5 {
					t.Errorf("grad %s: relative error %.3g", c.Inputs[i], e)
				}
			}
			if c.Op == "BatchNorm1D" {
				for i, buf := range []string{"running_mean", "running_var"} {
					want := f64s(get(c.Name + ".after." + buf))
					if e := relErr(f64s(in[3+i].Value()), want); e > 1e-5 {
						t.Errorf("%s after the forward pass: relative error %.3g", buf, e)
					}
				}
			}
		})
	}
	for _, op := range []string{"ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU", "Hardswish", "Hardsigmoid", "Concat", "Mul", "BatchNorm1D", "LinearNoBias", "Dropout"} {
		if !ops[op] {
			t.Errorf("the golden file has no %s case", op)
		}
	}
}
