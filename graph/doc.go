// Package graph declares convolutional networks on Gorgonia expression graphs with static
// shapes. A Model's Forward adds layers to a Net (Conv2D, BatchNorm2D, ReLU, the poolings,
// Linear, Flatten, Add); each layer method checks its shapes as it is declared, failing
// with an error that names the layer and both shapes, and records a Layer with its
// accounting (output shape, parameters, MACs and FLOPs in three conventions, receptive
// field: package cost), which the summary, the FLOPs table and the DOT export read.
// Declare builds a model for one batch size; package build compiles it into programs that
// train and predict.
//
// The layers' operations are Gorgonia ops of this package, each with its backward pass
// written as other such ops, computing on package kernels (graph.Fast) or on the chapter's
// hand-written loops (graph.Naive). A network computes in the element type of its Params,
// float32 or float64.
package graph
