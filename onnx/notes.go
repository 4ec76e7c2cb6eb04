package onnx

import (
	"fmt"
	"strings"

	"github.com/nndl/cnn/onnx/onnxpb"
)

// Notes returns what a report of the model imported from mp must say that its layers do
// not. One note now: torch.onnx.export, in its default evaluation mode, folds each
// BatchNorm into the convolution before it and names the weights it computes "onnx::...";
// such a file has no BatchNormalization, and its parameter counts are those of the folded
// graph (a bias on every convolution, no BatchNorm scale, shift or statistics), not of the
// model as it was trained.
func Notes(mp *onnxpb.ModelProto) []string {
	g := mp.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	computed, convs := 0, 0
	for _, n := range g.GetNode() {
		switch n.GetOpType() {
		case "BatchNormalization":
			return nil
		case "Conv":
			convs++
			if in := n.GetInput(); len(in) > 1 && inits[in[1]] && strings.HasPrefix(in[1], "onnx::") {
				computed++
			}
		}
	}
	if computed == 0 {
		return nil
	}
	return []string{fmt.Sprintf("BatchNorm was folded into the convolutions by the exporter (%d of the %d convolutions carry "+
		"weights torch.onnx.export computed, onnx::...): the parameter counts are the folded graph's, not the trained model's; "+
		"torch.onnx.export with training=TrainingMode.PRESERVE keeps BatchNormalization", computed, convs)}
}
