// Package simd holds direct float32 kernels written with x86 SIMD intrinsics in C: small
// convolutions (stride 1, no padding, a few channels: LeNet-5's layers), the prepared forward
// pass of a few images of small maps (the broadcast convolution, bconv_amd64.go), 2x2
// pooling, ResNet's 3x3 stride-2 max pooling, the ReLU, per-channel sums and the parameter
// update. Each instruction set is one implementation ("avx512", "avx2") with its own C
// files, built wherever cgo targets amd64 and registered with the CPU check's verdict, so
// that a binary runs the best kernels its CPU has and a test can run each one that it has.
// Elsewhere the package registers nothing.
package simd
