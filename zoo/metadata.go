package zoo

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Metadata keys that describe a model, as torchref/zoo.py writes them: integers in decimal,
// lists as JSON ("[3, 4, 6, 3]", "[false, true, true]"), the input as CxHxW. use_residual
// and stem_bias are the chapter's ResNet switches ("True"/"False"); train_dropout_p is the
// dropout probability in training.
const (
	keyFamily, keyBlock, keyLayers, keyWidth       = "family", "block", "layers", "width"
	keyGroups, keyWidthPerGroup, keyDilation       = "groups", "width_per_group", "replace_stride_with_dilation"
	keyWidthMult, keyGrowthRate, keyBlockConfig    = "width_mult", "growth_rate", "block_config"
	keyNumInitFeatures, keyBnSize, keyNumClasses   = "num_init_features", "bn_size", "num_classes"
	keyInChannels, keyInput, keyResidual, keyStemB = "in_channels", "input", "use_residual", "stem_bias"
	keyDropout                                     = "train_dropout_p"
)

// familyKeys are the keys each family takes besides family, num_classes, in_channels,
// input and train_dropout_p.
func familyKeys(family string) []string {
	switch family {
	case "resnet":
		return []string{keyBlock, keyLayers, keyWidth, keyGroups, keyWidthPerGroup, keyDilation, keyResidual, keyStemB}
	case "mobilenet_v2", "mobilenet_v3_small":
		return []string{keyWidthMult}
	case "densenet":
		return []string{keyGrowthRate, keyBlockConfig, keyNumInitFeatures, keyBnSize}
	}
	return nil
}

// allFamilyKeys are the keys that belong to some family.
var allFamilyKeys = []string{keyBlock, keyLayers, keyWidth, keyGroups, keyWidthPerGroup, keyDilation, keyResidual,
	keyStemB, keyWidthMult, keyGrowthRate, keyBlockConfig, keyNumInitFeatures, keyBnSize}

// Limits on what metadata may ask for, far above torchvision's models (ResNet152 has 36
// blocks in a stage, DenseNet161 a growth rate of 48), so that a hostile file is an error
// and not a declaration that runs out of memory.
const (
	maxBlocks   = 64   // blocks in a ResNet stage, dense layers in a DenseNet block
	maxStages   = 16   // dense blocks of a DenseNet
	maxChannels = 4096 // width, groups, width_per_group, growth_rate, num_init_features, in_channels
	maxClasses  = 1 << 20
	maxBnSize   = 64
	maxSide     = 1 << 16
)

// FromMetadata reads a spec from a weights file's metadata. Keys absent take torchvision's
// defaults; a key of another family is an error. The model key, when present, names it.
func FromMetadata(meta map[string]string) (Spec, error) {
	s := Spec{Family: meta[keyFamily], Name: meta["model"]}
	if s.Family == "" {
		return Spec{}, fmt.Errorf("no %s in the metadata", keyFamily)
	}
	if !slices.Contains(Families(), s.Family) {
		return Spec{}, fmt.Errorf("metadata family %q: want one of %s", s.Family, strings.Join(Families(), ", "))
	}
	for _, k := range allFamilyKeys {
		if _, ok := meta[k]; ok && !slices.Contains(familyKeys(s.Family), k) {
			return Spec{}, fmt.Errorf("metadata %s: not an argument of family %s", k, s.Family)
		}
	}
	r := reader{meta: meta}
	s.Block = meta[keyBlock]
	r.ints(keyLayers, &s.Layers)
	r.int(keyWidth, &s.Width)
	r.int(keyGroups, &s.Groups)
	r.int(keyWidthPerGroup, &s.WidthPerGroup)
	if v, ok := meta[keyDilation]; ok && r.err == nil {
		if err := json.Unmarshal([]byte(v), &s.ReplaceStrideWithDilation); err != nil {
			r.err = fmt.Errorf("metadata %s %q: want a list such as [false, true, true]", keyDilation, v)
		}
	}
	var residual bool
	if r.bool(keyResidual, &residual) {
		s.NoResidual = !residual
	}
	r.bool(keyStemB, &s.StemBias)
	r.float(keyWidthMult, &s.WidthMult)
	r.int(keyGrowthRate, &s.GrowthRate)
	r.ints(keyBlockConfig, &s.BlockConfig)
	r.int(keyNumInitFeatures, &s.NumInitFeatures)
	r.int(keyBnSize, &s.BnSize)
	r.int(keyNumClasses, &s.NumClasses)
	r.int(keyInChannels, &s.InChannels)
	if v, ok := meta[keyInput]; ok && r.err == nil {
		if s.Input, r.err = parseInput(v); r.err != nil {
			r.err = fmt.Errorf("metadata %s: %w", keyInput, r.err)
		}
	}
	var p float64
	if r.float(keyDropout, &p) {
		s.Dropout = &p
	}
	if r.err != nil {
		return Spec{}, r.err
	}
	s = s.withDefaults()
	if err := s.bounds(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// reader parses metadata values, keeping the first error.
type reader struct {
	meta map[string]string
	err  error
}

func (r *reader) get(key string) (string, bool) {
	v, ok := r.meta[key]
	return v, ok && r.err == nil
}

func (r *reader) int(key string, dst *int) {
	if v, ok := r.get(key); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			r.err = fmt.Errorf("metadata %s %q is not a whole number", key, v)
		}
		*dst = n
	}
}

