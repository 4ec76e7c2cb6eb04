package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/nndl/cnn/onnx/onnxpb"
)

// The versions the exporter writes: IR version 8 with the default operator set at 17
// (HardSwish needs 14; ONNX Runtime and onnx.checker accept both since 2022).
const (
	irVersion = 8
	opset     = 17
)

func attrInts(name string, v ...int) *onnxpb.AttributeProto {
	ints := make([]int64, len(v))
	for i, x := range v {
		ints[i] = int64(x)
	}
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: ints}
}

func attrInt(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func attrFloat(name string, v float64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(v))}
}

// floatTensor is an initialiser of float32 values, stored little-endian in raw_data.
func floatTensor(name string, shape []int, v []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	return &onnxpb.TensorProto{
		Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		Dims: dims, RawData: raw,
	}
}

// valueInfo describes a float32 tensor whose first dimension is the batch, named "N".
func valueInfo(name string, perSample []int) *onnxpb.ValueInfoProto {
	dims := []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}}
	for _, d := range perSample {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}
