//go:build dnnl

package all

import _ "github.com/nndl/cnn/kernels/onednn"
