package main

import (
	"os"

	"github.com/nndl/cnn/cli"
)

// A program registers its models, then hands its command line to cli.Main (main.go), and
// every command of cnn takes tinynet: "mycli summary tinynet", "mycli train tinynet",
// "mycli predict --weights runs/tinynet/best.safetensors --index 0", ... The tests register
// it in TestMain, as main does, and the example runs "summary tinynet".
func Example() {
	cli.Main([]string{"summary", "tinynet"}, os.Stdout, os.Stderr)
	// Output:
	// tinynet, input [1 28 28], batch 1
	//            Layer (type)      Input shape     Output shape  Params  FLOPs (paddle)  RF
	//          conv1 (Conv2D)   [1, 1, 28, 28]   [1, 8, 28, 28]      80          62,720   3
	//           relu_1 (ReLU)   [1, 8, 28, 28]   [1, 8, 28, 28]       0               0   3
	//       pool1 (MaxPool2D)   [1, 8, 28, 28]   [1, 8, 14, 14]       0               0   4
	//          conv2 (Conv2D)   [1, 8, 14, 14]  [1, 16, 14, 14]   1,168         228,928   8
	//           relu_2 (ReLU)  [1, 16, 14, 14]  [1, 16, 14, 14]       0               0   8
	//   gap (GlobalAvgPool2D)  [1, 16, 14, 14]    [1, 16, 1, 1]       0           3,152  34
	//       flatten (Flatten)    [1, 16, 1, 1]          [1, 16]       0               0  34
	//             fc (Linear)          [1, 16]          [1, 10]     170             160  34
	// Total params: 1,418
	// Trainable params: 1,418
	// Non-trainable params: 0 (BatchNorm running statistics)
	// Total FLOPs: 294,960 (paddle.flops: one multiply-add is one FLOP, conv bias +1 per output, avg pool 1 per output, BN 2 per input)
	// Params size: 0.01 MiB; forward activations: 0.08 MiB (float32)
}
