// Package zoo names torchvision's CNN families and their standard members, and describes a
// model by torchvision's constructor arguments: a Spec is what a weights file's
// __metadata__ says (family, block, layers, width, groups, width_per_group,
// replace_stride_with_dilation, width_mult, growth_rate, block_config, num_init_features,
// bn_size, num_classes, in_channels, input), so that a file builds its own model.
//
// The families live in their own packages, each declared once under torchvision's names:
// resnet (and the chapter's ResNet18), zoo/vgg, zoo/alexnet, zoo/mobilenet, zoo/densenet,
// zoo/squeezenet; the chapter's LeNet-5 is the family "lenet".
package zoo

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/resnet"
	"github.com/nndl/cnn/zoo/alexnet"
	"github.com/nndl/cnn/zoo/densenet"
	"github.com/nndl/cnn/zoo/mobilenet"
	"github.com/nndl/cnn/zoo/squeezenet"
	"github.com/nndl/cnn/zoo/vgg"
)

// Spec describes a model by its family and torchvision's constructor arguments. Fields that
// do not apply to the family are left at zero.
type Spec struct {
	Name   string // the model's name ("resnet50"); the family when empty
	Family string // "resnet", "vgg16_bn", "alexnet", "mobilenet_v2", "mobilenet_v3_small", "densenet", "squeezenet1_1", "lenet"

	// resnet
	Block                     string // "basic" or "bottleneck"
	Layers                    []int  // blocks per stage
	Width                     int    // channels of the stem and planes of layer1 (64 in torchvision)
	Groups, WidthPerGroup     int
	ReplaceStrideWithDilation []bool // 3 values, or none
	NoResidual, StemBias      bool   // the chapter's use_residual=False and its stem bias

	WidthMult float64 // mobilenet_v2, mobilenet_v3_small

	// densenet
	GrowthRate, NumInitFeatures, BnSize int
	BlockConfig                         []int

	NumClasses, InChannels int
	Input                  []int // per-sample shape CxHxW; InChannels x 224 x 224 when nil
	// Dropout is the probability of the family's dropout layers in training (metadata
	// train_dropout_p); torchvision's default when nil.
	Dropout *float64
}

// standard are torchvision's models by name, with their constructor's defaults
// (3x224x224 inputs, 1,000 classes).
var standard = map[string]Spec{
	"alexnet":            {Family: "alexnet"},
	"vgg11":              {Family: "vgg11"},
	"vgg11_bn":           {Family: "vgg11_bn"},
	"vgg13":              {Family: "vgg13"},
	"vgg13_bn":           {Family: "vgg13_bn"},
	"vgg16":              {Family: "vgg16"},
	"vgg16_bn":           {Family: "vgg16_bn"},
	"vgg19":              {Family: "vgg19"},
	"vgg19_bn":           {Family: "vgg19_bn"},
	"resnet18":           {Family: "resnet", Block: "basic", Layers: []int{2, 2, 2, 2}},
	"resnet34":           {Family: "resnet", Block: "basic", Layers: []int{3, 4, 6, 3}},
	"resnet50":           {Family: "resnet", Block: "bottleneck", Layers: []int{3, 4, 6, 3}},
	"resnet101":          {Family: "resnet", Block: "bottleneck", Layers: []int{3, 4, 23, 3}},
	"resnext50_32x4d":    {Family: "resnet", Block: "bottleneck", Layers: []int{3, 4, 6, 3}, Groups: 32, WidthPerGroup: 4},
	"wide_resnet50_2":    {Family: "resnet", Block: "bottleneck", Layers: []int{3, 4, 6, 3}, WidthPerGroup: 128},
	"mobilenet_v2":       {Family: "mobilenet_v2"},
	"mobilenet_v3_small": {Family: "mobilenet_v3_small"},
	"densenet121":        {Family: "densenet"},
	"squeezenet1_1":      {Family: "squeezenet1_1"},
}

