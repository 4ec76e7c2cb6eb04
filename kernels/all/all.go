// Package all imports every implementation of the kernels that this build holds: reference,
// purego and simd always, onednn with -tags dnnl, openblas with -tags openblas. Import it
// for its side effect.
package all

import (
	_ "github.com/nndl/cnn/kernels/purego"
	_ "github.com/nndl/cnn/kernels/reference"
	_ "github.com/nndl/cnn/kernels/simd"
)
