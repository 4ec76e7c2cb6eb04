package graph

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
)

// The tests in this file check the gradient checks: a kernel whose backward is slightly
// wrong (its gradient scaled by 1.01 or 0.99, negated, dropped, or one element of it moved)
// must fail the finite-difference comparison that TestGradientsFiniteDifference and
// checkFiniteDifferences make, while the kernel as written passes it.

// scaleGrad multiplies a gradient by s: a backward that is off by a factor.
type scaleGrad struct {
	s    float64
	rank int
}

func (k scaleGrad) String() string                                 { return fmt.Sprintf("MutantScale(%g rank %d)", k.s, k.rank) }
func (k scaleGrad) dims() ([]int, int)                             { return []int{k.rank}, k.rank }
func (k scaleGrad) shape(in ...tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (k scaleGrad) kind() string                                   { return "MutantScale" }
func (k scaleGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	o, x := data[float64](out), data[float64](in[0])
	for i, v := range x {
		o[i] = k.s * v
	}
	return nil
}

// bumpGrad adds a thousandth of the gradient's largest magnitude (or of 1, if it is all
// zero) to one element: a backward with one wrong entry, an indexing slip.
type bumpGrad struct {
	at   int
	rank int
}

func (k bumpGrad) String() string                                 { return fmt.Sprintf("MutantBump(%d rank %d)", k.at, k.rank) }
func (k bumpGrad) dims() ([]int, int)                             { return []int{k.rank}, k.rank }
func (k bumpGrad) shape(in ...tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (k bumpGrad) kind() string                                   { return "MutantBump" }
func (k bumpGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	o, x := data[float64](out), data[float64](in[0])
	m := 1.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	copy(o, x)
	o[k.at%len(o)] += 1e-3 * m
	return nil
}

// mutant is a kernel whose forward is k's and whose gradient with respect to input `in`
// goes through wrong: the other inputs' gradients are k's own.
type mutant struct {
	diffKernel
	in    int
	wrong func(rank int) kernel
	name  string
}

func (m mutant) String() string {
	return fmt.Sprintf("%v with %s on input %d", m.diffKernel, m.name, m.in)
}

func (m mutant) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	gs, err := m.diffKernel.grads(in, out, grad)
	if err != nil {
		return nil, err
	}
	g := gs[m.in]
	if g, err = apply(m.wrong(g.Dims()), g); err != nil {
		return nil, err
	}
	gs = append(gorgonia.Nodes(nil), gs...)
	gs[m.in] = g
	return gs, nil
}

// mutations are the wrong backward passes tried on every differentiated input.
var mutations = []struct {
	name  string
	wrong func(rank int) kernel
}{
	{"x1.01", func(r int) kernel { return scaleGrad{1.01, r} }},
	{"x0.99", func(r int) kernel { return scaleGrad{0.99, r} }},
	{"negated", func(r int) kernel { return scaleGrad{-1, r} }},
	{"dropped", func(r int) kernel { return scaleGrad{0, r} }},
	{"one element moved", func(r int) kernel { return bumpGrad{7, r} }},
}

// gradCase is a kernel and the inputs the gradient tests check it on.
type gradCase struct {
	k  diffKernel
	in []*tensor.Dense
}

// gradCases are the kernels and input shapes of TestGradientsFiniteDifference, and
// BatchNorm2D and Add as TestBatchNormFiniteDifference checks them.
func gradCases(rng *rand.Rand) []gradCase {
	rnd := func(shape ...int) *tensor.Dense { return randDense(rng, -1, 1, shape...) }
	labels := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{2, 0, 4}))
	geo := convGeom{K: 3, S: 2, P: 1}
	return []gradCase{
		{convFast[float64]{g: geo, bias: true, ws: kernels.NewScratch()}, []*tensor.Dense{rnd(2, 3, 7, 6), rnd(4, 3, 3, 3), rnd(4)}},
		{convFast[float64]{g: convGeom{K: 2, S: 1, P: 0}, bias: false, ws: kernels.NewScratch()}, []*tensor.Dense{rnd(1, 2, 4, 5), rnd(3, 2, 2, 2)}},
		{convNaive[float64]{geo, true}, []*tensor.Dense{rnd(2, 3, 7, 6), rnd(4, 3, 3, 3), rnd(4)}},
		{poolFast[float64]{g: convGeom{K: 3, S: 2, P: 1}, mode: kernels.PoolMax}, []*tensor.Dense{rnd(2, 2, 7, 7)}},
		{poolFast[float64]{g: convGeom{K: 3, S: 2, P: 1}, mode: kernels.PoolAvg}, []*tensor.Dense{rnd(2, 2, 7, 7)}},
		{poolFast[float64]{g: convGeom{K: 3, S: 2, P: 1}, mode: kernels.PoolAvgExclusive}, []*tensor.Dense{rnd(2, 2, 7, 7)}},
		{poolNaive[float64]{convGeom{K: 2, S: 2}, kernels.PoolMax}, []*tensor.Dense{rnd(2, 2, 6, 6)}},
		{poolNaive[float64]{convGeom{K: 2, S: 2}, kernels.PoolAvg}, []*tensor.Dense{rnd(2, 2, 6, 6)}},
		{globalAvg[float64]{}, []*tensor.Dense{rnd(2, 3, 4, 5)}},
		{linear[float64]{bias: true}, []*tensor.Dense{rnd(3, 5), rnd(4, 5), rnd(4)}},
		{relu[float64]{rank: 2}, []*tensor.Dense{rnd(4, 6)}},
		{reshape[float64]{from: tensor.Shape{2, 3, 2, 2}, to: tensor.Shape{2, 12}}, []*tensor.Dense{rnd(2, 3, 2, 2)}},
		{softmaxCE[float64]{}, []*tensor.Dense{rnd(3, 5), labels}},
		{batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: true, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}, rank: 4}, bnInputs(rng)},
		{batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: false, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}, rank: 4}, bnInputs(rng)},
		{add[float64]{rank: 4}, []*tensor.Dense{rnd(2, 3, 2, 2), rnd(2, 3, 2, 2)}},
	}
}