// Names returns the standard models' names, sorted.
func Names() []string {
	var names []string
	for n := range standard {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the standard model of that name with torchvision's defaults filled in.
func Lookup(name string) (Spec, bool) {
	s, ok := standard[name]
	if !ok {
		return Spec{}, false
	}
	s.Name = name
	s.Layers = slices.Clone(s.Layers)
	return s.withDefaults(), true
}

// vggConfigs maps each VGG family name to torchvision's configuration letter.
var vggConfigs = map[string]string{"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}

// isVGG reports whether a family is one of VGG's (vgg16, vgg16_bn, ...).
func isVGG(family string) bool {
	_, ok := vggConfigs[strings.TrimSuffix(family, "_bn")]
	return ok
}

// withDefaults fills the arguments left at zero with torchvision's defaults.
func (s Spec) withDefaults() Spec {
	if s.NumClasses == 0 {
		s.NumClasses = 1000
	}
	if s.InChannels == 0 {
		s.InChannels = 3
		if s.Input != nil {
			s.InChannels = s.Input[0]
		}
	}
	if s.Input == nil {
		s.Input = []int{s.InChannels, 224, 224}
	}
	switch s.Family {
	case "resnet":
		s.Width = or(s.Width, 64)
		s.Groups = or(s.Groups, 1)
		s.WidthPerGroup = or(s.WidthPerGroup, 64)
		if s.ReplaceStrideWithDilation == nil {
			s.ReplaceStrideWithDilation = []bool{false, false, false}
		}
	case "mobilenet_v2", "mobilenet_v3_small":
		if s.WidthMult == 0 {
			s.WidthMult = 1
		}
	case "densenet":
		s.GrowthRate = or(s.GrowthRate, 32)
		s.NumInitFeatures = or(s.NumInitFeatures, 64)
		s.BnSize = or(s.BnSize, 4)
		if s.BlockConfig == nil {
			s.BlockConfig = []int{6, 12, 24, 16}
		}
	}
	return s
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// dropout returns the spec's dropout probability, or the family's default.
func (s Spec) dropout(def float64) float64 {
	if s.Dropout != nil {
		return *s.Dropout
	}
	return def
}

// Model declares the model the spec describes.
func (s Spec) Model() (graph.Model, error) {
	s = s.withDefaults()
	if err := s.check(); err != nil {
		return graph.Model{}, err
	}
	m, err := s.model()
	if err != nil {
		return graph.Model{}, fmt.Errorf("%s: %w", s.Family, err)
	}
	if s.Name != "" {
		m.Name = s.Name
	}
	m.Input = slices.Clone(s.Input)
	return m, nil
}

// model calls the family's constructor after its own Check.
func (s Spec) model() (graph.Model, error) {
	in, classes := s.InChannels, s.NumClasses
	switch {
	case s.Family == "resnet":
		c := resnet.Config{Name: s.Family, InChannels: in, Classes: classes, Width: s.Width, Residual: !s.NoResidual,
			StemBias: s.StemBias, Layers: s.Layers, Groups: s.Groups, WidthPerGroup: s.WidthPerGroup}
		switch s.Block {
		case "basic":
		case "bottleneck":
			c.Block = resnet.Bottleneck
		default:
			return graph.Model{}, fmt.Errorf("block %q: want basic or bottleneck", s.Block)
		}
		if len(s.ReplaceStrideWithDilation) != 3 {
			return graph.Model{}, fmt.Errorf("replace_stride_with_dilation %v: want 3 values", s.ReplaceStrideWithDilation)
		}
		copy(c.ReplaceStrideWithDilation[:], s.ReplaceStrideWithDilation)
		return checked(c.Check(), func() graph.Model { return resnet.New(c) })
	case isVGG(s.Family):
		c := vgg.Config{Name: s.Family, Layers: vgg.Configs[vggConfigs[strings.TrimSuffix(s.Family, "_bn")]],
			BatchNorm: strings.HasSuffix(s.Family, "_bn"), InChannels: in, Classes: classes, Dropout: s.dropout(0.5)}
		return checked(c.Check(), func() graph.Model { return vgg.New(c) })
	case s.Family == "alexnet":
		c := alexnet.Config{InChannels: in, Classes: classes, Dropout: s.dropout(0.5)}
		return checked(c.Check(), func() graph.Model { return alexnet.New(c) })
	case s.Family == "mobilenet_v2" || s.Family == "mobilenet_v3_small":
		c := mobilenet.Config{WidthMult: s.WidthMult, InChannels: in, Classes: classes, Dropout: s.dropout(0.2)}
		if s.Family == "mobilenet_v2" {
			return checked(c.Check(), func() graph.Model { return mobilenet.V2(c) })
		}
		return checked(c.Check(), func() graph.Model { return mobilenet.V3Small(c) })
	case s.Family == "densenet":
		c := densenet.Config{GrowthRate: s.GrowthRate, BlockConfig: s.BlockConfig, NumInitFeatures: s.NumInitFeatures,
			BnSize: s.BnSize, InChannels: in, Classes: classes}
		return checked(c.Check(), func() graph.Model { return densenet.New(c) })
	case s.Family == "squeezenet1_1":
		c := squeezenet.Config{InChannels: in, Classes: classes, Dropout: s.dropout(0.5)}
		return checked(c.Check(), func() graph.Model { return squeezenet.V1_1(c) })
	case s.Family == "lenet":
		return lenet.New(in, classes), nil
	}
	return graph.Model{}, fmt.Errorf("unknown family %q: want one of %s", s.Family, strings.Join(Families(), ", "))
}

// checked returns the model made by mk when err is nil.
func checked(err error, mk func() graph.Model) (graph.Model, error) {
	if err != nil {
		return graph.Model{}, err
	}
	return mk(), nil
}

// Families returns the family names a Spec may give, sorted.
func Families() []string {
	f := []string{"alexnet", "densenet", "lenet", "mobilenet_v2", "mobilenet_v3_small", "resnet", "squeezenet1_1"}
	for v := range vggConfigs {
		f = append(f, v, v+"_bn")
	}
	slices.Sort(f)
	return f
}
