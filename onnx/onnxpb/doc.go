// Package onnxpb is the ONNX model format (onnx.proto, IR version 14, ONNX 1.23.0) as Go
// protobuf messages: ModelProto, GraphProto, NodeProto, TensorProto and the rest. Read a file
// with proto.Unmarshal into a ModelProto, write one with proto.Marshal.
//
// onnx.proto is the ONNX repository's onnx/onnx.proto at commit
// f7546912001bc31e92a238b17068a21b373d882e, unchanged; onnx.pb.go is generated from it with
// protoc 3.21.12 and protoc-gen-go v1.36.12 by the command below, run in this folder.
//
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/nndl/cnn/onnx/onnxpb onnx.proto
package onnxpb