// finiteDifferenceErrors is the comparison of TestGradientsFiniteDifference, step for
// step: L = sum(out * r) for a random r (L = out for a scalar output), central
// differences with h = 1e-6. It returns, for each differentiated input, the relative
// error that the test compares with 1e-6 (NaN for inputs that are not differentiated).
func finiteDifferenceErrors(t *testing.T, rng *rand.Rand, k diffKernel, inputs []*tensor.Dense) []float64 {
	t.Helper()
	g := gorgonia.NewGraph()
	var in gorgonia.Nodes
	for i, v := range inputs {
		in = append(in, leaf(g, fmt.Sprint("in", i), v))
	}
	out, err := apply(k, in...)
	if err != nil {
		t.Fatal(err)
	}
	var r *tensor.Dense
	var up *gorgonia.Node
	if out.Shape().IsScalar() {
		up = gorgonia.NewScalar(g, tensor.Float64, gorgonia.WithValue(1.0), gorgonia.WithName("up"))
	} else {
		r = randDense(rng, -1, 1, out.Shape()...)
		up = leaf(g, "up", r)
	}
	objective := func() float64 {
		v, err := op{k, tensor.Float64}.Do(valuesOf(inputs)...)
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return f64s(v)[0]
		}
		var s float64
		for i, y := range f64s(v) {
			s += y * r.Data().([]float64)[i]
		}
		return s
	}
	grads, err := k.grads(in, out, up)
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]float64, len(inputs))
	for i, gn := range grads {
		errs[i] = math.NaN()
		if !k.diffWRT()[i] {
			continue
		}
		got := f64s(eval(t, gn, map[*gorgonia.Node]gorgonia.Value{}))
		x := inputs[i].Data().([]float64)
		want := make([]float64, len(x))
		const h = 1e-6
		for j := range x {
			old := x[j]
			x[j] = old + h
			lp := objective()
			x[j] = old - h
			lm := objective()
			x[j] = old
			want[j] = (lp - lm) / (2 * h)
		}
		errs[i] = relErr(got, want)
	}
	return errs
}

