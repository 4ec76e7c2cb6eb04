package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// Limits of the reader, checked before anything is allocated from what a file declares.
const (
	// MaxNodes bounds the operators of one graph.
	MaxNodes = 100_000
	// MaxInputElements bounds the values of one input image (64 MiB of float32), which
	// Import allocates to declare the layers.
	MaxInputElements = 1 << 24
	// minOpset and maxOpset are the default operator sets whose operators Import knows.
	minOpset, maxOpset = 7, 22
)

// ReadModel decodes an ONNX model of at most 2 GiB (a protobuf message's limit) from r.
func ReadModel(r io.Reader) (*onnxpb.ModelProto, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("more than 2 GiB: an ONNX file without external data holds at most that")
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		return nil, fmt.Errorf("not an ONNX model (%d bytes): %w", len(b), err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("not an ONNX model: no graph")
	}
	return &mp, nil
}

// checkOpset refuses operator sets Import does not know, and operators of other domains.
func checkOpset(mp *onnxpb.ModelProto) error {
	var version int64 = -1
	for _, o := range mp.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			version = o.GetVersion()
		}
	}
	if version < minOpset || version > maxOpset {
		return fmt.Errorf("operator set %d: want a default operator set from %d to %d", version, minOpset, maxOpset)
	}
	if n := len(mp.GetGraph().GetNode()); n > MaxNodes {
		return fmt.Errorf("%d nodes: more than the limit of %d", n, MaxNodes)
	}
	return nil
}

// tensorShape returns a tensor's dimensions, refusing negative ones and totals over
// graph.MaxTensorElements (the product is never formed past the limit).
func tensorShape(t *onnxpb.TensorProto) ([]int, int, error) {
	dims := make([]int, len(t.GetDims()))
	n := 1
	for i, d := range t.GetDims() {
		if d < 0 || d > graph.MaxTensorElements {
			return nil, 0, fmt.Errorf("tensor %s: dimension %d: want 0 to %d", t.GetName(), d, graph.MaxTensorElements)
		}
		dims[i] = int(d)
		if d != 0 && n > graph.MaxTensorElements/int(d) {
			return nil, 0, fmt.Errorf("tensor %s of shape %v is larger than the limit of %s elements", t.GetName(), t.GetDims(), graph.Comma(graph.MaxTensorElements))
		}
		n *= int(d)
	}
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, 0, fmt.Errorf("tensor %s: its data is in an external file, which Import does not read", t.GetName())
	}
	return dims, n, nil
}

// floats decodes a float32 tensor: its shape and values.
func floats(t *onnxpb.TensorProto) ([]int, []float32, error) {
	dims, n, err := tensorShape(t)
	if err != nil {
		return nil, nil, err
	}
	if t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, nil, fmt.Errorf("tensor %s: element type %v: want float32", t.GetName(), onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	if raw := t.GetRawData(); raw != nil {
		if len(raw) != 4*n {
			return nil, nil, fmt.Errorf("tensor %s of shape %v holds %d bytes, want %d", t.GetName(), dims, len(raw), 4*n)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return dims, v, nil
	}
	if len(t.GetFloatData()) != n {
		return nil, nil, fmt.Errorf("tensor %s of shape %v holds %d values, want %d", t.GetName(), dims, len(t.GetFloatData()), n)
	}
	return dims, t.GetFloatData(), nil
}

// ints decodes an int64 (or int32) tensor of at most 16 values: a shape, pads.
func ints(t *onnxpb.TensorProto) ([]int64, error) {
	_, n, err := tensorShape(t)
	if err != nil {
		return nil, err
	}
	if n > 16 {
		return nil, fmt.Errorf("tensor %s: %d values, want at most 16", t.GetName(), n)
	}
	size := map[int32]int{int32(onnxpb.TensorProto_INT64): 8, int32(onnxpb.TensorProto_INT32): 4}[t.GetDataType()]
	if size == 0 {
		return nil, fmt.Errorf("tensor %s: element type %v: want int64", t.GetName(), onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	v := make([]int64, n)
	switch raw := t.GetRawData(); {
	case raw != nil && len(raw) != size*n:
		return nil, fmt.Errorf("tensor %s holds %d bytes, want %d", t.GetName(), len(raw), size*n)
	case raw != nil && size == 8:
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case raw != nil:
		for i := range v {
			v[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case size == 8 && len(t.GetInt64Data()) == n:
		copy(v, t.GetInt64Data())
	case size == 4 && len(t.GetInt32Data()) == n:
		for i, x := range t.GetInt32Data() {
			v[i] = int64(x)
		}
	default:
		return nil, fmt.Errorf("tensor %s: want %d values", t.GetName(), n)
	}
	return v, nil
}

// attrs indexes a node's attributes by name.
type attrs map[string]*onnxpb.AttributeProto

func nodeAttrs(n *onnxpb.NodeProto) attrs {
	a := attrs{}
	for _, x := range n.GetAttribute() {
		a[x.GetName()] = x
	}
	return a
}

// ints returns an integer list attribute, def when absent; each value is bounded so that
// settings cannot overflow.
func (a attrs) ints(name string, def ...int) ([]int, error) {
	x, ok := a[name]
	if !ok {
		return def, nil
	}
	v := make([]int, len(x.GetInts()))
	for i, d := range x.GetInts() {
		if d < 0 || d > 1<<20 {
			return nil, fmt.Errorf("attribute %s = %v: want values from 0 to %d", name, x.GetInts(), 1<<20)
		}
		v[i] = int(d)
	}
	return v, nil
}

func (a attrs) int(name string, def int64) int64 {
	if x, ok := a[name]; ok {
		return x.GetI()
	}
	return def
}

func (a attrs) float(name string, def float32) float32 {
	if x, ok := a[name]; ok {
		return x.GetF()
	}
	return def
}

func (a attrs) str(name string) string { return string(a[name].GetS()) }
