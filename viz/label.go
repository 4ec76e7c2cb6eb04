package viz

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// countString names an operation count in its unit: "MACs 1,200", "FLOPs 2,500 (paddle)".
func countString(v int64, u graph.FLOPUnit) string {
	switch u {
	case graph.UnitMACs:
		return "MACs " + graph.Comma(v)
	case graph.UnitFLOPs:
		return "FLOPs " + graph.Comma(v)
	}
	return "FLOPs " + graph.Comma(v) + " (paddle)"
}

// quote returns s as a DOT double-quoted string. DOT escapes only the double quote; a
// backslash is doubled so that Graphviz shows it rather than reading an escape sequence.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}

// htmlEscape escapes s for the text of a Graphviz HTML-like label: the XML specials become
// entities, as does every non-ASCII rune, and control characters become spaces.
func htmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&#39;")
		case r < ' ' || r == 0x7f:
			b.WriteByte(' ')
		case r > 0x7e:
			fmt.Fprintf(&b, "&#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate shortens s to maxLabel runes.
func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxLabel {
		return s
	}
	return string([]rune(s)[:maxLabel-1]) + "…"
}

// htmlLines joins already escaped lines into an HTML-like label.
func htmlLines(lines ...string) string {
	return "<" + strings.Join(lines, "<BR/>") + ">"
}

// htmlTable is a layer's label: a title row (bold name and type) over one row per line.
func htmlTable(color, name, typ string, rows []string) string {
	var b strings.Builder
	b.WriteString(`<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">`)
	fmt.Fprintf(&b, `<TR><TD BGCOLOR="%s"><B>%s</B> %s</TD></TR>`, color, htmlEscape(truncate(name)), htmlEscape(truncate(typ)))
	for _, r := range rows {
		fmt.Fprintf(&b, `<TR><TD>%s</TD></TR>`, htmlEscape(r))
	}
	b.WriteString(`</TABLE>>`)
	return b.String()
}

// dtypeString names the element type of a node without Dtype's panic on a non-tensor type.
func dtypeString(n *gorgonia.Node) string {
	switch t := n.Type().(type) {
	case gorgonia.TensorType:
		return fmt.Sprint(t.Of)
	case tensor.Dtype:
		return t.String()
	case nil:
		return "?"
	default:
		return t.String()
	}
}

// shapeString writes a shape as "[1, 6, 28, 28]", a scalar as "[]".
func shapeString(s tensor.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
