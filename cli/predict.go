package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/npy"
	"github.com/nndl/cnn/trainer"
	"gorgonia.org/tensor"
)

func init() {
	register("eval", "accuracy and loss of saved weights on a split", cmdEval)
	register("predict", "classify a test image, your own image, or a batch of tensors (.npy)", cmdPredict)
}

// weightFlags load a model and its weights from a checkpoint.
type weightFlags struct {
	path   string
	strict bool
	mf     *modelFlags
	fs     *flag.FlagSet
}

func addWeightFlags(fs *flag.FlagSet) *weightFlags {
	w := &weightFlags{fs: fs}
	fs.StringVar(&w.path, "weights", "", "weights (.safetensors) saved by 'cnn train' or exported from PyTorch")
	fs.BoolVar(&w.strict, "strict", true, "fail on missing, extra or mis-shaped tensors (false: skip and list them)")
	w.mf = addModelFlags(fs, false)
	return w
}

// load builds the runner for the checkpoint: the model named in pos, or else the one in the
// file's metadata. It returns the tensors it skipped (with --strict=false), and prints them
// on text unless it is nil.
func (w *weightFlags) load(pos []string, text io.Writer) (*trainer.Runner, string, []string, error) {
	if w.path == "" && len(pos) == 1 && isONNXPath(pos[0]) {
		return loadONNX(pos[0])
	}
	if w.path == "" {
		return nil, "", nil, fmt.Errorf("--weights FILE is required")
	}
	if len(pos) > 1 {
		return nil, "", nil, fmt.Errorf("want at most one model name, got %d arguments", len(pos))
	}
	f, err := trainer.ReadWeights(w.path)
	if err != nil {
		return nil, "", nil, err
	}
	var name string
	var m graph.Model
	var impl graph.Impl
	if len(pos) == 1 {
		name = pos[0]
		m, impl, err = w.mf.model(name)
	} else {
		name, m, impl, err = fromMetadata(w.path, f.Metadata)
	}
	if err != nil {
		return nil, "", nil, err
	}
	params := graph.NewParams(tensor.Float32, 0)
	r := trainer.New(m, params, impl, nil)
	if _, err := r.Program(1, false); err != nil {
		return nil, "", nil, err
	}
	skipped, err := trainer.LoadTensors(w.path, f, params, w.strict)
	if err != nil {
		return nil, "", nil, err
	}
	if len(skipped) > 0 && text != nil {
		fmt.Fprintf(text, "skipped: %s\n", strings.Join(skipped, "; "))
	}
	r.Frozen = true
	return r, name, skipped, nil
}

func cmdEval(args []string, stdout io.Writer) error {
	fs := newFlags("eval", "[MODEL] --weights FILE [--split test|dev|train] [flags]")
	wf := addWeightFlags(fs)
	df := addDataFlags(fs)
	split := fs.String("split", "test", "which split: test, dev or train")
	batch := fs.Int("batch", 64, "batch size")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *batch < 1 {
		return fmt.Errorf("--batch %d: want at least 1", *batch)
	}
	r, name, skipped, err := wf.load(pos, textOut(stdout, *asJSON))
	if err != nil {
		return err
	}
	d, err := pickSplit(df, fs, r.Model, *split)
	if err != nil {
		return err
	}
	l, err := data.NewLoader(d, *batch, false, 0)
	if err != nil {
		return err
	}
	acc, loss, err := r.Evaluate(l)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, true, evalReport{Model: name, Weights: wf.path, Split: *split, Images: d.N(), Accuracy: acc, Loss: loss, Skipped: skipped})
	}
	fmt.Fprintf(stdout, "%s on %s (%d images): accuracy/loss: %.4f/%.4f\n", name, *split, d.N(), acc, loss)
	return nil
}

// evalReport is what 'cnn eval --json' prints.
type evalReport struct {
	Model    string   `json:"model"`
	Weights  string   `json:"weights"`
	Split    string   `json:"split"`
	Images   int      `json:"images"`
	Accuracy float64  `json:"accuracy"`
	Loss     float64  `json:"loss"`
	Skipped  []string `json:"skipped,omitempty"`
}

