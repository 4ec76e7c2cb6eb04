package cli

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nndl/cnn/graph"
)

// Model is a model of a program's own, for Register: what every command needs to build it
// for the input and classes of its command line.
type Model struct {
	// Doc is one line about the model, shown by 'cnn help'.
	Doc string
	// Input is the per-sample shape CxHxW the model takes by default (--shape and
	// --in-channels change it); 1x32x32 when nil.
	Input []int
	// Classes is the width of the logits by default (--classes changes it); 10 when 0.
	Classes int
	// Build returns the model for cfg, as the built-in models are declared (a graph.Model
	// whose Forward adds graph.Net layers), or an error when the model cannot take cfg. The
	// graph.Model's Name, Input and Classes are cfg's when left empty; given, Input and
	// Classes must be cfg's.
	Build func(cfg Config) (graph.Model, error)
}

// Config is what a command line asks of a Model.
type Config struct {
	Input   []int // per-sample shape CxHxW: the Model's Input, or --shape, or its channels from --in-channels
	Classes int   // the Model's Classes, or --classes
}

// registered are the models of Register, by name.
var registered = map[string]Model{}

// Register adds a model of the program's own under name: every command (summary, flops,
// dot, train, eval, predict, bench, export) then takes it by that name, 'cnn help' lists it,
// and the checkpoints 'cnn train' writes name it, so that eval and predict --weights rebuild
// it from the file alone. Call it before Main, from main or an init function; it is not
// safe to call concurrently with Main.
//
// Like flag.Var, Register panics when the name is taken (by a built-in model or an earlier
// Register), is empty, holds a space or ends in .onnx (that names a file), when Build is
// nil or when Input is not a shape CxHxW of positive sizes or Classes is negative.
func Register(name string, m Model) {
	switch {
	case name == "" || strings.ContainsAny(name, " \t\n") || isONNXPath(name):
		panic(fmt.Sprintf("cli.Register: model name %q: want a non-empty word that does not end in .onnx", name))
	case m.Build == nil:
		panic(fmt.Sprintf("cli.Register(%q): Build is nil", name))
	case m.Input != nil && (len(m.Input) != 3 || slices.Min(m.Input) < 1):
		panic(fmt.Sprintf("cli.Register(%q): Input %v: want CxHxW, every size at least 1", name, m.Input))
	case m.Classes < 0:
		panic(fmt.Sprintf("cli.Register(%q): Classes %d: want at least 1 (or 0 for 10)", name, m.Classes))
	}
	if _, ok := models[name]; ok {
		panic(fmt.Sprintf("cli.Register: model name %q is a built-in model", name))
	}
	if _, ok := registered[name]; ok {
		panic(fmt.Sprintf("cli.Register: model name %q registered twice", name))
	}
	if m.Input == nil {
		m.Input = []int{1, 32, 32}
	}
	m.Input = slices.Clone(m.Input)
	if m.Classes == 0 {
		m.Classes = 10
	}
	registered[name] = m
	modelDefaults[name] = modelDefault{inChannels: m.Input[0], classes: m.Classes}
}

// userModel builds a registered model for the resolved flags: the Model's input with the
// channels of --in-channels, or --shape; its classes or --classes.
func (mf *modelFlags) userModel(name string, um Model) (graph.Model, error) {
	cfg := Config{Input: []int{mf.inChannels, um.Input[1], um.Input[2]}, Classes: mf.classes}
	if mf.input != "" {
		shape, err := parseShape(mf.input)
		if err != nil {
			return graph.Model{}, fmt.Errorf("--shape: %w", err)
		}
		cfg.Input = shape
	}
	m, err := um.Build(cfg)
	if err != nil {
		return graph.Model{}, fmt.Errorf("%s: %w", name, err)
	}
	if m.Forward == nil {
		return graph.Model{}, fmt.Errorf("%s: Build returned a model without Forward", name)
	}
	if m.Name == "" {
		m.Name = name
	}
	if m.Input == nil {
		m.Input = slices.Clone(cfg.Input)
	}
	if m.Classes == 0 {
		m.Classes = cfg.Classes
	}
	if !slices.Equal(m.Input, cfg.Input) || m.Classes != cfg.Classes {
		return graph.Model{}, fmt.Errorf("%s: built for input %s and %d classes, asked for %s and %d (--shape, --in-channels, --classes)",
			name, shapeString(m.Input), m.Classes, shapeString(cfg.Input), cfg.Classes)
	}
	return m, nil
}

// shapeString writes a per-sample shape as the flags take it: 1x32x32.
func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "x")
}

// registeredNames returns the names of the registered models, sorted.
func registeredNames() []string {
	names := make([]string, 0, len(registered))
	for n := range registered {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// knownModel reports whether name is a model of this program: built in or registered.
func knownModel(name string) bool {
	_, builtin := models[name]
	_, own := registered[name]
	return builtin || own
}

// notInProgram is the error for a file whose metadata names a model this program does not
// have: one made by a program that registered it.
func notInProgram(path, name string) error {
	return fmt.Errorf("%s: unknown model %q: want one of %s (a model another program registered is read by that program)",
		path, name, strings.Join(modelNames(), ", "))
}
