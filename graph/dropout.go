package graph

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// Dropout adds a dropout layer with drop probability p (0 <= p <= 1) over x of any shape.
//
// In training mode (Net.Training) every run of the program draws a new mask: each element
// is kept with probability 1-p and scaled by 1/(1-p) (inverted dropout, as PyTorch's
// nn.Dropout), or set to 0; the backward pass of the same run uses the same mask. p = 0 is
// exactly the identity and p = 1 gives zeros. In inference mode the layer is the identity.
//
// The masks are reproducible: element i of the mask of a layer's r-th training run is a
// function of the parameter store's seed, the layer's name, r and i only (a counter-based
// generator, splitmix64). The run counter belongs to the layer's name in the parameter
// store, so every training program compiled from the store (the full batch and the last
// partial one) draws from one sequence: the same seed gives the same masks, run after run.
// Params.DropoutRuns and SetDropoutRuns read and set the counters, so that a training run
// restored from a checkpoint draws the masks the uninterrupted run would have.
//
// Accounting: no parameters, the receptive field unchanged; in training one FLOP per
// element (the multiply), in inference none; paddle.flops counts 0.
func (n *Net) Dropout(name string, x *gorgonia.Node, p float64) *gorgonia.Node {
	name = n.fullName(name, "Dropout")
	if n.err != nil {
		return x
	}
	_, counts, err := cost.Dropout(x.Shape(), p, n.training)
	if err != nil {
		n.fail(name, "Dropout", x, err)
		return x
	}
	d := dropoutSpec{p: p, training: n.training, name: name, stream: n.params.dropoutStream(name), run: new(uint64)}
	l := &Layer{Name: name, Type: "Dropout", Counts: counts, Attrs: fmt.Sprintf("p %g", p)}
	if n.training {
		l.Attrs += " training"
	} else {
		l.Attrs += " identity (inference)"
	}
	return n.add(l, n.typed.dropout(d, x.Dims()), x)
}

// dropoutStream is the source of one dropout layer's masks in a parameter store.
type dropoutStream struct {
	seed uint64        // from the store's seed and the layer's name
	runs atomic.Uint64 // training runs drawn so far, by every program of the store
}

// dropoutStream returns the mask stream of the named layer, created on first use.
func (p *Params) dropoutStream(name string) *dropoutStream {
	if s, ok := p.dropout[name]; ok {
		return s
	}
	if p.dropout == nil {
		p.dropout = map[string]*dropoutStream{}
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	s := &dropoutStream{seed: mix64(p.seed ^ mix64(h.Sum64()))}
	p.dropout[name] = s
	return s
}

// DropoutRuns returns, by layer name, the number of training runs each Dropout layer of
// the store has drawn a mask for: the position of its mask stream. A layer is in the store
// once a program or Declare has declared it (before any run its count is 0). With
// SetDropoutRuns it lets a training checkpoint continue the very masks of the run it
// saved.
func (p *Params) DropoutRuns() map[string]uint64 {
	runs := make(map[string]uint64, len(p.dropout))
	for name, s := range p.dropout {
		runs[name] = s.runs.Load()
	}
	return runs
}

// SetDropoutRuns sets the run counts of the Dropout layers named in runs (a map returned
// by DropoutRuns); the next training run of such a layer draws the mask of run count+1.
// The other layers keep theirs. A name that is no Dropout layer of the store is an error,
// and then nothing changes. Declare the model (compile a program) first.
func (p *Params) SetDropoutRuns(runs map[string]uint64) error {
	var unknown []string
	for name := range runs {
		if _, ok := p.dropout[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		known := slices.Sorted(maps.Keys(p.dropout))
		if len(known) == 0 {
			return fmt.Errorf("no Dropout layer named %s: the store has none declared", strings.Join(unknown, ", "))
		}
		return fmt.Errorf("no Dropout layer named %s: the store's are %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	for name, r := range runs {
		p.dropout[name].runs.Store(r)
	}
	return nil
}

// mix64 is splitmix64's output function: a bijection of 64-bit words whose every output
// bit depends on every input bit.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// gamma is splitmix64's increment, 2^64 divided by the golden ratio.
const gamma = 0x9e3779b97f4a7c15

// dropoutSpec is a dropout layer's settings, its mask stream and the number of the run its
// program last drew (which the backward pass reads).
type dropoutSpec struct {
	p        float64
	training bool
	name     string // the layer's name: no two layers' operations hash alike
	stream   *dropoutStream
	run      *uint64
}

// dropoutApply computes out = in * mask / (1-p) with run r's mask. Element i is kept when
// the top 53 bits of its random word, mix64(key + (i+1)*gamma) (splitmix64's i-th output
// from the run's key), as a fraction of 2^53, are at least p.
func dropoutApply[T kernels.Float](d dropoutSpec, r uint64, in, out []T) {
	key := mix64(d.stream.seed ^ mix64(r*gamma))
	threshold := uint64(d.p * (1 << 53))
	scale := T(1 / (1 - d.p))
	out = out[:len(in)]
	work := func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			if mix64(key+uint64(i+1)*gamma)>>11 >= threshold {
				out[i] = in[i] * scale
			} else {
				out[i] = 0
			}
		}
	}
	kernels.SplitWork(len(in), len(in), work)
}

// dropout is Dropout's kernel: in training it draws the next mask of its stream and
// applies it; in inference, or with p = 0, it copies its input.
type dropout[T kernels.Float] struct {
	d    dropoutSpec
	rank int
}

func (dropout[T]) kind() string { return "Dropout" }
func (k dropout[T]) String() string {
	mode := "inference"
	if k.d.training {
		mode = "training"
	}
	return fmt.Sprintf("Dropout(p=%g %s %s, rank %d)", k.d.p, mode, k.d.name, k.rank)
}
func (k dropout[T]) dims() ([]int, int) { return []int{k.rank}, k.rank }
func (k dropout[T]) diffWRT() []bool    { return []bool{true} }
func (k dropout[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k dropout[T]) identity() bool { return !k.d.training || k.d.p == 0 }
func (k dropout[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	if k.identity() {
		copy(data[T](out), data[T](in[0]))
		return nil
	}
	r := k.d.stream.runs.Add(1)
	*k.d.run = r
	dropoutApply(k.d, r, data[T](in[0]), data[T](out))
	return nil
}
func (k dropout[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(dropoutGrad[T](k), out, grad)
	return gorgonia.Nodes{dx}, err
}

// dropoutGrad applies the mask of the forward pass's last run to dy. Its inputs are the
// forward pass's output, which it does not read (it orders the two: the mask is drawn
// first), and dy.
type dropoutGrad[T kernels.Float] dropout[T]

func (dropoutGrad[T]) kind() string { return "DropoutGrad" }
func (k dropoutGrad[T]) String() string {
	return "DropoutGrad" + dropout[T](k).String()[len("Dropout"):]
}
func (k dropoutGrad[T]) dims() ([]int, int) { return []int{k.rank, k.rank}, k.rank }
func (k dropoutGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, fmt.Errorf("output %v and gradient %v: want the same shape", in[0], in[1])
	}
	return in[1].Clone(), nil
}
func (k dropoutGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	if dropout[T](k).identity() {
		copy(data[T](out), data[T](in[1]))
		return nil
	}
	if *k.d.run == 0 {
		return fmt.Errorf("the gradient of %s runs before its forward pass has drawn a mask", k.d.name)
	}
	dropoutApply(k.d, *k.d.run, data[T](in[1]), data[T](out))
	return nil
}
