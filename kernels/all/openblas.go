//go:build openblas

package all

import _ "github.com/nndl/cnn/kernels/openblas"
