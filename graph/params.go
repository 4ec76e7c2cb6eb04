package graph

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
)

// Init names a parameter initialiser.
type Init int

// The initialisers of the chapter's code (Paddle's defaults, docs/reference.md section 4).
const (
	KaimingNormal Init = iota // Normal(0, sqrt(2/fan_in)): paddle.nn.Conv2D's default
	XavierUniform             // U(-a, a), a = sqrt(6/(fan_in+fan_out)): the hand-written Conv2D's and Linear's
	Zeros
	Ones
)

func (i Init) String() string {
	return [...]string{"KaimingNormal", "XavierUniform", "Zeros", "Ones"}[i]
}

// Param is one named tensor of a model: a trainable parameter or a buffer (BatchNorm
// running statistics) that is saved with the weights but not trained.
type Param struct {
	Name      string
	Value     *tensor.Dense
	Trainable bool
}

// Params is the ordered store of a model's parameters. Every program compiled from the
// model (one per static batch shape, training or inference) binds the same tensors, so an
// update made through one is seen by all.
type Params struct {
	dtype   tensor.Dtype
	seed    uint64
	list    []*Param
	byName  map[string]*Param
	pending []pendingInit
	dropout map[string]*dropoutStream // each Dropout layer's masks, by layer name (dropout.go)
	total   int                       // elements of all the parameters and buffers
}

// pendingInit is a parameter declared but not yet filled by its initialiser.
type pendingInit struct {
	p             *Param
	init          Init
	fanIn, fanOut int
}

// NewParams returns an empty store whose parameters are created in dtype (tensor.Float32
// or tensor.Float64) and initialised from seed. Each parameter draws from its own generator,
// seeded with seed and its name, so its initial values depend on nothing else: not on the
// order of declaration, nor on which other parameters exist.
func NewParams(dtype tensor.Dtype, seed uint64) *Params {
	return &Params{dtype: dtype, seed: seed, byName: map[string]*Param{}}
}

// Dtype is the element type of every parameter.
func (p *Params) Dtype() tensor.Dtype { return p.dtype }

// List returns the parameters in declaration order.
func (p *Params) List() []*Param { return p.list }

// Get returns the named parameter, or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// get returns the named parameter, creating it on first use; its initialiser runs at the
// next initPending. fanIn and fanOut feed the initialiser.
func (p *Params) get(name string, shape tensor.Shape, trainable bool, init Init, fanIn, fanOut int) (*Param, error) {
	if q, ok := p.byName[name]; ok {
		if !q.Value.Shape().Eq(shape) {
			return nil, fmt.Errorf("parameter %s has shape %v, this declaration wants %v", name, shapeString(q.Value.Shape()), shapeString(shape))
		}
		return q, nil
	}
	if n := shape.TotalSize(); p.total+n > MaxParamElements {
		return nil, fmt.Errorf("parameter %s of shape %s would bring the parameters to %s elements, more than the limit of %s (4 GiB of float32)",
			name, shapeString(shape), Comma(int64(p.total+n)), Comma(MaxParamElements))
	}
	p.total += shape.TotalSize()
	q := &Param{Name: name, Value: tensor.New(tensor.Of(p.dtype), tensor.WithShape(shape.Clone()...)), Trainable: trainable}
	p.list = append(p.list, q)
	p.byName[name] = q
	p.pending = append(p.pending, pendingInit{q, init, fanIn, fanOut})
	return q, nil
}

// initPending runs the initialisers of the parameters created since the last call, spread
// over the workers: the largest first, each to the worker with the least work so far.
func (p *Params) initPending() {
	todo := p.pending
	p.pending = nil
	slices.SortStableFunc(todo, func(a, b pendingInit) int {
		return b.p.Value.Shape().TotalSize() - a.p.Value.Shape().TotalSize()
	})
	k := min(kernels.Workers(), len(todo))
	share, load := make([][]pendingInit, k), make([]int, k)
	for _, t := range todo {
		w := slices.Index(load, slices.Min(load))
		share[w] = append(share[w], t)
		load[w] += t.p.Value.Shape().TotalSize()
	}
	kernels.Parallel(k, func(w, _, _ int) {
		for _, t := range share[w] {
			switch d := t.p.Value.Data().(type) {
			case []float32:
				fill(d, p.seed, t)
			case []float64:
				fill(d, p.seed, t)
			}
		}
	})
}

func fill[T kernels.Float](d []T, seed uint64, t pendingInit) {
	h := fnv.New64a()
	h.Write([]byte(t.p.Name))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	switch t.init {
	case KaimingNormal:
		std := math.Sqrt(2 / float64(t.fanIn))
		for i := range d {
			d[i] = T(rng.NormFloat64() * std)
		}
	case XavierUniform:
		a := math.Sqrt(6 / float64(t.fanIn+t.fanOut))
		for i := range d {
			d[i] = T((2*rng.Float64() - 1) * a)
		}
	case Ones:
		for i := range d {
			d[i] = 1
		}
	default:
		clear(d)
	}
}

// Count returns the number of trainable values and of buffer values.
func (p *Params) Count() (trainable, buffers int) {
	for _, q := range p.list {
		if q.Trainable {
			trainable += q.Value.Shape().TotalSize()
		} else {
			buffers += q.Value.Shape().TotalSize()
		}
	}
	return
}
