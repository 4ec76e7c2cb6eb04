package trainer

import (
	"encoding/json"
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/safetensors"
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
// Format 2 keeps the history in tensors rather than in the header and records a digest.
const CheckpointFormat = "cnn-train-state/2"

// StateKey is the metadata key of a training checkpoint that holds its training state as
// JSON (see SaveCheckpoint).
const StateKey = "train_state"

// optPrefix starts the names of the optimiser's tensors in a checkpoint.
const optPrefix = "optimizer."

// The history's tensors in a checkpoint: one row per training step (epoch, loss) and one
// per evaluation (step, epoch, loss, accuracy), float64. In the data section rather than the
// header, a run of any length can checkpoint: the header stays far below its limit.
const (
	historyTrain = "history.train"
	historyDev   = "history.dev"
)

// trainState is the JSON under StateKey.
type trainState struct {
	Format    string `json:"format"`
	StepsDone int    `json:"steps_done"`
	// Epoch is the epoch of the last step taken (-1 before any); for people reading the
	// file: the position is StepsDone alone.
	Epoch          int               `json:"epoch"`
	BestAcc        float64           `json:"best_dev_accuracy"`
	BestStep       int               `json:"best_step"`
	BestMetric     string            `json:"best_metric,omitempty"` // Metric.String; "" is dev-accuracy
	Optimizer      string            `json:"optimizer"`
	OptimizerState map[string]string `json:"optimizer_state,omitempty"`
}

// SaveCheckpoint writes everything needed to continue the run to path, as one safetensors
// file written atomically (an interrupted save leaves the previous checkpoint whole):
//
//   - every parameter and buffer under its name, in its own element type (F32 or F64), so
//     that a restored run computes with the very same values;
//   - the optimiser's state (Stateful) as tensors named "optimizer.NAME";
//   - the history of losses and evaluations as the tensors "history.train" and
//     "history.dev";
//   - in the metadata, meta (the run's configuration: model, seed, batch size, ...), under
//     StateKey a JSON object with the steps done, the best dev accuracy and its step and the
//     optimiser's description and scalar state (Adam's update count), under
//     DropoutRunsKey (for a model with Dropout layers) the run count of every Dropout
//     layer, and under DigestKey the SHA-256 of all of it, which LoadCheckpoint verifies.
//
// The only random draws of training after the parameters are initialised are the loader's
// order of an epoch, a pure function of (seed, epoch) (see data.Loader), and the dropout
// masks, a pure function of the seed, the layer and its run count (see graph.Net.Dropout):
// the step count, the seed in meta and the run counts fix the rest of the run.
func (r *Runner) SaveCheckpoint(path string, meta map[string]string) error {
	for _, k := range []string{StateKey, DropoutRunsKey, DigestKey} {
		if _, ok := meta[k]; ok {
			return fmt.Errorf("%s: the metadata key %q is reserved", path, k)
		}
	}
	tensors := make(map[string]safetensors.Tensor, len(r.Params.List())+2)
	for _, q := range r.Params.List() {
		shape := []int(q.Value.Shape().Clone())
		switch d := q.Value.Data().(type) {
		case []float32:
			tensors[q.Name] = tensorio.NewFloat32(shape, slices.Clone(d))
		case []float64:
			tensors[q.Name] = tensorio.NewFloat64(shape, slices.Clone(d))
		default:
			return fmt.Errorf("%s: parameter %s has unsupported type %T", path, q.Name, d)
		}
	}
	tensors[historyTrain], tensors[historyDev] = historyTensors(r.History)
	st := trainState{Format: CheckpointFormat, StepsDone: r.StepsDone, Epoch: -1, BestAcc: r.BestAcc, BestStep: r.BestStep}
	if r.Best != DevAccuracy {
		st.BestMetric = r.Best.String()
	}
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
	if runs := r.Params.DropoutRuns(); len(runs) > 0 {
		md[DropoutRunsKey] = formatDropoutRuns(runs)
	}
	f := &safetensors.File{Tensors: tensors, Metadata: md}
	seal(f)
	return safetensors.WriteFile(path, f)
}

// LoadCheckpoint restores a checkpoint written by SaveCheckpoint into the runner: the
// parameters and buffers, the optimiser's state, the steps done, the best dev accuracy and
// its step, the history and the Dropout layers' run counts (0 from a checkpoint that has
// none, written before they were kept); Train then continues where the saved run stopped.
// It returns the configuration metadata saved with it (StateKey, DropoutRunsKey and
// DigestKey removed).
//
// The file's digest must match (a changed byte is an error naming the file), its training
// state must be consistent (see checkState), its parameters must be declared (compile a
// program first) and match the file's in names, shapes and element types, and the
// optimiser's description (String, which includes its settings) must equal the saved one;
// the run counts, when present, must name the model's Dropout layers, each once, with a
// whole number. On any error the runner is left as it was.
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
		return nil, fail("%s", notCheckpointReason)
	}
	var st trainState
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return nil, fail("bad training state: %v", err)
	}
	if st.Format != CheckpointFormat {
		return nil, fail("training state format %q, want %q", st.Format, CheckpointFormat)
	}
	if err := verify(path, f, true); err != nil {
		return nil, err
	}
	hist, err := historyFromTensors(f.Tensors[historyTrain], f.Tensors[historyDev])
	if err != nil {
		return nil, fail("inconsistent training state: %v", err)
	}
	metric := DevAccuracy
	if st.BestMetric != "" {
		if metric, err = ParseMetric(st.BestMetric); err != nil {
			return nil, fail("bad training state: best metric %v", err)
		}
	}
	if metric != r.Best {
		return nil, fail("written by a run that picks the best weights by %v, this run by %v", metric, r.Best)
	}
	if err := checkState(st, hist, metric); err != nil {
		return nil, fail("inconsistent training state: %v", err)
	}
	var optName string
	if r.Opt != nil {
		optName = r.Opt.String()
	}
	if st.Optimizer != optName {
		return nil, fail("written by a run with %s, this run uses %s", st.Optimizer, optName)
	}
	if _, ok := r.Opt.(*Adam); ok && st.OptimizerState["steps"] != strconv.Itoa(st.StepsDone) {
		return nil, fail("inconsistent training state: Adam has taken %q steps, the run %d", st.OptimizerState["steps"], st.StepsDone)
	}
	optTensors, err := r.matchParams(f)
	if err != nil {
		return nil, fail("%v", err)
	}
	runs, err := dropoutRunsFrom(f.Metadata, r.Params)
	if err != nil {
		return nil, fail("metadata %s: %v", DropoutRunsKey, err)
	}
	if s, ok := r.Opt.(Stateful); ok {
		if err := s.LoadState(r.Params, optTensors, st.OptimizerState); err != nil {
			return nil, fail("%v", err)
		}
	} else if len(optTensors) > 0 {
		return nil, fail("holds optimiser state, and %s keeps none", optName)
	}
	if err := r.Params.SetDropoutRuns(runs); err != nil {
		return nil, fail("metadata %s: %v", DropoutRunsKey, err) // dropoutRunsFrom checked the names
	}
	r.restore(f, st, hist)
	return configMeta(maps.Clone(f.Metadata)), nil
}

