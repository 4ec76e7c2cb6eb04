package zoo

import (
	"strings"
	"testing"
)

// TestFromMetadataRefuses checks that metadata a family does not take, or beyond the
// limits, is a one-line error naming the key.
func TestFromMetadataRefuses(t *testing.T) {
	for _, c := range []struct {
		meta map[string]string
		want string
	}{
		{map[string]string{}, "no family in the metadata"},
		{map[string]string{"family": "googlenet"}, `metadata family "googlenet": want one of alexnet, densenet,`},
		{map[string]string{"family": "densenet", "width": "8"}, "metadata width: not an argument of family densenet"},
		{map[string]string{"family": "resnet", "block": "basic", "layers": "[2, 2"}, `metadata layers "[2, 2": want a list`},
		{map[string]string{"family": "resnet", "block": "basic", "layers": "[2, 2, 2, 2]", "width": "1e9"}, `metadata width "1e9" is not a whole number`},
		{map[string]string{"family": "resnet", "block": "basic", "layers": "[2, 2, 2, 2]", "width": "100000"}, "width 100000: want at most 4096"},
		{map[string]string{"family": "resnet", "block": "basic", "layers": "[2, 2, 1000, 2]"}, "blocks per stage 1000: want at most 64"},
		{map[string]string{"family": "mobilenet_v2", "width_mult": "NaN"}, `metadata width_mult "NaN" is not a finite number`},
		{map[string]string{"family": "squeezenet1_1", "in_channels": "1", "input": "3x64x64"}, "input [3 64 64] and in_channels 1 disagree"},
		{map[string]string{"family": "lenet", "input": "1x32"}, `metadata input: "1x32": want CxHxW`},
	} {
		_, err := FromMetadata(c.meta)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", c.meta, err, c.want)
		}
	}
	// Arguments torchvision refuses are refused when the model is declared.
	for _, c := range []struct {
		meta map[string]string
		want string
	}{
		{map[string]string{"family": "resnet", "block": "basic", "layers": "[2, 2, 2, 2]", "groups": "2"}, "the basic block supports only groups 1"},
		{map[string]string{"family": "resnet", "block": "wide", "layers": "[2, 2, 2, 2]"}, `block "wide": want basic or bottleneck`},
		{map[string]string{"family": "resnet", "block": "bottleneck", "layers": "[2, 2, 2]"}, "want the blocks of 4 stages"},
		{map[string]string{"family": "densenet", "block_config": "[]"}, "block_config is empty"},
	} {
		s, err := FromMetadata(c.meta)
		if err == nil {
			_, err = s.Model()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.meta, err, c.want)
		}
	}
}
