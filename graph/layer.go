package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// Layer is one declared layer of a network with its static accounting. Every report
// (summary, FLOPs table, DOT export, memory estimate) reads these records; nothing else
// counts parameters or operations.
type Layer struct {
	Name  string // unique within the network, e.g. "conv1" or "layer2.0.bn1"
	Type  string // "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "Linear", "ReLU", "Flatten", "BatchNorm2D", "Add", an activation (Act.Type), "Dropout", "Concat", "Mul", "BatchNorm1D"
	Block string // the enclosing block ("layer2.0"), empty at the top level

	InShape  tensor.Shape // shape of the first input, batch included
	OutShape tensor.Shape // shape of the output, batch included

	// Counts are what package cost computes for the layer kind from its shapes: parameters,
	// buffers, MACs and FLOPs in paddle.flops' and in the plain convention.
	cost.Counts

	// RF is the receptive field of one output element in input pixels along the height,
	// Jump the distance in input pixels between neighbouring output elements; RFW and
	// JumpW are the same along the width.
	RF, Jump   int
	RFW, JumpW int

	Attrs string // short description of the layer's settings, e.g. "6@5x5 s1 p0 bias"
	// Settings are the same settings typed, for tools that write the network out (ONNX): a
	// ConvSettings for Conv2D, a PoolSettings for MaxPool2D and AvgPool2D, an
	// AdaptiveSettings for AdaptiveAvgPool2D, a Norm for the BatchNorms and an Act for an
	// activation; nil for the other layers.
	Settings any

	Inputs []*gorgonia.Node // the nodes the layer reads
	Output *gorgonia.Node   // the node the layer produces
}

// RFString prints the receptive field: one number when it is square, HxW otherwise.
func (l *Layer) RFString() string {
	if l.RFW == 0 {
		return fmt.Sprint(l.RF)
	}
	return cost.Pair(l.RF, l.RFW)
}

// ConvSettings are a Conv2D layer's: its window (normalised: every per-axis field set),
// its filters and whether it has a bias.
type ConvSettings struct {
	Geom kernels.ConvGeom
	Out  int
	Bias bool
}

// PoolSettings are a pooling layer's: its window (normalised) and, for an average, whether
// it leaves the padding out of the mean.
type PoolSettings struct {
	Geom      kernels.ConvGeom
	Exclusive bool
}

// AdaptiveSettings are an adaptive pooling's output height and width.
type AdaptiveSettings struct{ OH, OW int }

// Params returns the number of values the layer saves: trainable parameters plus buffers.
func (l *Layer) Params() int { return l.Trainable + l.Buffers }

// FLOPUnit names a convention for counting operations.
type FLOPUnit string

// The three counting conventions a report can use.
const (
	UnitPaddle FLOPUnit = "paddle" // paddle.flops: one multiply-add is one FLOP, plus its rules for bias, BN and pooling
	UnitMACs   FLOPUnit = "macs"   // multiply-accumulates of convolutions and linear layers only
	UnitFLOPs  FLOPUnit = "flops"  // 2 per multiply-add plus every element-wise operation
)

// Count returns the layer's operation count in the given unit.
func (l *Layer) Count(u FLOPUnit) int64 {
	switch u {
	case UnitMACs:
		return l.MACs
	case UnitFLOPs:
		return l.FLOPs
	default:
		return l.PaddleFLOPs
	}
}
