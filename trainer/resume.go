package trainer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/fileio"
	"github.com/nndl/cnn/internal/safetensors"
	"gorgonia.org/tensor"
)

// Stateful is an optimiser with state that a training checkpoint must keep, such as Adam's
// moments and update count. SGD has none and need not implement it.
type Stateful interface {
	Optimizer
	// State returns the state as tensors (copies) and strings.
	State() (tensors map[string]safetensors.Tensor, meta map[string]string)
	// LoadState restores a state returned by State for the parameters of params, or fails
	// and changes nothing.
	LoadState(params *graph.Params, tensors map[string]safetensors.Tensor, meta map[string]string) error
}

// CheckpointFormat names the layout of SaveCheckpoint's files; it is recorded in them.
const CheckpointFormat = "cnn-train-state/1"

// StateKey is the metadata key of a training checkpoint that holds its training state as
// JSON (see SaveCheckpoint).
const StateKey = "train_state"

// optPrefix starts the names of the optimiser's tensors in a checkpoint.
const optPrefix = "optimizer."

// trainState is the JSON under StateKey.
type trainState struct {
	Format    string `json:"format"`
	StepsDone int    `json:"steps_done"`
	// Epoch is the epoch of the last step taken (-1 before any); for people reading the
	// file: the position is StepsDone alone.
	Epoch          int               `json:"epoch"`
	BestAcc        float64           `json:"best_dev_accuracy"`
	BestStep       int               `json:"best_step"`
	Optimizer      string            `json:"optimizer"`
	OptimizerState map[string]string `json:"optimizer_state,omitempty"`
	History        History           `json:"history"`
}

// SaveCheckpoint writes everything needed to continue the run to path, as one safetensors
// file written atomically (an interrupted save leaves the previous checkpoint whole):
//
//   - every parameter and buffer under its name, in its own element type (F32 or F64), so
//     that a restored run computes with the very same values;
//   - the optimiser's state (Stateful) as tensors named "optimizer.NAME";
//   - in the metadata, meta (the run's configuration: model, seed, batch size, ...) and
//     under StateKey a JSON object with the steps done, the best dev accuracy and its step,
//     the optimiser's description and scalar state (Adam's update count) and the history
//     of losses and evaluations so far.
//
// No random-generator state is stored because training draws nothing at random after the
// parameters are initialised: the loader's order of an epoch is a pure function of (seed,
// epoch) (see data.Loader), so the step count and the seed in meta fix the rest of the run.
func (r *Runner) SaveCheckpoint(path string, meta map[string]string) error {
	if _, ok := meta[StateKey]; ok {
		return fmt.Errorf("%s: the metadata key %q is reserved", path, StateKey)
	}
	tensors := make(map[string]safetensors.Tensor, len(r.Params.List()))
	for _, q := range r.Params.List() {
		shape := []int(q.Value.Shape().Clone())
		switch d := q.Value.Data().(type) {
		case []float32:
			tensors[q.Name] = safetensors.NewFloat32(shape, slices.Clone(d))
		case []float64:
			tensors[q.Name] = safetensors.NewFloat64(shape, slices.Clone(d))
		default:
			return fmt.Errorf("%s: parameter %s has unsupported type %T", path, q.Name, d)
		}
	}
	st := trainState{Format: CheckpointFormat, StepsDone: r.StepsDone, Epoch: -1, BestAcc: r.BestAcc, BestStep: r.BestStep,
		History: r.History}
	if n := len(r.History.Train); n > 0 {
		st.Epoch = r.History.Train[n-1].Epoch
	}
	if r.Opt != nil {
		st.Optimizer = r.Opt.String()
	}
	if s, ok := r.Opt.(Stateful); ok {
		ot, om := s.State()
		for name, t := range ot {
			tensors[optPrefix+name] = t
		}
		st.OptimizerState = om
	}
	js, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	md := maps.Clone(meta)
	if md == nil {
		md = map[string]string{}
	}
	md[StateKey] = string(js)
	return safetensors.WriteFile(path, &safetensors.File{Tensors: tensors, Metadata: md})
}

