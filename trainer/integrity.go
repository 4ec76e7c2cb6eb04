package trainer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/nndl/cnn/internal/fileio"
	"hash"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// DigestKey is the metadata key under which SaveWeights and SaveCheckpoint record the
// SHA-256 of a file's tensors and other metadata, in hex; readers verify it (see Digest).
const DigestKey = "sha256"

// Digest returns the SHA-256, in hex, of f's metadata (every key but DigestKey) and
// tensors (names, dtypes, shapes and elements as little-endian bytes), in sorted order
// and each length-prefixed, so that it does not depend on how the file lays them out.
func Digest(f *safetensors.File) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	num := func(v int) { h.Write(n[:binary.PutUvarint(n[:], uint64(v))]) }
	str := func(s string) { num(len(s)); io.WriteString(h, s) }
	keys := slices.Sorted(maps.Keys(f.Metadata))
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == DigestKey })
	num(len(keys))
	for _, k := range keys {
		str(k)
		str(f.Metadata[k])
	}
	names := slices.Sorted(maps.Keys(f.Tensors))
	num(len(names))
	for _, name := range names {
		t := f.Tensors[name]
		str(name)
		str(t.DType)
		num(len(t.Shape))
		for _, d := range t.Shape {
			num(d)
		}
		hashData(h, t)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashData writes t's elements to h as little-endian bytes, through a bounded buffer.
func hashData(h hash.Hash, t safetensors.Tensor) {
	buf := make([]byte, 0, 1<<16)
	flush := func() {
		h.Write(buf)
		buf = buf[:0]
	}
	room := func(k int) {
		if len(buf)+k > cap(buf) {
			flush()
		}
	}
	for _, v := range t.F32 {
		room(4)
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	for _, v := range t.F64 {
		room(8)
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
	}
	for _, v := range t.I64 {
		room(8)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
	}
	for _, v := range t.I32 {
		room(4)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
	}
	flush()
	h.Write(t.U8)
}

// seal records f's digest in its metadata.
func seal(f *safetensors.File) {
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}
	f.Metadata[DigestKey] = Digest(f)
}

// verify checks the digest that f's metadata records, if any; required makes a missing
// one an error. The error names the file.
func verify(path string, f *safetensors.File, required bool) error {
	want, ok := f.Metadata[DigestKey]
	switch {
	case !ok && required:
		return fmt.Errorf("%s: no %s checksum in the metadata, so its integrity cannot be checked", path, DigestKey)
	case !ok:
		return nil
	case Digest(f) != want:
		return fmt.Errorf("%s: damaged: its tensors and metadata no longer match the SHA-256 recorded when it was written", path)
	}
	return nil
}

// ReadWeights reads a safetensors file and, when its metadata records a digest (files
// written by SaveWeights and SaveCheckpoint do; PyTorch's do not), verifies it.
func ReadWeights(path string) (*safetensors.File, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := verify(path, f, false); err != nil {
		return nil, err
	}
	return f, nil
}

// LoadTensors copies f's tensors (read from path) into params, as graph.Params.Load does,
// after refusing a tensor of an integer dtype under a parameter's name: integer weights are
// a mistake that a cast would hide.
func LoadTensors(path string, f *safetensors.File, params *graph.Params, strict bool) (skipped []string, err error) {
	for _, q := range params.List() {
		if t, ok := f.Tensors[q.Name]; ok && t.DType != safetensors.F32 && t.DType != safetensors.F64 {
			return nil, fmt.Errorf("%s: tensor %q has dtype %s: want F32 or F64 weights (integers are not cast)", path, q.Name, t.DType)
		}
	}
	if skipped, err = params.Load(f.Tensors, strict); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return skipped, nil
}

// ReadMeta returns the __metadata__ of a safetensors file from its header alone, without
// reading the tensors; the header is bounded by safetensors.MaxHeaderSize and the file's
// size before it is read.
func ReadMeta(path string) (map[string]string, error) {
	f, _, err := fileio.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var n [8]byte
	if _, err := io.ReadFull(f, n[:]); err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file: %v", path, err)
	}
	size := binary.LittleEndian.Uint64(n[:])
	if size > safetensors.MaxHeaderSize {
		return nil, fmt.Errorf("%s: header of %d bytes, more than the limit of %d", path, size, safetensors.MaxHeaderSize)
	}
	if fi, err := f.Stat(); err == nil && int64(size) > fi.Size()-8 {
		return nil, fmt.Errorf("%s: header of %d bytes in a file of %d", path, size, fi.Size())
	}
	header := make([]byte, size)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, fmt.Errorf("%s: offset 8: reading the header: %v", path, err)
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return nil, fmt.Errorf("%s: bad header: %v", path, err)
	}
	if h.Meta == nil {
		h.Meta = map[string]string{}
	}
	return h.Meta, nil
}
