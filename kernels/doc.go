// Package kernels is the contract between the layers of package graph and the code that
// computes them: one interface per operation (a convolution's three passes, pooling,
// BatchNorm's statistics, normalisation and input gradient, the ReLU, per-channel sums, the
// parameter update, the matrix product), a registry of the
// implementations this binary holds, and the choice among them for each call.
//
// The implementations live in packages of their own and register themselves when imported:
//
//   - reference: the chapter's hand-written nested loops, the yardstick every other one is
//     tested against;
//   - purego: im2col + GEMM convolutions and single-pass pooling in plain Go, always built;
//     it accepts every shape, so every call has an implementation;
//   - simd: direct AVX-512 and AVX2 kernels in C (BatchNorm's in AVX2 for both), built wherever cgo targets amd64 and chosen
//     at run time by a CPU check;
//   - onednn (build tag dnnl) and openblas (build tag openblas): bindings to those libraries.
//
// Package all imports every one of them that the build holds.
//
// Each call goes to the implementation of highest priority that is enabled, that this CPU
// can run, and that accepts the call's shapes. Two environment variables narrow the choice:
// CNN_KERNELS lists the implementations allowed (say "purego" or "avx2,onednn,purego"; purego
// serves whatever the others refuse), and CNN_MAX_CPU_ISA caps the instruction set of the SIMD
// kernels ("avx2" or "none"), as oneDNN's ONEDNN_MAX_CPU_ISA caps its own. Tests pin
// implementations with Pin. List tells what this machine can run, and why not where it
// cannot; Used tells which implementations have run.
package kernels
