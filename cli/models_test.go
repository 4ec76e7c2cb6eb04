package cli

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/golden"
	"github.com/nndl/cnn/tensorio/npy"
	"github.com/nndl/cnn/tensorio/safetensors"
	"github.com/nndl/cnn/zoo"
	"gorgonia.org/tensor"
)

// TestPredictFromFamily runs cnn predict with no model name on the state_dicts of golden
// zoo files (torchvision's models saved as safetensors with the file's metadata, which
// gives only the family and torchvision's constructor arguments) and compares the logits
// written with torchvision's.
func TestPredictFromFamily(t *testing.T) {
	for _, name := range []string{"zoo_densenet_g8", "zoo_resnext_w16_g4", "zoo_mobilenet_v3_small_05"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "golden", "zoo", name+".safetensors")
			g, err := golden.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			weights, in, out := filepath.Join(dir, "w.safetensors"), filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
			if err := safetensors.WriteFile(weights, &safetensors.File{Tensors: g.Weights, Metadata: g.File.Metadata}); err != nil {
				t.Fatal(err)
			}
			if err := npy.WriteFloat32(in, g.File.Tensors["input"].Shape, g.Input); err != nil {
				t.Fatal(err)
			}
			if _, errOut, st := cnn("predict", "--weights", weights, "--input", in, "--out", out); st != 0 || errOut != "" {
				t.Fatalf("status %d, stderr %q", st, errOut)
			}
			shape, got, err := npy.ReadFloat32(out)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := g.Want("eval.logits")
			if !slices.Equal(shape, []int{len(g.Labels), 10}) {
				t.Fatalf("logits of shape %v", shape)
			}
			if e := golden.RelErr(golden.Float64s(got), want); e > 1e-4 {
				t.Errorf("logits %.3g from torchvision's", e)
			}
		})
	}
}

// TestMetadataDescribesModel checks that the metadata cnn train writes for every model
// describes it by its family alone: zoo.FromMetadata, without the model's name, gives the
// same spec and (for all but VGG's, whose weights alone take over 500 MB) the same
// parameters, input and classes.
func TestMetadataDescribesModel(t *testing.T) {
	type variant struct {
		name string
		args []string
	}
	var cases []variant
	for _, name := range modelNames() {
		cases = append(cases, variant{name, nil})
	}
	cases = append(cases, variant{"resnet18", []string{"--no-residual", "--width", "8", "--shape", "3x40x40"}},
		variant{"resnet50", []string{"--width", "16", "--classes", "7", "--in-channels", "1"}})
	for _, c := range cases {
		t.Run(c.name+strings.Join(c.args, ""), func(t *testing.T) {
			fs := newFlags("train", "")
			mf := addModelFlags(fs, true)
			if _, err := parse(fs, c.args); err != nil {
				t.Fatal(err)
			}
			m, _, err := mf.model(c.name)
			if err != nil {
				t.Fatal(err)
			}
			meta := mf.metadata(c.name, m)
			delete(meta, "model")
			spec, err := zoo.FromMetadata(meta)
			if err != nil {
				t.Fatalf("metadata %v: %v", meta, err)
			}
			if again, _ := zoo.FromMetadata(spec.Metadata()); !reflect.DeepEqual(again, spec) {
				t.Errorf("the spec's metadata reads back as %+v, want %+v", again, spec)
			}
			if strings.HasPrefix(c.name, "vgg") {
				return
			}
			m2, err := spec.Model()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m2.Input, m.Input) || m2.Classes != m.Classes {
				t.Errorf("input %v, %d classes; want %v, %d", m2.Input, m2.Classes, m.Input, m.Classes)
			}
			if a, b := paramShapes(t, m), paramShapes(t, m2); !reflect.DeepEqual(a, b) {
				t.Errorf("parameters %v, want %v", b, a)
			}
		})
	}
}

// paramShapes declares m and lists its parameters' names and shapes.
func paramShapes(t *testing.T, m graph.Model) []string {
	t.Helper()
	params := graph.NewParams(tensor.Float32, 1)
	if _, _, _, err := graph.Declare(m, params, graph.Fast, 1, false); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range params.List() {
		out = append(out, fmt.Sprint(p.Name, p.Value.Shape()))
	}
	return out
}