// predictReport is what 'cnn predict --json' prints.
type predictReport struct {
	Model         string    `json:"model"`
	Index         *int      `json:"index,omitempty"`
	Split         string    `json:"split,omitempty"`
	Image         string    `json:"image,omitempty"`
	TrueClass     *int      `json:"true_class,omitempty"`
	PredClass     *int      `json:"predicted_class,omitempty"`
	Probabilities []float64 `json:"probabilities,omitempty"`
	Input         string    `json:"input,omitempty"`  // --input: the .npy file
	Logits        []int     `json:"logits,omitempty"` // --input: the shape written to out
	Out           string    `json:"out,omitempty"`
	Skipped       []string  `json:"skipped,omitempty"`
}

// textOut is where a command prints its text: nowhere when it prints JSON.
func textOut(w io.Writer, asJSON bool) io.Writer {
	if asJSON {
		return nil
	}
	return w
}

// pickSplit loads one split of the dataset the model reads: CIFAR-10 (from --data) for a
// model of 3x32x32 inputs, MNIST otherwise.
func pickSplit(df *dataFlags, fs *flag.FlagSet, m graph.Model, split string) (*data.Dataset, error) {
	var train, dev, test *data.Dataset
	var err error
	switch {
	case len(m.Input) == 3 && m.Input[0] == 3 && m.Input[1] == data.CIFARSide && m.Input[2] == data.CIFARSide:
		isSet := func(name string) bool {
			set := false
			fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
			return set
		}
		train, dev, test, err = loadCIFAR(df, isSet)
	case len(m.Input) == 3 && m.Input[0] == 1:
		train, dev, test, err = df.load(m.Input[1], m.Input[2])
	default:
		return nil, fmt.Errorf("%s: input %v: the datasets are MNIST (1xHxW) and CIFAR-10 (3x32x32)", m.Name, m.Input)
	}
	if err != nil {
		return nil, err
	}
	switch split {
	case "test":
		return test, nil
	case "dev":
		return dev, nil
	case "train":
		return train, nil
	}
	return nil, fmt.Errorf("--split %q: want test, dev or train", split)
}

func cmdPredict(args []string, stdout io.Writer) error {
	fs := newFlags("predict", "[MODEL] --weights FILE (--index N [--split test] | --image FILE | --input x.npy --out logits.npy)")
	wf := addWeightFlags(fs)
	df := addDataFlags(fs)
	index := fs.Int("index", -1, "classify image N of the split")
	split := fs.String("split", "test", "split for --index: test, dev or train")
	image := fs.String("image", "", "classify your own image (PNG, JPEG or GIF; any size and colour)")
	input := fs.String("input", "", "a file: run a batch of preprocessed tensors [N,C,H,W] float32 from a .npy file, at the model's channels and any height and width the network takes")
	mode := fs.String("mode", "eval", "eval: BatchNorm uses its running statistics; train: the batch's own statistics (PyTorch's model.train())")
	outPath := fs.String("out", "", "with --input: write the logits [N,classes] to this .npy file; with --index/--image: also write the input as the model sees it to this PNG (none unless given)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	modes := 0
	for _, set := range []bool{*index >= 0, *image != "", *input != ""} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return fmt.Errorf("give exactly one of --index N, --image FILE or --input FILE.npy")
	}
	if *mode != "eval" && *mode != "train" {
		return fmt.Errorf("--mode %q: want eval or train", *mode)
	}
	if *image != "" {
		if err := checkInputFile("--image", *image); err != nil {
			return err
		}
	}
	if *outPath != "" {
		inputs := []namedPath{{"--weights", wf.path}, {"--image", *image}, {"--input", *input}}
		if err := checkOutput("--out", *outPath, inputs...); err != nil {
			return err
		}
	}
	r, name, skipped, err := wf.load(pos, textOut(stdout, *asJSON))
	if err != nil {
		return err
	}
	rep := predictReport{Model: name, Out: *outPath, Skipped: skipped}
	forward := func(x []float32, n int) ([]float64, error) {
		if *mode == "eval" {
			return r.Predict(x, n)
		}
		return forwardBatchStats(r, x, n)
	}
	// resize compiles the model for another per-sample shape, on the same weights.
	resize := func(chw []int) {
		m := r.Model
		m.Input = chw
		frozen := r.Frozen
		r = trainer.New(m, r.Params, r.Impl, r.Opt)
		r.Frozen = frozen
	}
	c, h, w := r.Model.Input[0], r.Model.Input[1], r.Model.Input[2]
	if *input != "" {
		rep.Input = *input
		return predictNPY(r, resize, forward, &rep, stdout, *asJSON)
	}
	var x []float32
	label := -1
	if *image != "" {
		if c != 1 {
			return fmt.Errorf("--image: the model takes %d input channels; images are converted to grey (1 channel)", c)
		}
		if x, err = data.LoadImage(*image, h, w); err != nil {
			return err
		}
		rep.Image = *image
	} else {
		d, err := pickSplit(df, fs, r.Model, *split)
		if err != nil {
			return err
		}
		if *index >= d.N() {
			return fmt.Errorf("--index %d: the %s split has %d images (0 to %d)", *index, *split, d.N(), d.N()-1)
		}
		x, label = d.Sample(*index), d.Y[*index]
		rep.Index, rep.Split, rep.TrueClass = index, *split, &label
	}
	logits, err := forward(x, 1)
	if err != nil {
		return err
	}
	// The picture is written before anything is printed: a failed write prints no result.
	if *outPath != "" {
		if err := data.WritePNG(*outPath, x, h, w); err != nil {
			return err
		}
	}
	return printPrediction(stdout, &rep, logits, label, *asJSON)
}