// LoadCheckpoint restores a checkpoint written by SaveCheckpoint into the runner: the
// parameters and buffers, the optimiser's state, the steps done, the best dev accuracy and
// its step, and the history; Train then continues where the saved run stopped. It returns
// the configuration metadata saved with it (StateKey removed).
//
// The parameters must be declared (compile a program first) and must match the file's in
// names, shapes and element types; the optimiser's description (String, which includes its
// settings) must equal the saved one. On any error the runner is left as it was.
func (r *Runner) LoadCheckpoint(path string) (map[string]string, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...))
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	js, ok := f.Metadata[StateKey]
	if !ok {
		return nil, fail("not a training checkpoint (no %q in the metadata); best.safetensors holds weights only", StateKey)
	}
	var st trainState
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return nil, fail("bad training state: %v", err)
	}
	if st.Format != CheckpointFormat {
		return nil, fail("training state format %q, want %q", st.Format, CheckpointFormat)
	}
	if st.StepsDone < 0 || len(st.History.Train) != st.StepsDone || st.BestStep >= st.StepsDone {
		return nil, fail("inconsistent training state: %d steps done, %d in the history, best step %d", st.StepsDone, len(st.History.Train), st.BestStep)
	}
	for i, s := range st.History.Train {
		if s.Step != i {
			return nil, fail("inconsistent training state: history entry %d is step %d", i, s.Step)
		}
	}
	var optName string
	if r.Opt != nil {
		optName = r.Opt.String()
	}
	if st.Optimizer != optName {
		return nil, fail("written by a run with %s, this run uses %s", st.Optimizer, optName)
	}

	params := r.Params.List()
	if len(params) == 0 {
		return nil, fail("the model's parameters are not declared yet (compile a program first)")
	}
	optTensors := map[string]safetensors.Tensor{}
	known := map[string]bool{}
	var problems []string
	for _, q := range params {
		known[q.Name] = true
		t, ok := f.Tensors[q.Name]
		if !ok {
			problems = append(problems, "missing "+q.Name)
			continue
		}
		want := map[tensor.Dtype]string{tensor.Float32: safetensors.F32, tensor.Float64: safetensors.F64}[q.Value.Dtype()]
		switch {
		case !tensor.Shape(t.Shape).Eq(q.Value.Shape()):
			problems = append(problems, fmt.Sprintf("%s is %v in the file, %v in the model", q.Name, t.Shape, q.Value.Shape()))
		case t.DType != want:
			problems = append(problems, fmt.Sprintf("%s is %s in the file, %v in the model", q.Name, t.DType, q.Value.Dtype()))
		}
	}
	for _, name := range f.Names {
		if rest, ok := strings.CutPrefix(name, optPrefix); ok {
			optTensors[rest] = f.Tensors[name]
		} else if !known[name] {
			problems = append(problems, "unexpected "+name)
		}
	}
	if len(problems) > 0 {
		return nil, fail("weights do not match the model: %s", strings.Join(problems, "; "))
	}
	if s, ok := r.Opt.(Stateful); ok {
		if err := s.LoadState(r.Params, optTensors, st.OptimizerState); err != nil {
			return nil, fail("%v", err)
		}
	} else if len(optTensors) > 0 {
		return nil, fail("holds optimiser state, and %s keeps none", optName)
	}
	for _, q := range params {
		t := f.Tensors[q.Name]
		switch d := q.Value.Data().(type) {
		case []float32:
			copy(d, t.F32)
		case []float64:
			copy(d, t.F64)
		}
	}
	r.StepsDone, r.BestAcc, r.BestStep, r.History = st.StepsDone, st.BestAcc, st.BestStep, st.History
	meta := maps.Clone(f.Metadata)
	delete(meta, StateKey)
	return meta, nil
}

// CheckpointMeta returns the configuration metadata of a checkpoint written by
// SaveCheckpoint (StateKey removed) from its header alone, without reading the tensors, so a
// caller can compare a run's settings before restoring it. The file is checked fully only
// by LoadCheckpoint.
func CheckpointMeta(path string) (map[string]string, error) {
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
	if _, ok := h.Meta[StateKey]; !ok {
		return nil, fmt.Errorf("%s: not a training checkpoint (no %q in the metadata); best.safetensors holds weights only", path, StateKey)
	}
	delete(h.Meta, StateKey)
	return h.Meta, nil
}
