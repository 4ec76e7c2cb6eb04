package trainer

import (
	"fmt"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/safetensors"
)

// SaveWeights writes every parameter and buffer of params to path as safetensors, under
// PyTorch's names and layouts, with meta (the model configuration) in the header's
// __metadata__. The file is written atomically: an interrupted save leaves the previous
// checkpoint intact.
func SaveWeights(path string, params *graph.Params, meta map[string]string) error {
	return safetensors.WriteFile(path, &safetensors.File{Tensors: params.Tensors(), Metadata: meta})
}

// LoadWeights reads a safetensors file into params (see graph.Params.Load for strict) and
// returns the file's metadata and the names it skipped.
func LoadWeights(path string, params *graph.Params, strict bool) (meta map[string]string, skipped []string, err error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if skipped, err = params.Load(f.Tensors, strict); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Metadata, skipped, nil
}
