package graph

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Init names a parameter initialiser.
type Init int

// The initialisers of the chapter's code (Paddle's defaults, REFERENCE.md section 4).
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
	dtype  tensor.Dtype
	rng    *rand.Rand
	list   []*Param
	byName map[string]*Param
}

// NewParams returns an empty store whose parameters are created in dtype (tensor.Float32
// or tensor.Float64) and initialised from a generator seeded with seed, in declaration order.
func NewParams(dtype tensor.Dtype, seed uint64) *Params {
	return &Params{
		dtype:  dtype,
		rng:    rand.New(rand.NewPCG(seed, 0x6e6e646c)),
		byName: map[string]*Param{},
	}
}

// Dtype is the element type of every parameter.
func (p *Params) Dtype() tensor.Dtype { return p.dtype }

// List returns the parameters in declaration order.
func (p *Params) List() []*Param { return p.list }

// Get returns the named parameter, or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// get returns the named parameter, creating and initialising it on first use. fanIn and
// fanOut feed the initialiser.
func (p *Params) get(name string, shape tensor.Shape, trainable bool, init Init, fanIn, fanOut int) (*Param, error) {
	if q, ok := p.byName[name]; ok {
		if !q.Value.Shape().Eq(shape) {
			return nil, fmt.Errorf("parameter %s has shape %v, this declaration wants %v", name, q.Value.Shape(), shape)
		}
		return q, nil
	}
	v := tensor.New(tensor.Of(p.dtype), tensor.WithShape(shape.Clone()...))
	var f func() float64
	switch init {
	case KaimingNormal:
		std := math.Sqrt(2 / float64(fanIn))
		f = func() float64 { return p.rng.NormFloat64() * std }
	case XavierUniform:
		a := math.Sqrt(6 / float64(fanIn+fanOut))
		f = func() float64 { return (2*p.rng.Float64() - 1) * a }
	case Ones:
		f = func() float64 { return 1 }
	default:
		f = func() float64 { return 0 }
	}
	switch d := v.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(f())
		}
	case []float64:
		for i := range d {
			d[i] = f()
		}
	}
	q := &Param{Name: name, Value: v, Trainable: trainable}
	p.list = append(p.list, q)
	p.byName[name] = q
	return q, nil
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
