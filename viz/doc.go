// Package viz draws a declared network and its training curves.
//
// LayerDOT turns the layer records of graph.Net (the same records the summary and FLOPs
// tables read) into a Graphviz DOT graph: one box per layer with its type, settings, output
// shape, parameters and operation count, edges along the data flow, dashed shortcut edges
// where a residual connection skips layers, and one cluster per block. BlockDOT draws the same
// graph compactly for deep networks: each block one node, with its shapes, parameters and
// operations summed and its shortcut kept as a labelled dashed edge. OpsDOT draws every
// node of the Gorgonia expression graph instead, without ever embedding tensor values.
// Render writes a DOT text as is or through the Graphviz dot program as SVG, PNG or PDF.
//
// PlotCurves draws loss and accuracy curves side by side with gonum.org/v1/plot, one line
// per series, so that one run or several runs can be compared.
//
// Every file is written atomically: to a temporary file in the target's directory, synced,
// then renamed over the target, so a reader never sees half a file.
package viz
