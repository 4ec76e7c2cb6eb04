package cli

import (
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/zoo"
)

// modelFlags are the flags that shape a model: its input and its head.
type modelFlags struct {
	input      string
	inChannels int
	classes    int

	// ResNet18 only.
	width      int  // base width: channels of the stem and layer1
	noResidual bool // drop the shortcut connections (the chapter's use_residual=False)
	stemBias   bool // a bias on the 7x7 stem conv (the chapter's layout; torchvision has none)

	fs *flag.FlagSet // the flags were parsed here; nil: every field was set on purpose

	notes []string // set by model: what a report of the model must add (an ONNX file's onnx.Notes)
}

// modelDefault is what a model takes for the flags not given on the command line, where it
// differs from the flags' defaults.
type modelDefault struct {
	inChannels, classes int
	stemBias            bool
}

// modelDefaults: resnet18-cifar is the chapter's CIFAR-10 model (section 5.5),
// paddle.vision.models.resnet18 with its defaults: 3 input channels, a 1,000-way head and
// no bias on the stem conv.
var modelDefaults = map[string]modelDefault{
	"resnet18-cifar": {inChannels: 3, classes: 1000, stemBias: false},
}

// isSet reports whether a flag was given on the command line (always true for model flags
// not made by addModelFlags).
func (m *modelFlags) isSet(name string) bool {
	if m.fs == nil {
		return true
	}
	set := false
	m.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// resolved returns the flags with the model's defaults in place of the flags not given.
func (m *modelFlags) resolved(name string) *modelFlags {
	r := *m
	if d, ok := modelDefaults[name]; ok {
		if !m.isSet("in-channels") {
			r.inChannels = d.inChannels
		}
		if !m.isSet("classes") {
			r.classes = d.classes
		}
		if !m.isSet("stem-bias") {
			r.stemBias = d.stemBias
		}
	}
	return &r
}

// addModelFlags registers the model flags; withShape adds --shape for the per-sample shape.
// Across the commands --shape is always a shape and --input always a file (predict's .npy).
func addModelFlags(fs *flag.FlagSet, withShape bool) *modelFlags {
	m := &modelFlags{fs: fs}
	if withShape {
		fs.StringVar(&m.input, "shape", "", "per-sample input shape CxHxW (default: the model's, 1x32x32); --input is always a file")
	}
	fs.IntVar(&m.inChannels, "in-channels", 1, "input channels (resnet18-cifar and torchvision's models: 3)")
	fs.IntVar(&m.classes, "classes", 10, "number of classes (resnet18-cifar and torchvision's models: 1000; the chapter keeps resnet18-cifar's default head, 10 works too)")
	fs.IntVar(&m.width, "width", 64, "ResNets: base width (channels of the stem and layer1's planes; doubled by each later stage)")
	fs.BoolVar(&m.noResidual, "no-residual", false, "resnet18: drop the residual connections (the chapter's use_residual=False)")
	fs.BoolVar(&m.stemBias, "stem-bias", true, "resnet18: a bias on the 7x7 stem conv, as in the chapter (false: torchvision's layout; resnet18-cifar: false, as paddle.vision's resnet18)")
	return m
}

// models maps a model name to the spec of its model, from the flags, and the
// implementation it runs on: the chapter's models, then torchvision's (zoo.Names, with
// 3x224x224 inputs and 1,000 classes by default; the chapter's resnet18 keeps its name,
// torchvision's is resnet18-cifar with --shape 3x224x224).
var models = map[string]func(m *modelFlags) (zoo.Spec, graph.Impl){
	"lenet":       func(m *modelFlags) (zoo.Spec, graph.Impl) { return m.chapter("lenet", "lenet"), graph.Fast },
	"lenet-naive": func(m *modelFlags) (zoo.Spec, graph.Impl) { return m.chapter("lenet", "lenet"), graph.Naive },
	"resnet18":    func(m *modelFlags) (zoo.Spec, graph.Impl) { return m.chapter("resnet18", "resnet"), graph.Fast },
	// The chapter's CIFAR-10 case study (5.5): ResNet18 with the defaults of modelDefaults.
	"resnet18-cifar": func(m *modelFlags) (zoo.Spec, graph.Impl) { return m.chapter("resnet18", "resnet"), graph.Fast },
}

func init() {
	for _, name := range zoo.Names() {
		if _, ok := models[name]; ok {
			continue
		}
		modelDefaults[name] = modelDefault{inChannels: 3, classes: 1000}
		models[name] = func(m *modelFlags) (zoo.Spec, graph.Impl) {
			s, _ := zoo.Lookup(name)
			s.InChannels, s.NumClasses, s.Input = m.inChannels, m.classes, []int{m.inChannels, 224, 224}
			if s.Family == "resnet" {
				s.Width, s.NoResidual, s.StemBias = m.width, m.noResidual, m.stemBias
			}
			return s, graph.Fast
		}
	}
}

// chapter returns the spec of one of the chapter's models (of 32x32 inputs): LeNet-5, or
// ResNet18 with the ResNet flags.
func (m *modelFlags) chapter(name, family string) zoo.Spec {
	s := zoo.Spec{Name: name, Family: family, InChannels: m.inChannels, NumClasses: m.classes, Input: []int{m.inChannels, 32, 32}}
	if family == "resnet" {
		s.Block, s.Layers, s.Width, s.NoResidual, s.StemBias = "basic", []int{2, 2, 2, 2}, m.width, m.noResidual, m.stemBias
	}
	return s
}

// isResNet reports whether a model takes the ResNet flags (--width, --no-residual, --stem-bias).
func isResNet(name string) bool {
	if _, builtin := models[name]; !builtin {
		return false
	}
	s, ok := zoo.Lookup(name)
	return strings.HasPrefix(name, "resnet18") || ok && s.Family == "resnet"
}

// modelNames returns the names of the built-in and the registered models, sorted.
func modelNames() []string {
	names := registeredNames()
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// model resolves a model name and the model flags.
func (m *modelFlags) model(name string) (graph.Model, graph.Impl, error) {
	if isONNXPath(name) {
		return m.onnxModel(name)
	}
	mk, ok := models[name]
	own, isOwn := registered[name]
	if !ok && !isOwn {
		return graph.Model{}, 0, fmt.Errorf("unknown model %q: want one of %s", name, strings.Join(modelNames(), ", "))
	}
	m = m.resolved(name)
	if m.classes < 1 || m.inChannels < 1 {
		return graph.Model{}, 0, fmt.Errorf("--classes %d, --in-channels %d: want at least 1", m.classes, m.inChannels)
	}
	if isOwn {
		model, err := m.userModel(name, own)
		return model, graph.Fast, err
	}
	if isResNet(name) && m.width < 1 {
		return graph.Model{}, 0, fmt.Errorf("--width %d: want at least 1", m.width)
	}
	spec, impl := mk(m)
	if m.input != "" {
		shape, err := parseShape(m.input)
		if err != nil {
			return graph.Model{}, 0, fmt.Errorf("--shape: %w", err)
		}
		spec.Input, spec.InChannels = shape, shape[0]
	}
	model, err := spec.Model()
	if err != nil {
		return graph.Model{}, 0, err
	}
	return model, impl, nil
}

// parseShape reads a per-sample shape such as 1x32x32.
func parseShape(s string) ([]int, error) { return zoo.ParseShape(s, "1x32x32", ", such as 1x32x32") }

// oneModel takes exactly one positional argument: the model name.
func oneModel(pos []string) (string, error) {
	if len(pos) != 1 {
		return "", fmt.Errorf("want one model name (%s), got %d arguments", strings.Join(modelNames(), ", "), len(pos))
	}
	return pos[0], nil
}

// metadata describes a model for a checkpoint's header, so that eval and predict can
// rebuild it: its family and torchvision's constructor arguments (zoo.Spec.Metadata, the
// keys of the golden zoo files), the model's name, classes and input. A ResNet also records
// width, use_residual and stem_bias, under the keys and with the "True"/"False" values of
// the PyTorch exports.
func (m *modelFlags) metadata(name string, model graph.Model) map[string]string {
	m = m.resolved(name)
	meta := map[string]string{}
	if mk, ok := models[name]; ok {
		spec, _ := mk(m)
		spec.Input, spec.InChannels = model.Input, model.Input[0]
		meta = spec.Metadata()
	}
	for k, v := range map[string]string{
		"model":       name,
		"in_channels": strconv.Itoa(model.Input[0]),
		"classes":     strconv.Itoa(model.Classes),
		"input":       fmt.Sprintf("%dx%dx%d", model.Input[0], model.Input[1], model.Input[2]),
	} {
		meta[k] = v
	}
	if isResNet(name) {
		meta["width"] = strconv.Itoa(m.width)
		meta["use_residual"] = pyBool(!m.noResidual)
		meta["stem_bias"] = pyBool(m.stemBias)
	}
	return meta
}

// pyBool writes a flag as Python's str(bool) does.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// fromMetadata rebuilds the model a checkpoint was saved from: ours (by its model name), a
// file that names no model of ours but its family and constructor arguments (fromFamily),
// or a PyTorch export whose metadata names the model and gives num_classes (for classes), width, use_residual and
// stem_bias ("True"/"False"). Keys that are absent take the flags' defaults.
func fromMetadata(path string, meta map[string]string) (string, graph.Model, graph.Impl, error) {
	name := meta["model"]
	if !knownModel(name) && meta["family"] != "" {
		return fromFamily(path, meta)
	}
	if name == "" {
		return "", graph.Model{}, 0, fmt.Errorf("%s: no model name in the metadata; give the model name as an argument", path)
	}
	if !knownModel(name) {
		return "", graph.Model{}, 0, notInProgram(path, name)
	}
	mf := &modelFlags{input: meta["input"], inChannels: 1, classes: 10, width: 64, stemBias: true}
	var err error
	if v, ok := meta["num_classes"]; ok {
		if mf.classes, err = strconv.Atoi(v); err != nil {
			return "", graph.Model{}, 0, fmt.Errorf("%s: metadata num_classes %q is not a number", path, v)
		}
	}
	if v, ok := meta["in_channels"]; ok {
		if mf.inChannels, err = strconv.Atoi(v); err != nil {
			return "", graph.Model{}, 0, fmt.Errorf("%s: metadata in_channels %q is not a number", path, v)
		}
	}
	if v, ok := meta["classes"]; ok {
		if mf.classes, err = strconv.Atoi(v); err != nil {
			return "", graph.Model{}, 0, fmt.Errorf("%s: metadata classes %q is not a number", path, v)
		}
	}
	if v, ok := meta["width"]; ok {
		if mf.width, err = strconv.Atoi(v); err != nil {
			return "", graph.Model{}, 0, fmt.Errorf("%s: metadata width %q is not a number", path, v)
		}
	}
	if v, ok := meta["use_residual"]; ok {
		residual, err := strconv.ParseBool(v)
		if err != nil {
			return "", graph.Model{}, 0, fmt.Errorf("%s: metadata use_residual %q is not True or False", path, v)
		}
		mf.noResidual = !residual
	}
	if v, ok := meta["stem_bias"]; ok {
		if mf.stemBias, err = strconv.ParseBool(v); err != nil {
			return "", graph.Model{}, 0, fmt.Errorf("%s: metadata stem_bias %q is not True or False", path, v)
		}
	}
	m, impl, err := mf.model(name)
	if err != nil {
		return "", graph.Model{}, 0, fmt.Errorf("%s: %w", path, err)
	}
	return name, m, impl, nil
}

// fromFamily builds the model a file's metadata describes by its family and torchvision's
// constructor arguments (zoo.FromMetadata), named by the metadata's model or its family.
func fromFamily(path string, meta map[string]string) (string, graph.Model, graph.Impl, error) {
	spec, err := zoo.FromMetadata(meta)
	if err != nil {
		return "", graph.Model{}, 0, fmt.Errorf("%s: %w", path, err)
	}
	m, err := spec.Model()
	if err != nil {
		return "", graph.Model{}, 0, fmt.Errorf("%s: %w", path, err)
	}
	return m.Name, m, graph.Fast, nil
}
