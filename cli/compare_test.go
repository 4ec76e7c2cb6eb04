package cli

import (
	"strings"
	"testing"
)

func TestRunLabels(t *testing.T) {
	for _, tc := range []struct {
		dirs []string
		want string
	}{
		{[]string{"runs/plain", "runs/residual/"}, "plain residual"},
		{[]string{"a/lenet", "b/lenet", "c/resnet"}, "a/lenet b/lenet resnet"},
		{[]string{"lenet", "./lenet/", "x/lenet"}, "lenet lenet x/lenet"},
	} {
		if got := strings.Join(runLabels(tc.dirs), " "); got != tc.want {
			t.Errorf("runLabels(%q) = %q, want %q", tc.dirs, got, tc.want)
		}
	}
}