// TestFiniteDifferencesCatchMutants runs the comparison of TestGradientsFiniteDifference
// on every kernel as written (each input must pass, within 1e-6) and on every mutant of
// every differentiated input (that input must fail, over 1e-6; the others still pass).
func TestFiniteDifferencesCatchMutants(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const tol = 1e-6 // TestGradientsFiniteDifference's and checkFiniteDifferences' bound
	for _, c := range gradCases(rng) {
		t.Run(c.k.String(), func(t *testing.T) {
			control := finiteDifferenceErrors(t, rng, c.k, c.in)
			worst := 0.0
			for i, e := range control {
				if !math.IsNaN(e) {
					worst = math.Max(worst, e)
					if e > tol {
						t.Errorf("input %d as written: relative error %.3g, over %g", i, e, tol)
					}
				}
			}
			smallest := math.Inf(1)
			for i, d := range c.k.diffWRT() {
				if !d {
					continue
				}
				for _, mu := range mutations {
					m := mutant{c.k, i, mu.wrong, mu.name}
					errs := finiteDifferenceErrors(t, rng, m, c.in)
					if errs[i] <= tol {
						t.Errorf("%v: relative error %.3g passes the %g check", m, errs[i], tol)
					}
					smallest = math.Min(smallest, errs[i])
					for j, e := range errs {
						if j != i && !math.IsNaN(e) && e > tol {
							t.Errorf("%v: input %d, which is not mutated, fails: %.3g", m, j, e)
						}
					}
				}
			}
			t.Logf("as written: worst relative error %.2g; mutants: smallest relative error %.2g (bound %g)", worst, smallest, tol)
		})
	}
}

// TestCheckFiniteDifferencesCatchesMutants runs the shared checkFiniteDifferences helper
// itself on the mutants: it reports failures through its *testing.T, so the mutants run
// in a child test process (TestMutantsUnderCheck) and this test reads its verdicts: every
// kernel as written passes, every mutant fails with the helper's relative-error message.
func TestCheckFiniteDifferencesCatchesMutants(t *testing.T) {
	if os.Getenv("CNN_GRAPH_MUTANTS") != "" {
		t.Skip("in the child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMutantsUnderCheck$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CNN_GRAPH_MUTANTS=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child passed; every mutant should have failed:\n%s", out)
	}
	verdicts := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, v := range []string{"PASS", "FAIL"} {
			if rest, ok := strings.CutPrefix(line, "--- "+v+": TestMutantsUnderCheck/"); ok {
				verdicts[strings.Fields(rest)[0]] = v
			}
		}
	}
	controls, mutants := 0, 0
	for name, v := range verdicts {
		switch {
		case strings.HasPrefix(name, "control/"):
			controls++
			if v != "PASS" {
				t.Errorf("%s: %s, want PASS", name, v)
			}
		case strings.HasPrefix(name, "mutant/"):
			if strings.Count(name, "/") == 1 {
				continue // the group
			}
			mutants++
			if v != "FAIL" {
				t.Errorf("%s: %s, want FAIL", name, v)
			}
		}
	}
	if want := strings.Count(string(out), "against finite differences"); want < mutants {
		t.Errorf("%d relative-error messages for %d failed mutants", want, mutants)
	}
	if controls == 0 || mutants == 0 {
		t.Fatalf("read %d controls and %d mutants from the child:\n%s", controls, mutants, out)
	}
	t.Logf("checkFiniteDifferences: %d kernels as written pass, %d mutants fail", controls, mutants)
}

// TestMutantsUnderCheck is the child of TestCheckFiniteDifferencesCatchesMutants; it runs
// only there, and its mutant subtests are meant to fail.
func TestMutantsUnderCheck(t *testing.T) {
	if os.Getenv("CNN_GRAPH_MUTANTS") == "" {
		t.Skip("run by TestCheckFiniteDifferencesCatchesMutants")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for ci, c := range gradCases(rng) {
		if _, isCE := c.k.(softmaxCE[float64]); isCE {
			continue // a scalar output: checkFiniteDifferences takes tensor outputs only
		}
		id := fmt.Sprintf("k%02d", ci)
		t.Run("control/"+id, func(t *testing.T) { checkFiniteDifferences(t, rng, c.k, c.in) })
		t.Run("mutant/"+id, func(t *testing.T) {
			for i, d := range c.k.diffWRT() {
				if !d {
					continue
				}
				for mi, mu := range mutations {
					m := mutant{c.k, i, mu.wrong, mu.name}
					t.Run(fmt.Sprintf("in%d-m%d", i, mi), func(t *testing.T) { checkFiniteDifferences(t, rng, m, c.in) })
				}
			}
		})
	}
}
