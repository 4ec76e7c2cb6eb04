// Package build compiles a declared model into runnable programs: the forward pass, the
// loss, the symbolic gradients of every trainable parameter, and a VM that runs them.
// A program has one static batch size; programs compiled from the same parameter store
// share their parameters.
package build

import (
	"fmt"
	"sort"
	"time"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Options choose what to compile.
type Options struct {
	Batch int  // static batch size
	Loss  bool // add the labels and the mean cross-entropy loss
	Train bool // training mode: the loss, the gradients, BatchNorm on batch statistics
	// BatchStats puts BatchNorm in training mode (normalise with the batch's statistics and
	// update the running ones) without compiling gradients: PyTorch's model.train() forward.
	BatchStats bool
	Impl       graph.Impl // fast or the chapter's hand-written operators
	// NoFuse keeps every operation apart (see graph.Fuse), so that Value can read every
	// node; fused programs are faster and compute the same numbers.
	NoFuse bool
	// Frozen compiles an inference program that takes the parameters as they are when it is
	// compiled: later changes to them do not reach it (compile again to see them). Its
	// convolutions lay their weights out once for their kernels (graph.Freeze) rather than
	// at every run; its other operations read a copy of their parameters. Each
	// convolution's implementation is chosen when it is compiled too: a later kernels.Pin
	// does not reach it. Not with Train or BatchStats.
	Frozen bool
}

// Program is a compiled model for one batch size.
type Program struct {
	Model  graph.Model
	Net    *graph.Net
	Batch  int
	Train  bool
	Input  *gorgonia.Node // [Batch, C, H, W]
	Logits *gorgonia.Node // [Batch, Classes]
	Labels *gorgonia.Node // [Batch] class indices as floats; only with the loss
	Loss   *gorgonia.Node // scalar mean cross-entropy; only with the loss
	Grads  []Grad         // one per trainable parameter; only in training programs

	vm *vm
}

// Grad pairs a trainable parameter with its gradient node.
type Grad struct {
	Param *graph.Param
	Node  *gorgonia.Node
}

// Compile declares the model for opts.Batch on params and compiles it.
func Compile(m graph.Model, params *graph.Params, opts Options) (*Program, error) {
	if opts.Frozen && (opts.Train || opts.BatchStats) {
		return nil, fmt.Errorf("%s: a frozen program is for inference: not with Train or BatchStats", m.Name)
	}
	n, x, logits, err := graph.Declare(m, params, opts.Impl, opts.Batch, opts.Train || opts.BatchStats)
	if err != nil {
		return nil, err
	}
	p := &Program{Model: m, Net: n, Batch: opts.Batch, Train: opts.Train, Input: x, Logits: logits}
	if opts.Loss || opts.Train {
		g := n.Graph()
		p.Labels = gorgonia.NewTensor(g, params.Dtype(), 1, gorgonia.WithShape(opts.Batch), gorgonia.WithName("labels"), gorgonia.WithInit(gorgonia.Zeroes()))
		if p.Loss, err = n.Loss(logits, p.Labels); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	if opts.Train {
		wrt := n.ParamNodes()
		grads, err := gorgonia.Grad(p.Loss, wrt...)
		if err != nil {
			return nil, fmt.Errorf("%s: differentiating the loss: %w", m.Name, err)
		}
		for i, w := range wrt {
			p.Grads = append(p.Grads, Grad{Param: n.ParamOf(w), Node: grads[i]})
		}
	}
	targets := []*gorgonia.Node{logits}
	if p.Loss != nil {
		targets = append(targets, p.Loss)
	}
	for _, g := range p.Grads {
		targets = append(targets, g.Node)
	}
	if p.vm, err = newVM(n.Graph(), !opts.NoFuse, targets...); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	if opts.Train {
		p.vm.begin = n.BeginRun // its kernels may share the blocked copies of the maps
	}
	if opts.Frozen {
		if err := p.vm.freeze(p.Input, p.Labels); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	if blockLayouts {
		if err := p.vm.block(targets); err != nil {
			return nil, fmt.Errorf("%s: laying out the maps: %w", m.Name, err)
		}
	}
	return p, nil
}

// Feed copies a batch into the program's input (and labels, for a training program). x holds
// Batch samples in NCHW order; labels may be nil for inference.
func (p *Program) Feed(x []float32, labels []int) error {
	in := p.Input.Value().(*tensor.Dense)
	if len(x) != in.Shape().TotalSize() {
		return fmt.Errorf("%s: batch of %d values, the program's input %v holds %d", p.Model.Name, len(x), in.Shape(), in.Shape().TotalSize())
	}
	switch d := in.Data().(type) {
	case []float32:
		copy(d, x)
	case []float64:
		for i, v := range x {
			d[i] = float64(v)
		}
	}
	if p.Labels == nil || labels == nil {
		return nil
	}
	l := p.Labels.Value().(*tensor.Dense)
	if len(labels) != p.Batch {
		return fmt.Errorf("%s: %d labels for a batch of %d", p.Model.Name, len(labels), p.Batch)
	}
	switch d := l.Data().(type) {
	case []float32:
		for i, v := range labels {
			d[i] = float32(v)
		}
	case []float64:
		for i, v := range labels {
			d[i] = float64(v)
		}
	}
	return nil
}

// Run executes the program once: the forward pass and, for a training program, the loss
// and every gradient.
func (p *Program) Run() error { return p.vm.run() }

// Value returns the current value of a node of the program, or an error for a node it does
// not form: one no output needs, or one whose operation the program fused with the
// operation reading it (graph.Fuse: a convolution followed by a ReLU computes the ReLU's
// output directly; compile with Options.NoFuse to keep every node). A program's maps
// between convolutions may lie in their kernels' channel-blocked layout (see block): Value
// returns a copy of those in NCHW.
func (p *Program) Value(n *gorgonia.Node) (gorgonia.Value, error) {
	if v := p.vm.value(n); v != nil {
		return v, nil
	}
	if into, ok := p.vm.fusedInto[n]; ok {
		return nil, fmt.Errorf("%s: node %s is not formed: the program computes it fused into %v (compile with NoFuse to keep it)", p.Model.Name, n.Name(), into)
	}
	return nil, fmt.Errorf("%s: node %s is not computed: no output of the program needs it", p.Model.Name, n.Name())
}

// LossValue returns the loss computed by the last Run.
func (p *Program) LossValue() float64 {
	switch v := p.vm.value(p.Loss).Data().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// LogitsValue returns the logits computed by the last Run as float64, row-major [Batch,Classes].
func (p *Program) LogitsValue() []float64 { return floats(p.vm.value(p.Logits)) }

// GradValue returns the gradient tensor of a parameter computed by the last Run.
func (p *Program) GradValue(g Grad) *tensor.Dense { return p.vm.value(g.Node).(*tensor.Dense) }

func floats(v gorgonia.Value) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	return nil
}

// OpTime is the time spent in one kind of operation.
type OpTime struct {
	Op    string
	Calls int           // how many of the program's steps run this kind of operation
	Time  time.Duration // their total time over the profiled runs
}

// Profile turns on per-operation timing (on) or returns what was measured since it was
// turned on, grouped by operation and sorted by time, longest first.
func (p *Program) Profile(on bool) []OpTime {
	if on {
		p.vm.times = make([]time.Duration, len(p.vm.steps))
		return nil
	}
	by := map[string]*OpTime{}
	var order []*OpTime
	for i, s := range p.vm.steps {
		if p.vm.times == nil {
			break
		}
		name := graph.OpKind(s.op)
		t, ok := by[name]
		if !ok {
			t = &OpTime{Op: name}
			by[name] = t
			order = append(order, t)
		}
		t.Calls++
		t.Time += p.vm.times[i]
	}
	p.vm.times = nil
	out := make([]OpTime, len(order))
	for i, t := range order {
		out[i] = *t
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}