// printPrediction prints the class probabilities of one image and its true class when
// label is one (>= 0), as text or JSON.
func printPrediction(stdout io.Writer, rep *predictReport, logits []float64, label int, asJSON bool) error {
	p := trainer.Softmax(logits)
	pred := trainer.Argmax(logits)
	if asJSON {
		rep.PredClass, rep.Probabilities = &pred, p
		return printJSON(stdout, true, rep)
	}
	if label >= 0 {
		fmt.Fprintf(stdout, "The true category is %d and the predicted category is %d\n", label, pred)
	} else {
		fmt.Fprintf(stdout, "The predicted category is %d\n", pred)
	}
	fmt.Fprintln(stdout, "class probabilities:")
	for i, v := range p {
		mark := ""
		if i == pred {
			mark = "  <-"
		}
		fmt.Fprintf(stdout, "  %d: %.4f%s\n", i, v, mark)
	}
	if rep.Out != "" {
		fmt.Fprintf(stdout, "wrote the input as %s\n", rep.Out)
	}
	return nil
}

// predictNPY runs a batch of preprocessed tensors from a .npy file, of the model's input
// channels and any height and width the network takes (resize compiles it for them: a
// fully convolutional network takes any; one that does not fails naming its layer).
func predictNPY(r *trainer.Runner, resize func(chw []int), forward func(x []float32, n int) ([]float64, error), rep *predictReport, stdout io.Writer, asJSON bool) error {
	in, out := rep.Input, rep.Out
	if out == "" {
		return fmt.Errorf("--input needs --out FILE.npy for the logits")
	}
	shape, x, err := npy.ReadFloat32(in)
	if err != nil {
		return err
	}
	want := r.Model.Input
	if len(shape) != 4 || shape[1] != want[0] || shape[0] < 1 {
		return fmt.Errorf("%s: shape %v, want [N,%d,H,W] for %s", in, shape, want[0], r.Model.Name)
	}
	resized := shape[2] != want[1] || shape[3] != want[2]
	if resized {
		resize(shape[1:])
	}
	logits, err := forward(x, shape[0])
	if err != nil && resized {
		return fmt.Errorf("%s: shape %v: %w", in, shape, err)
	}
	if err != nil {
		return err
	}
	l32 := make([]float32, len(logits))
	for i, v := range logits {
		l32[i] = float32(v)
	}
	if err := npy.WriteFloat32(out, []int{shape[0], r.Model.Classes}, l32); err != nil {
		return err
	}
	if asJSON {
		rep.Logits = []int{shape[0], r.Model.Classes}
		return printJSON(stdout, true, rep)
	}
	fmt.Fprintf(stdout, "wrote logits [%d,%d] to %s\n", shape[0], r.Model.Classes, out)
	return nil
}

// forwardBatchStats runs the model with BatchNorm normalising by the batch's own statistics.
func forwardBatchStats(r *trainer.Runner, x []float32, n int) ([]float64, error) {
	p, err := build.Compile(r.Model, r.Params, build.Options{Batch: n, BatchStats: true, Impl: r.Impl})
	if err != nil {
		return nil, err
	}
	if err := p.Feed(x, nil); err != nil {
		return nil, err
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	return p.LogitsValue(), nil
}