func (r *reader) ints(key string, dst *[]int) {
	if v, ok := r.get(key); ok {
		if err := json.Unmarshal([]byte(v), dst); err != nil || len(*dst) > maxStages {
			r.err = fmt.Errorf("metadata %s %q: want a list of at most %d whole numbers such as [3, 4, 6, 3]", key, v, maxStages)
		}
	}
}

func (r *reader) float(key string, dst *float64) bool {
	v, ok := r.get(key)
	if ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			r.err = fmt.Errorf("metadata %s %q is not a finite number", key, v)
		}
		*dst = f
	}
	return ok
}

func (r *reader) bool(key string, dst *bool) bool {
	v, ok := r.get(key)
	if ok {
		switch v {
		case "True", "true":
			*dst = true
		case "False", "false":
			*dst = false
		default:
			r.err = fmt.Errorf("metadata %s %q is not True or False", key, v)
		}
	}
	return ok
}

// parseInput reads a per-sample shape CxHxW.
func parseInput(v string) ([]int, error) { return ParseShape(v, "3x224x224", "") }

// ParseShape reads a per-sample shape CxHxW, each side from 1 to 65,536. Its errors quote v
// and give example; more is added to the error of a bad number.
func ParseShape(v, example, more string) ([]int, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(v)), "x")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%q: want CxHxW such as %s", v, example)
	}
	shape := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxSide {
			return nil, fmt.Errorf("%q: want CxHxW with whole numbers from 1 to %d%s", v, maxSide, more)
		}
		shape[i] = n
	}
	return shape, nil
}

// bounds bounds the arguments a file may give (the families' own Check says what each
// takes; the declaration bounds each tensor).
func (s Spec) bounds() error {
	within := func(key string, v, hi int) error {
		if v < 0 || v > hi {
			return fmt.Errorf("%s %d: want at most %d", key, v, hi)
		}
		return nil
	}
	errs := []error{
		within(keyWidth, s.Width, maxChannels), within(keyGroups, s.Groups, maxChannels),
		within(keyWidthPerGroup, s.WidthPerGroup, maxChannels), within(keyGrowthRate, s.GrowthRate, maxChannels),
		within(keyNumInitFeatures, s.NumInitFeatures, maxChannels), within(keyInChannels, s.InChannels, maxChannels),
		within(keyBnSize, s.BnSize, maxBnSize), within(keyNumClasses, s.NumClasses, maxClasses),
	}
	for _, l := range append(slices.Clone(s.Layers), s.BlockConfig...) {
		errs = append(errs, within("blocks per stage", l, maxBlocks))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return s.check()
}

// check reports arguments that disagree.
func (s Spec) check() error {
	if s.Input != nil && s.Input[0] != s.InChannels {
		return fmt.Errorf("%s %v and %s %d disagree", keyInput, s.Input, keyInChannels, s.InChannels)
	}
	return nil
}

// Metadata returns the keys that describe the spec's model, under the names FromMetadata
// reads (every argument of its family, its defaults included).
func (s Spec) Metadata() map[string]string {
	s = s.withDefaults()
	m := map[string]string{
		keyFamily:     s.Family,
		keyNumClasses: strconv.Itoa(s.NumClasses),
		keyInChannels: strconv.Itoa(s.InChannels),
		keyInput:      fmt.Sprintf("%dx%dx%d", s.Input[0], s.Input[1], s.Input[2]),
	}
	if s.Dropout != nil {
		m[keyDropout] = strconv.FormatFloat(*s.Dropout, 'f', -1, 64)
	}
	switch s.Family {
	case "resnet":
		m[keyBlock], m[keyLayers], m[keyWidth] = s.Block, list(s.Layers), strconv.Itoa(s.Width)
		m[keyGroups], m[keyWidthPerGroup] = strconv.Itoa(s.Groups), strconv.Itoa(s.WidthPerGroup)
		m[keyDilation] = list(s.ReplaceStrideWithDilation)
		if s.NoResidual {
			m[keyResidual] = "False"
		}
		if s.StemBias {
			m[keyStemB] = "True"
		}
	case "mobilenet_v2", "mobilenet_v3_small":
		m[keyWidthMult] = strconv.FormatFloat(s.WidthMult, 'f', -1, 64)
	case "densenet":
		m[keyGrowthRate], m[keyBlockConfig] = strconv.Itoa(s.GrowthRate), list(s.BlockConfig)
		m[keyNumInitFeatures], m[keyBnSize] = strconv.Itoa(s.NumInitFeatures), strconv.Itoa(s.BnSize)
	}
	return m
}

// list writes a list as Python's json.dumps does: "[3, 4, 6, 3]".
func list[T any](v []T) string {
	parts := make([]string, len(v))
	for i, x := range v {
		b, _ := json.Marshal(x)
		parts[i] = string(b)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