// configMeta removes from a checkpoint's metadata meta what SaveCheckpoint adds to the
// run's configuration, and returns meta.
func configMeta(meta map[string]string) map[string]string {
	delete(meta, StateKey)
	delete(meta, DropoutRunsKey)
	delete(meta, DigestKey)
	return meta
}

// notCheckpointReason is why a file without StateKey cannot be resumed.
var notCheckpointReason = fmt.Sprintf("not a training checkpoint (no %q in the metadata); best.safetensors holds weights only", StateKey)

// restore copies a checked checkpoint's parameters and training state into the runner.
func (r *Runner) restore(f *safetensors.File, st trainState, hist History) {
	for _, q := range r.Params.List() {
		t := f.Tensors[q.Name]
		switch d := q.Value.Data().(type) {
		case []float32:
			copy(d, t.F32)
		case []float64:
			copy(d, t.F64)
		}
	}
	r.StepsDone, r.BestAcc, r.BestStep, r.History = st.StepsDone, st.BestAcc, st.BestStep, hist
	r.BestLoss = 0
	for _, e := range hist.Dev {
		if e.Step == st.BestStep {
			r.BestLoss = e.Loss
		}
	}
}

// matchParams checks that f holds every declared parameter with its shape and element
// type and nothing else but the optimiser's and the history's tensors, and returns the
// optimiser's tensors by the names the optimiser gave them.
func (r *Runner) matchParams(f *safetensors.File) (map[string]safetensors.Tensor, error) {
	params := r.Params.List()
	if len(params) == 0 {
		return nil, fmt.Errorf("the model's parameters are not declared yet (compile a program first)")
	}
	optTensors := map[string]safetensors.Tensor{}
	known := map[string]bool{historyTrain: true, historyDev: true}
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
		return nil, fmt.Errorf("weights do not match the model: %s", strings.Join(problems, "; "))
	}
	return optTensors, nil
}

// CheckpointMeta returns the configuration metadata of a checkpoint written by
// SaveCheckpoint (StateKey, DropoutRunsKey and DigestKey removed) from its header alone,
// without reading the tensors, so a caller can compare a run's settings before restoring it. The file is checked
// fully only by LoadCheckpoint.
func CheckpointMeta(path string) (map[string]string, error) {
	meta, err := ReadMeta(path)
	if err != nil {
		return nil, err
	}
	if _, ok := meta[StateKey]; !ok {
		return nil, fmt.Errorf("%s: %s", path, notCheckpointReason)
	}
	return configMeta(meta), nil
}
