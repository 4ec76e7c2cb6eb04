package onnx

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// lenetProto is an exported LeNet-5 for the hostile tests to spoil.
func lenetProto(t testing.TB) *onnxpb.ModelProto {
	m := lenet.New(1, 10)
	r, err := withWeights(m, 2)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := Build(m, r.Params)
	if err != nil {
		t.Fatal(err)
	}
	return mp
}

func initializer(mp *onnxpb.ModelProto, name string) *onnxpb.TensorProto {
	for _, t := range mp.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}

// TestImportHostile spoils an exported LeNet-5 in the ways a hostile or broken file would:
// each gets a one-line error that names the node or tensor, and allocates little.
func TestImportHostile(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(mp *onnxpb.ModelProto)
		want  string
	}{
		{"huge declared tensor", func(mp *onnxpb.ModelProto) {
			initializer(mp, "conv1.weight").Dims = []int64{1 << 20, 1 << 20, 1 << 20, 1}
		}, "node conv1 (Conv): tensor conv1.weight of shape [1048576 1048576 1048576 1] is larger than the limit of 268,435,456 elements"},
		{"too little data", func(mp *onnxpb.ModelProto) {
			initializer(mp, "conv3.bias").RawData = []byte{1, 2, 3, 4}
		}, "node conv3 (Conv): tensor conv3.bias of shape [16] holds 4 bytes, want 64"},
		{"missing initialiser", func(mp *onnxpb.ModelProto) {
			g := mp.GetGraph()
			g.Initializer = g.Initializer[1:]
		}, "node conv1 (Conv): reads conv1.weight, which no initialiser holds"},
		{"wrong shape", func(mp *onnxpb.ModelProto) {
			w := initializer(mp, "linear6.weight")
			w.Dims = []int64{120, 84}
		}, "node linear6 (Gemm): initialiser linear6.weight has shape [120 84], the layer wants [120 120]"},
		{"cycle", func(mp *onnxpb.ModelProto) {
			n := mp.GetGraph().GetNode()
			n[0].Input[0], n[1].Input[0] = n[1].GetOutput()[0], n[0].GetOutput()[0]
		}, "node conv1 (Conv): reads relu_1, which no earlier node computes and no initialiser holds"},
		{"written twice", func(mp *onnxpb.ModelProto) {
			n := mp.GetGraph().GetNode()
			n[1].Output[0] = n[0].GetOutput()[0]
		}, "node relu_1 (Relu): writes conv1, which an earlier node already computes"},
		{"unknown operator", func(mp *onnxpb.ModelProto) {
			mp.GetGraph().GetNode()[1].OpType = proto.String("Softmax")
		}, "node relu_1 (Softmax): operator Softmax has no layer"},
		{"free image size", func(mp *onnxpb.ModelProto) {
			mp.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()[2].Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "H"}
		}, `input x: dimension 2 is "H", want a fixed size from 1 to 65536`},
		{"asymmetric pads", func(mp *onnxpb.ModelProto) {
			mp.GetGraph().GetNode()[0].Attribute[2] = attrInts("pads", 0, 0, 1, 1)
		}, "node conv1 (Conv): pads [0 0 1 1]: want 4 values, the same at the start and the end of each axis"},
		{"kernel larger than the weight", func(mp *onnxpb.ModelProto) { // 96 MiB of parameters if declared
			n := mp.GetGraph().GetNode()[0]
			n.Attribute[0] = attrInts("kernel_shape", 2049, 2049)
			n.Attribute[2] = attrInts("pads", 1024, 1024, 1024, 1024)
		}, "node conv1 (Conv): initialiser conv1.weight has shape [6 1 5 5], the layer wants [6 1 2049 2049]"},
		{"input larger than the weights", func(mp *onnxpb.ModelProto) { // 125 MiB of parameters if declared
			d := mp.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()
			d[2].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 256}
			d[3].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 256}
		}, "node linear6 (Gemm): initialiser linear6.weight has shape [84 120], the layer wants [84 389880]"},
		{"newer operator set", func(mp *onnxpb.ModelProto) {
			mp.OpsetImport[0].Version = proto.Int64(99)
		}, "operator set 99: want a default operator set from 7 to 22"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mp := lenetProto(t)
			c.spoil(mp)
			b, err := proto.Marshal(mp)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err = Import(bytes.NewReader(b))
			runtime.ReadMemStats(&after)
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v\nwant        %s", err, c.want)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
				t.Errorf("allocated %d MiB on a %d KiB file", grown>>20, len(b)>>10)
			}
		})
	}
}

// TestImportNotONNX feeds what is not an ONNX model at all.
func TestImportNotONNX(t *testing.T) {
	b, err := proto.Marshal(lenetProto(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"empty": nil, "truncated": b[:len(b)/2], "text": []byte("hello, world\n")} {
		_, _, err := Import(bytes.NewReader(data))
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "not an ONNX model") {
			t.Errorf("%s: error %v, want one line starting \"not an ONNX model\"", name, err)
		}
	}
}

// FuzzImport feeds the reader mutations of exported models (LeNet-5 and the small test
// models, which between them use every operator Export writes) and of PyTorch's LeNet-5:
// it must never panic, and every error is one line. What it imports must declare again at
// another batch size, for inference and for training, as the commands declare it.
func FuzzImport(f *testing.F) {
	b, err := proto.Marshal(lenetProto(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:100])
	if torch, err := os.ReadFile("../testdata/onnx/lenet.onnx"); err == nil {
		f.Add(torch)
	}
	for _, m := range []graph.Model{mobileNet(), inception(), mlpHead()} {
		r, err := withWeights(m, 3)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Export(m, r.Params, &buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, p, err := Import(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
			return
		}
		for _, training := range []bool{false, true} {
			if _, _, _, err := graph.Declare(m, p, graph.Fast, 2, training); err != nil {
				t.Errorf("imported, but does not declare at batch 2 (training %v): %v", training, err)
			}
		}
	})
}
