package cli

import (
	"io"

	"github.com/nndl/cnn/chapter"
)

func init() {
	register("conv-demo", "the chapter's worked convolution and pooling examples (5.1-5.2)", cmdConvDemo)
}

func cmdConvDemo(args []string, stdout io.Writer) error {
	fs := newFlags("conv-demo", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	return chapter.WriteDemo(stdout)
}
