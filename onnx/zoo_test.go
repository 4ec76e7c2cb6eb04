package onnx

import (
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/zoo"
)

// zooSpecs are torchvision families at small widths and inputs, chosen so that between
// them they export every operator the zoo uses: MobileNetV3-small's depthwise convolutions,
// Hardswish, Hardsigmoid and squeeze-and-excitation; MobileNetV2's ReLU6 (Clip) and
// residual adds; DenseNet's concatenations, padded max pooling and average-pooled
// transitions; SqueezeNet 1.1's max pooling in ceil mode, its fire modules' Concat and its
// convolutional head; ResNeXt's grouped convolutions in bottleneck blocks.
var zooSpecs = []zoo.Spec{
	{Family: "mobilenet_v3_small", WidthMult: 0.5, NumClasses: 10, Input: []int{3, 48, 48}},
	{Family: "mobilenet_v2", WidthMult: 0.35, NumClasses: 10, Input: []int{3, 32, 32}},
	{Family: "densenet", GrowthRate: 8, BlockConfig: []int{2, 3, 2}, NumInitFeatures: 16, BnSize: 2, NumClasses: 10, Input: []int{3, 40, 40}},
	{Family: "squeezenet1_1", NumClasses: 10, Input: []int{3, 64, 64}},
	{Family: "resnet", Name: "resnext_w16_g4", Block: "bottleneck", Layers: []int{1, 1, 1, 1}, Width: 16, Groups: 4, WidthPerGroup: 8, NumClasses: 10, Input: []int{3, 32, 32}},
}

// zooModels declares zooSpecs.
func zooModels(t *testing.T) []graph.Model {
	t.Helper()
	var ms []graph.Model
	for _, s := range zooSpecs {
		m, err := s.Model()
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		ms = append(ms, m)
	}
	return ms
}

// TestExportZooRunsInORT exports the zoo's families and runs them in ONNX Runtime as
// TestExportRunsInORT runs the test models.
func TestExportZooRunsInORT(t *testing.T) {
	exportRunsInORT(t, zooModels(t))
}

// TestRoundTripZoo imports the zoo's families back as TestRoundTrip does the test models.
func TestRoundTripZoo(t *testing.T) {
	roundTrip(t, zooModels(t))
}
