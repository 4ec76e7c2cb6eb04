// Package onnx writes declared models as ONNX files and reads ONNX CNNs back into models.
//
// Export declares a graph.Model in inference mode and writes one ONNX node (or a short
// chain of them) per declared layer: opset 17, a dynamic batch dimension named "N", the
// parameters as initialisers under their own names, BatchNorm as BatchNormalization with
// the running statistics, Dropout as Identity. A layer with no ONNX form is an error that
// names it.
//
// Import reads an ONNX CNN into a graph.Model and a parameter store: the operators that
// torch.onnx.export writes for convolutional networks, each mapped onto a layer of package
// graph, so that every report and the compiler work on it. An operator or a setting with
// no layer is an error that names it and its node.
//
// The messages are those of onnx.proto, generated into package onnxpb.
package onnx
