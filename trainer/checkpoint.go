package trainer

import (
	"maps"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// SaveWeights writes every parameter and buffer of params to path as safetensors, under
// PyTorch's names and layouts, with meta (the model configuration) in the header's
// __metadata__ and, under DigestKey, the SHA-256 of the tensors and meta (see Digest). The
// file is written atomically: an interrupted save leaves the previous checkpoint intact.
func SaveWeights(path string, params *graph.Params, meta map[string]string) error {
	_, err := SaveWeightsDigest(path, params, meta)
	return err
}

// SaveWeightsDigest is SaveWeights, and returns the digest it recorded.
func SaveWeightsDigest(path string, params *graph.Params, meta map[string]string) (string, error) {
	f := &safetensors.File{Tensors: params.Tensors(), Metadata: maps.Clone(meta)}
	seal(f)
	if err := safetensors.WriteFile(path, f); err != nil {
		return "", err
	}
	return f.Metadata[DigestKey], nil
}

// LoadWeights reads a safetensors file into params (see graph.Params.Load for strict, and
// LoadTensors for the dtypes it refuses), after verifying its digest if it records one, and
// returns the file's metadata (DigestKey removed) and the names it skipped.
func LoadWeights(path string, params *graph.Params, strict bool) (meta map[string]string, skipped []string, err error) {
	f, err := ReadWeights(path)
	if err != nil {
		return nil, nil, err
	}
	if skipped, err = LoadTensors(path, f, params, strict); err != nil {
		return nil, nil, err
	}
	meta = maps.Clone(f.Metadata)
	delete(meta, DigestKey)
	return meta, skipped, nil
}
